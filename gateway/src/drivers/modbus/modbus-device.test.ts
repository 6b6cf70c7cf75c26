import test from 'node:test';
import assert from 'node:assert/strict';
import { ModbusDevice } from './modbus-device.ts';
import type { ModbusTransport } from './transport.ts';
import type { ModbusPointRef, ModbusTable } from './types.ts';

/** A unit with a register image: a read touching an address it lacks answers exception 02, like real meters. */
class ImageUnit implements ModbusTransport {
  readonly reads: string[] = [];
  silent = false;
  constructor(private readonly holding: Map<number, number>) {}

  async read(_unit: number, table: ModbusTable, address: number, count: number): Promise<number[]> {
    this.reads.push(`${table} ${address}+${count}`);
    if (this.silent) throw Object.assign(new Error('Timed out'), { name: 'TransactionTimedOutError' });
    const out: number[] = [];
    for (let a = address; a < address + count; a++) {
      const v = this.holding.get(a);
      if (v === undefined) throw Object.assign(new Error('Modbus exception 2'), { modbusCode: 2 });
      out.push(v);
    }
    return out;
  }
  async reset(): Promise<void> {}
  async close(): Promise<void> {}
}

const p = (id: string, address: number, extra: Partial<ModbusPointRef> = {}): ModbusPointRef => ({
  id,
  table: 'holding',
  address,
  type: 'uint16',
  order: 'ABCD',
  ...extra,
});

function device(unit: ImageUnit, points: ModbusPointRef[], addressBase: 0 | 1 = 0): ModbusDevice {
  return new ModbusDevice({
    deviceId: 'meter',
    unitId: 1,
    timeoutMs: 100,
    points,
    plan: { maxGap: 10, maxRegisters: 125, maxBits: 2000 },
    transport: unit,
    release: async () => {},
    addressBase,
  });
}

const values = (r: { samples: Array<{ point: string; value: unknown; quality: string }> }) =>
  Object.fromEntries(r.samples.map((s) => [s.point, s.quality === 'good' ? s.value : s.quality]));

test('a coalesced read refused with exception 02 is split once: the good points get values this poll, the refused one is named', async () => {
  // Registers 100..104 exist except 102, which a wrong point asks for (addressBase 1: the manual says 101..105).
  const unit = new ImageUnit(new Map([[100, 1], [101, 2], [103, 4], [104, 5]]));
  const dev = device(unit, [p('a', 100), p('b', 101), p('wrong', 102), p('d', 103), p('e', 104)], 1);
  const ids = ['a', 'b', 'wrong', 'd', 'e'];

  const first = await dev.poll(ids);
  assert.deepEqual(values(first), { a: 1, b: 2, wrong: 'bad_device_error', d: 4, e: 5 });
  assert.equal(first.failed, false, 'the unit answered: no device backoff');
  assert.deepEqual(first.blockErrors, ['Modbus exception 2 (illegal data address) reading holding 103 (protocol 102)']);
  assert.equal(first.findings?.length, 1);
  assert.match(first.findings![0]!, /^holding 101\.\.105 \(protocol 100\.\.104\) answered Modbus exception 2 \(illegal data address\); read point by point, 1 of 5 points are refused: "wrong" at holding 103 \(protocol 102\)/);
  assert.equal(first.requests, 6, 'one refused read and five single reads');

  // From now on: the good points in reads that avoid 102, the refused one alone, no new finding.
  unit.reads.length = 0;
  const second = await dev.poll(ids);
  assert.deepEqual(values(second), values(first));
  assert.deepEqual(unit.reads, ['holding 100+2', 'holding 103+2', 'holding 102+1']);
  assert.equal(second.findings, undefined);
  assert.equal(second.failed, false);
});

test('refused registers in a gap between points: every point answers alone, and the gap is no longer read through', async () => {
  const unit = new ImageUnit(new Map([[0, 7], [5, 9]]));
  const dev = device(unit, [p('x', 0), p('y', 5)]);
  const r = await dev.poll(['x', 'y']);
  assert.deepEqual(values(r), { x: 7, y: 9 });
  assert.equal(r.blockErrors, undefined);
  assert.match(r.findings![0]!, /all 2 points answer: the unit refuses registers in the gaps between them/);
  unit.reads.length = 0;
  await dev.poll(['x', 'y']);
  assert.deepEqual(unit.reads, ['holding 0+1', 'holding 5+1']);
});

