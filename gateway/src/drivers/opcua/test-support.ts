/** Helpers for the OPC UA driver's tests: configs through the real schema, sample collection. */
import type { Sample } from '../driver.ts';
import { opcuaDeviceSchema, type OpcuaDeviceConfig } from './schema.ts';

/** An opcua device config with the schema's defaults applied, as the gateway would get it. */
export function opcuaDevice(device: Record<string, unknown>): OpcuaDeviceConfig {
  return opcuaDeviceSchema.parse({ id: 'station', driver: 'opcua', backoff: { minMs: 200, maxMs: 1000 }, ...device });
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
