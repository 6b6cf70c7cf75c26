import test from 'node:test';
import assert from 'node:assert/strict';
import { startPymodbus } from '@kedge/testkit/pymodbus.ts';
import { parseConfig } from '../../config/load.ts';
import type { ModbusTcpDeviceConfig } from '../modbus-tcp/schema.ts';
import { toModbusPointRef } from './schema.ts';
import { testReadModbusTcp } from '../modbus-tcp/index.ts';
import { encodeRegisters } from './decode.ts';

/** The SDM630 profile as the gateway would poll it (addressBase 1, as its manual numbers registers). */
function sdm630(port: number): ModbusTcpDeviceConfig {
  return parseConfig(
    JSON.stringify({
      gateway: { id: 'gw-test', region: 'kuzbass', municipality: 'kemerovo' },
      uplink: { url: 'mqtt://127.0.0.1:1' },
      devices: [{ id: 'energy', driver: 'modbus-tcp', host: '127.0.0.1', port, profile: 'sdm630', timeoutMs: 2000 }],
    }),
  ).devices[0] as ModbusTcpDeviceConfig;
}

test('test read of a profile on a meter lacking one register: only that point fails, named in the manual numbering; the rest read', async (t) => {
  // First a device config to learn the map, then a meter (Debian pymodbus, sparse) that has every register but one point's.
  const map = sdm630(1);
  const missing = map.points.find((p) => p.id === 'power_l2')!;
  const input: Record<number, number> = {};
  const expected = new Map<string, number>();
  map.points.forEach((p, i) => {
    if (p.id === missing.id || p.table !== 'input' || p.type !== 'float32') return;
    const ref = toModbusPointRef(map, p);
    const value = 100 + i;
    encodeRegisters(ref, value).forEach((w, k) => (input[ref.address + k] = w as number));
    expected.set(p.id, value);
  });
  assert.ok(expected.size >= 20, 'the profile is mostly float32 input registers');
  const server = await startPymodbus({ image: { input, sparse: true } });
  t.after(() => server.stop());

  const results = await testReadModbusTcp(sdm630(server.port));
  const byId = new Map(results.map((r) => [r.point, r]));
  const failed = results.filter((r) => r.quality !== 'good' && expected.has(r.point));
  assert.deepEqual(failed, [], 'no point with registers failed');
  for (const [id, value] of expected) assert.equal(byId.get(id)!.value, value, id);
  const ghost = byId.get('power_l2')!;
  assert.equal(ghost.quality, 'bad_device_error');
  const at = missing.address; // the manual's register number within the input table
  assert.equal(ghost.where, `input ${at}..${at + 1} (protocol ${at - 1}..${at})`);
  assert.equal(ghost.error, `Modbus exception 2 (illegal data address) reading input ${at}..${at + 1} (protocol ${at - 1}..${at})`);
  assert.equal(byId.get('voltage_l1')!.where, 'input 1..2 (protocol 0..1)');
});
