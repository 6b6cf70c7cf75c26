import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadProfile } from '@kedge/device-profiles/load.ts';
import { README, readmeWithMap } from './register-map-doc.ts';
import { REGISTER_MAP, STATUS_BITS, wordCount } from './register-map.ts';

test('register map: ids are unique and no two registers overlap', () => {
  assert.equal(new Set(REGISTER_MAP.map((d) => d.id)).size, REGISTER_MAP.length);
  const used = new Map<string, string>();
  for (const d of REGISTER_MAP) {
    for (let a = d.address; a < d.address + wordCount(d.type); a++) {
      const key = `${d.table}/${a}`;
      assert.equal(used.get(key), undefined, `${d.id} overlaps ${used.get(key)} at ${key}`);
      used.set(key, d.id);
    }
  }
});

test('register map: exactly the holding registers are writable, each with a valid range', () => {
  for (const d of REGISTER_MAP) {
    assert.equal(d.writable, d.table === 'holding', d.id);
    if (d.writable) assert.ok(d.range && d.range.min < d.range.max, `${d.id} needs a range`);
  }
  assert.deepEqual(STATUS_BITS.map((b) => b.bit), STATUS_BITS.map((_, i) => i));
});

test('the README register tables are the ones generated from register-map.ts', () => {
  const readme = readFileSync(README, 'utf8');
  assert.equal(readme, readmeWithMap(readme), 'run: node --import tsx firmware-ts/src/register-map-doc.ts');
});

test('the device profile kedge-sensor-node lists every register of the map with its address, type, order and writability', () => {
  const profile = loadProfile('kedge-sensor-node');
  assert.equal(profile.protocol.addressBase, 0);
  const shape = (p: { id: string; table: string; address: number; type: string; writable: boolean; order: string }) =>
    `${p.id} ${p.table} ${p.address} ${p.type} ${p.order} ${p.writable ? 'rw' : 'ro'}`;
  const fromProfile = profile.points
    .filter((p) => p.type !== 'bit')
    .map((p) => shape({ ...p, order: p.order ?? profile.protocol.order }))
    .sort();
  const fromMap = REGISTER_MAP.map(shape).sort();
  assert.deepEqual(fromProfile, fromMap);

  // Status bits, if the profile spells them out, must sit at the bits the firmware sets.
  const status = REGISTER_MAP.find((d) => d.id === 'status')!;
  for (const p of profile.points.filter((q) => q.type === 'bit')) {
    const bit = STATUS_BITS.find((b) => b.id === p.id);
    assert.ok(bit, `profile bit point ${p.id} is not a status bit of the firmware`);
    assert.deepEqual([p.table, p.address, p.bit], [status.table, status.address, bit.bit], p.id);
  }
});
