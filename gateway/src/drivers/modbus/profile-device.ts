/**
 * A new Modbus device from a profile (device-profiles), for the add-device form: the unit,
 * numbering and block limits the profile gives, every point spelled out in the profile's
 * numbering, and the link fields the engineer still has to fill in.
 */
import { POLL_CLASS_MS, type Profile, type ProfilePoint } from '@kedge/device-profiles/schema.ts';

type Obj = Record<string, unknown>;

/**
 * What `profile:` expands to on a Modbus device (config/profiles.ts, DriverDefinition.profilePoints):
 * each profile point in the device's address numbering, and a config point of the same id over it
 * field by field.
 */
export const modbusProfilePoints = {
  point(p: ProfilePoint, profile: Profile, device: Obj): Obj {
    const addressBase = typeof device['addressBase'] === 'number' ? device['addressBase'] : 0;
    const out: Obj = {
      id: p.id,
      name: p.name.en,
      table: p.table,
      address: p.address - profile.protocol.addressBase + addressBase,
      type: p.type,
      order: p.order ?? profile.protocol.order,
    };
    if (p.bit !== undefined) out['bit'] = p.bit;
    if (p.length !== undefined) out['length'] = p.length;
    if (p.scale !== undefined) out['scale'] = p.scale;
    if (p.offset !== undefined) out['offset'] = p.offset;
    if (p.unit !== undefined) out['unit'] = p.unit;
    if (p.writable) out['writable'] = true;
    // `fast` follows the device's intervalMs.
    if (p.pollClass !== 'fast') out['intervalMs'] = POLL_CLASS_MS[p.pollClass];
    return out;
  },
  override(base: Obj, config: Obj): Obj {
    const out = { ...base, ...config };
    // A new type invalidates the profile's bit/length unless the override restates them.
    if (config['type'] !== undefined && config['type'] !== base['type']) {
      if (config['bit'] === undefined) delete out['bit'];
      if (config['length'] === undefined) delete out['length'];
    }
    return out;
  },
};

export function modbusDeviceFromProfile(profile: Profile, lang: 'ru' | 'en', link: Record<string, unknown>): Record<string, unknown> {
  const proto = profile.protocol;
  return {
    ...link,
    unitId: proto.unitId ?? 1,
    addressBase: proto.addressBase,
    ...(proto.maxRegisters !== undefined ? { maxRegisters: proto.maxRegisters } : {}),
    ...(proto.maxGap !== undefined ? { maxGap: proto.maxGap } : {}),
    points: profile.points.map((p) => ({
      id: p.id,
      name: p.name[lang],
      table: p.table,
      address: p.address,
      type: p.type,
      ...(p.type !== 'bool' && p.type !== 'bit' ? { order: p.order ?? proto.order } : {}),
      ...(p.bit !== undefined ? { bit: p.bit } : {}),
      ...(p.length !== undefined ? { length: p.length } : {}),
      ...(p.scale !== undefined ? { scale: p.scale } : {}),
      ...(p.offset !== undefined ? { offset: p.offset } : {}),
      ...(p.unit !== undefined ? { unit: p.unit } : {}),
      ...(p.pollClass !== 'fast' ? { intervalMs: POLL_CLASS_MS[p.pollClass] } : {}),
      ...(p.writable ? { writable: true } : {}),
    })),
  };
}
