/**
 * A new Modbus device from a profile (device-profiles), for the add-device form: the unit,
 * numbering and block limits the profile gives, every point spelled out in the profile's
 * numbering, and the link fields the engineer still has to fill in.
 */
import { POLL_CLASS_MS, type Profile } from '@kedge/device-profiles/schema.ts';

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
