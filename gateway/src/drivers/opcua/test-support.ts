/** Helpers for the OPC UA driver's tests: configs through the real schema, sample collection. */
import { gatewayConfigSchema, type OpcuaDeviceConfig } from '../../config/schema.ts';
import type { Sample } from '../driver.ts';

/** An opcua device config with the schema's defaults applied, as the gateway would get it. */
export function opcuaDevice(device: Record<string, unknown>): OpcuaDeviceConfig {
  const cfg = gatewayConfigSchema.parse({
    gateway: { id: 'gw-test', region: 'kuzbass', municipality: 'kemerovo' },
    uplink: { url: 'mqtt://127.0.0.1:1' },
    devices: [{ id: 'station', driver: 'opcua', backoff: { minMs: 200, maxMs: 1000 }, ...device }],
  });
  return cfg.devices[0] as OpcuaDeviceConfig;
}

export class SampleLog {
  readonly all: Sample[] = [];
  readonly sink = (samples: Sample[]): void => {
    this.all.push(...samples);
  };
  of(point: string): Sample[] {
    return this.all.filter((s) => s.point === point);
  }
  last(point: string): Sample | undefined {
    return this.of(point).at(-1);
  }
  values(point: string): unknown[] {
    return this.of(point).map((s) => s.value);
  }
}
