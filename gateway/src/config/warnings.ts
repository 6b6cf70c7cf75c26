/**
 * Configs that are valid but probably wrong: the daemon runs them (a warning never refuses a
 * file), and `--check`, the start-up log and the web UI say what looks off and why, so the
 * engineer fixes the map before a wrong register is logged for months. Each driver checks its
 * own devices (drivers/modbus/warnings.ts for Modbus TCP and RTU):
 *
 * - Two register points whose registers overlap (a float32 at 101 and another at 102):
 *   one address is almost always a typo. Bit points share their register by design.
 * - An address that looks like Modicon notation (40001 = holding register 1, 30001 = input
 *   register 1, 10001 = discrete input 1): kedge takes addresses as numbers inside their table
 *   and does not strip the prefix, so 40001 reads register 40001 (protocol 40000 with
 *   addressBase 1). The warning says what to write instead.
 * - A point of a profile device outside the registers its profile documents: the profile's
 *   register map ends there, the device most likely has nothing at that address.
 */
import { LEGACY_UPLINK_NOTE, type GatewayConfig } from './schema.ts';
import type { ProfileOrigin } from './profiles.ts';
import { driverDefinition } from '../drivers/registry.ts';

export interface ConfigWarning {
  /** Path segments of the field, e.g. ['devices', 0, 'points', 2, 'address']. */
  segments: Array<string | number>;
  message: string;
  /** A stable name of the kind of warning (Modbus: modicon_address, points_overlap, beyond_profile, beyond_profile_table), and its variable parts: the web UI translates by them. */
  code: string;
  params: Record<string, string | number>;
}

/** Every device's warnings, by its driver's own checks (drivers/<driver>/index.ts `warnings`). */
export function configWarnings(config: GatewayConfig, origins: ReadonlyMap<number, ProfileOrigin> = new Map()): ConfigWarning[] {
  // The deprecated single `uplink:` still works; the note says how to write it as a list.
  const legacy: ConfigWarning[] = config.legacyUplinkKey ? [{ segments: ['uplink'], message: LEGACY_UPLINK_NOTE, code: 'legacy_uplink', params: {} }] : [];
  return [
    ...legacy,
    ...config.devices.flatMap((d, di) =>
      (driverDefinition(d.driver)?.warnings?.(d, origins.get(di)) ?? []).map((w) => ({ ...w, segments: ['devices', di, ...w.segments] })),
    ),
  ];
}

