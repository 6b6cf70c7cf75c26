/** The firmware's register map and its device profile (device-profiles/profiles/kedge-sensor-node.yaml) say the same. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadProfile, PROFILES_DIR } from '@kedge/device-profiles/load.ts';
import { normalizeUnit } from '@kedge/device-profiles/units.ts';
import { REGISTER_MAP } from './register-map.ts';

test("the kedge-sensor-node profile matches firmware-ts's published register map", () => {
  const profile = loadProfile('kedge-sensor-node');
  const fromProfile = profile.points.map((p) => ({
    id: p.id,
    table: p.table,
    address: p.address - profile.protocol.addressBase,
    type: p.type,
    order: p.order ?? profile.protocol.order,
    unit: p.unit ?? null,
    writable: p.writable,
  }));
  const fromFirmware = REGISTER_MAP.map((d) => {
    const unit = d.unit === undefined ? null : d.unit === 'counts' ? '{counts}' : normalizeUnit(d.unit);
    return {
      id: d.id,
      table: d.table,
      address: d.address,
      type: d.type,
      order: d.order,
      unit: unit === null || typeof unit === 'string' ? unit : unit.ok ? unit.code : `invalid ${d.unit}`,
      writable: d.writable,
    };
  });
  assert.deepEqual(fromProfile, fromFirmware);
  assert.equal(join(PROFILES_DIR, 'kedge-sensor-node.yaml').endsWith('profiles/kedge-sensor-node.yaml'), true);
});
