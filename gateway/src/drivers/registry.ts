import type { z } from 'zod';
import type { DriverContext, DriverDefinition } from './definition.ts';
import type { DeviceDriver } from './driver.ts';
import { modbusRtu } from './modbus-rtu/index.ts';
import { modbusTcp } from './modbus-tcp/index.ts';
import { opcua } from './opcua/index.ts';
import { driverContext } from '../driver-context.ts';

export type { BaseDevice, DriverContext, DriverDefinition } from './definition.ts';
export { weakerSecurity } from './opcua/security-rank.ts';

/**
 * Every southbound driver, one line each: the config's device union (config/schema.ts), the
 * UI's driver list and device forms, the address line of the devices page and the test read are
 * built from this list. A new driver is its folder (schema, definition, form, README, tests)
 * plus one line here.
 */
export const DRIVERS = [modbusTcp, modbusRtu, opcua] as const;

/** A device of any driver, after defaults. */
export type DeviceConfig = z.output<(typeof DRIVERS)[number]['schema']>;

/** The `driver:` values the config accepts, in registry order. */
export const DEVICE_DRIVERS = DRIVERS.map((d) => d.kind) as KindsOf<typeof DRIVERS>;

/** The schemas of a definitions tuple, as a tuple (what `z.discriminatedUnion` takes). */
export type SchemasOf<T extends readonly unknown[]> = { -readonly [I in keyof T]: T[I] extends DriverDefinition<infer S> ? S : never };
type KindsOf<T extends readonly unknown[]> = { -readonly [I in keyof T]: T[I] extends { kind: infer K } ? K : never };

/** The definition of `kind`, typed loosely: its methods take any device (check `kind` first). */
export function driverDefinition(kind: string): DriverDefinition | undefined {
  return (DRIVERS as readonly DriverDefinition[]).find((d) => d.kind === kind);
}

/** The one place that knows which folder implements which `driver:` of the config. */
export function createDriver(device: DeviceConfig, ctx: DriverContext = driverContext({ dataDir: './data' })): DeviceDriver {
  const def = driverDefinition(device.driver);
  if (!def) throw new Error(`no driver "${device.driver}" in drivers/registry.ts`);
  return def.create(device, ctx);
}
