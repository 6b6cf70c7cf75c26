import type { z } from 'zod';
import type { CredentialBinding, DriverContext, DriverDefinition } from './definition.ts';
import type { DeviceDriver } from './driver.ts';
import { modbusRtu } from './modbus-rtu/index.ts';
import { modbusTcp } from './modbus-tcp/index.ts';
import { opcua } from './opcua/index.ts';

export type { BaseDevice, CredentialBinding, CredentialField, DriverContext, DriverDefinition } from './definition.ts';

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
export function driverDefinition(kind: string, drivers: readonly DriverDefinition[] = DRIVERS): DriverDefinition | undefined {
  return drivers.find((d) => d.kind === kind);
}

/**
 * The one place that knows which folder implements which `driver:` of the config. Async: a
 * driver's implementation may be loaded only now (OPC UA's node-opcua), so a config without
 * such a device never loads it. Rejects when the driver is unknown or cannot load.
 */
export async function createDriver(device: DeviceConfig, ctx: DriverContext, drivers: readonly DriverDefinition[] = DRIVERS): Promise<DeviceDriver> {
  const def = driverDefinition(device.driver, drivers);
  if (!def) throw new Error(`no driver "${device.driver}" in drivers/registry.ts`);
  return def.create(device, ctx);
}

/** Where a device's credentials go and which fields hold them (DriverDefinition.credentialBinding); undefined: it has none. */
export function credentialBindingOf(device: { driver: string }, drivers: readonly DriverDefinition[] = DRIVERS): CredentialBinding | undefined {
  return driverDefinition(device.driver, drivers)?.credentialBinding?.(device as never);
}

/** Whether the device's driver logs its own session events (DriverDefinition.logsOwnSession). */
export function logsOwnSession(device: { driver: string }, drivers: readonly DriverDefinition[] = DRIVERS): boolean {
  return driverDefinition(device.driver, drivers)?.logsOwnSession === true;
}
