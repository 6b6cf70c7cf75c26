import type { Logger } from 'pino';
import type { DeviceConfig } from '../config/schema.ts';
import type { DeviceDriver } from './driver.ts';
import { createModbusRtuDriver } from './modbus-rtu/index.ts';
import { createModbusTcpDriver } from './modbus-tcp/index.ts';
import { createOpcuaDriver } from './opcua/index.ts';

/** What drivers may need from the gateway besides their device's config. */
export interface DriverContext {
  /** The gateway's data folder: OPC UA keeps its PKI (certificates) in `<dataDir>/pki/opcua`. */
  dataDir: string;
  logger?: Logger;
}

/** The one place that knows which folder implements which `driver:` of the config. */
export function createDriver(device: DeviceConfig, ctx: DriverContext = { dataDir: './data' }): DeviceDriver {
  switch (device.driver) {
    case 'modbus-tcp':
      return createModbusTcpDriver(device);
    case 'modbus-rtu':
      return createModbusRtuDriver(device);
    case 'opcua':
      return createOpcuaDriver(device, { dataDir: ctx.dataDir, logger: ctx.logger?.child({ driver: 'opcua', device: device.id }) });
  }
}