test('a device refusing every read is failed (device-level), and one going silent during the split learns nothing', async () => {
  const none = new ImageUnit(new Map());
  const all = await device(none, [p('a', 0), p('b', 1)]).poll(['a', 'b']);
  assert.equal(all.failed, true);
  assert.match(all.error!, /exception 2/);

  const unit = new ImageUnit(new Map([[0, 1], [2, 3]]));
  const dev = device(unit, [p('a', 0), p('b', 1), p('c', 2)]);
  const realRead = unit.read.bind(unit);
  let n = 0;
  unit.read = async (...args) => {
    if (++n === 3) unit.silent = true; // the unit dies after the refused read and one single read
    return realRead(...args);
  };
  const r = await dev.poll(['a', 'b', 'c']);
  assert.equal(r.failed, true);
  assert.deepEqual(values(r), { a: 1, b: 'bad_no_response', c: 'bad_no_response' });
  assert.equal(r.findings, undefined);
  assert.equal(r.requests, 3, 'no request after the unit fell silent');
  // Back again: the split is retried, since nothing was learnt.
  unit.silent = false;
  unit.read = realRead;
  const again = await dev.poll(['a', 'b', 'c']);
  assert.deepEqual(values(again), { a: 1, b: 'bad_device_error', c: 3 });
  assert.equal(again.findings?.length, 1);
});

test('points that answer alone but not in one read, even without a gap (register groups), end up read alone, never bad', async () => {
  // Every register exists, but a read must not cross from 101 to 102 (two register groups of the unit).
  const unit = new ImageUnit(new Map(Array.from({ length: 20 }, (_, i) => [100 + i, 100 + i] as [number, number])));
  const crossing = unit.read.bind(unit);
  unit.read = async (u, table, address, count) => {
    if (address <= 101 && address + count > 102) {
      unit.reads.push(`${table} ${address}+${count}`);
      throw Object.assign(new Error('Modbus exception 2'), { modbusCode: 2 });
    }
    return crossing(u, table, address, count);
  };
  const dev = device(unit, [p('a', 101), p('b', 102), p('c', 110)]);
  const findings: string[] = [];
  const POLLS = 6;
  for (let i = 0; i < POLLS; i++) {
    const r = await dev.poll(['a', 'b', 'c']);
    assert.deepEqual(values(r), { a: 101, b: 102, c: 110 }, `poll ${i + 1}`);
    assert.equal(r.failed, false);
    findings.push(...(r.findings ?? []));
  }
  assert.match(findings.at(-1)!, /holding 101\.\.102 .*all 2 points answer alone but not in one read/);
  unit.reads.length = 0;
  await dev.poll(['a', 'b', 'c']);
  assert.deepEqual(unit.reads, ['holding 110+1', 'holding 101+1', 'holding 102+1'], 'no refused read left, one request per point served alone');
});

test('a poll of only a register the unit lacks (its own interval group) is no device failure; a unit refusing everything stays failed', async () => {
  const unit = new ImageUnit(new Map([[1, 10], [2, 20]]));
  const dev = device(unit, [p('a', 1), p('b', 2), p('ghost', 15)]);
  assert.equal((await dev.poll(['a', 'b', 'ghost'])).failed, false);
  const alone = await dev.poll(['ghost']);
  assert.equal(alone.failed, false, 'the unit answered the other points: 15 is a fact about the map');
  assert.equal(alone.error, undefined);
  assert.deepEqual(values(alone), { ghost: 'bad_device_error' });
  assert.deepEqual(alone.blockErrors, ['Modbus exception 2 (illegal data address) reading holding 15']);

  // Never seen answering: every poll of it fails, so the device backs off.
  const none = device(new ImageUnit(new Map()), [p('a', 1), p('ghost', 15)]);
  for (const ids of [['a', 'ghost'], ['ghost'], ['a', 'ghost']]) assert.equal((await none.poll(ids)).failed, true, ids.join(','));
});

test('points are found by id in any config order; an id given twice reads the later point; an unknown id is refused', async () => {
  const unit = new ImageUnit(new Map(Array.from({ length: 40 }, (_, a) => [a, 1000 + a])));
  // Ids out of order and interleaved with their addresses: the lookup must not depend on either.
  const dev = device(unit, [p('z', 3), p('a', 30), p('m', 7), p('dup', 1), p('b', 12), p('dup', 20)]);
  assert.deepEqual(values(await dev.poll(['a', 'b', 'm', 'z', 'dup'])), { z: 1003, m: 1007, b: 1012, dup: 1020, a: 1030 });
  await assert.rejects(dev.poll(['a', 'nope']), /device meter has no point "nope"/);
  await assert.rejects(dev.write('nope', 1), (err: Error & { code?: string }) => err.code === 'not_found' && /has no point "nope"/.test(err.message));
});
