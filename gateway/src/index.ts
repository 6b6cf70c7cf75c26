export { Gateway, VERSION, type GatewayStatus } from './gateway.ts';
export { loadConfigFile, parseConfig, ConfigError } from './config/load.ts';
export type { GatewayConfig, DeviceConfig, PointConfig } from './config/schema.ts';
export { ReadingLog } from './log/reading-log.ts';
