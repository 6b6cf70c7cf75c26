import { defaultMeters, type SimMeter } from './meters.ts';

export interface SimConfigOptions {
  gatewayId: string;
  simPort: number;
  brokerUrl: string;
  dataDir: string;
  intervalMs?: number;
  /** Per-request device timeout; default the driver's own. */
  timeoutMs?: number;
  meters?: SimMeter[];
  log?: Record<string, unknown>;
  uplink?: Record<string, unknown>;
  /** The web UI is off unless asked for: test daemons must not bind 0.0.0.0:8080. */
  web?: Record<string, unknown>;
}

/**
 * A gateway config (as the YAML file would hold it) that polls every point of the simulated
 * meters, every poll logged: what the end-to-end tests and benchmarks run the daemon on.
 */
export function simGatewayConfig(o: SimConfigOptions): Record<string, unknown> {
  const meters = o.meters ?? defaultMeters();
  return {
    gateway: { id: o.gatewayId, region: 'kuzbass', municipality: 'kemerovo' },
    dataDir: o.dataDir,
    log: { flushMs: 50, synchronous: 'normal', ...o.log },
    uplink: { url: o.brokerUrl, batchMaxReadings: 200, batchMaxDelayMs: 100, reconnectMinMs: 200, reconnectMaxMs: 1000, ...o.uplink },
    web: o.web ?? { enabled: false },
    devices: meters.map((m) => ({
      id: m.name.replace(/[^a-z0-9]+/g, '-'),
      driver: 'modbus-tcp',
      host: '127.0.0.1',
      port: o.simPort,
      unitId: m.unitId,
      intervalMs: o.intervalMs ?? 200,
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      points: m.points.map((p) => ({
        id: p.id,
        table: p.table,
        address: p.address,
        type: p.type,
        order: p.order,
        ...(p.bit !== undefined ? { bit: p.bit } : {}),
        ...(p.length !== undefined ? { length: p.length } : {}),
        deadband: 0,
      })),
    })),
  };
}
