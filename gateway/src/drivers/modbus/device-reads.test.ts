import test from 'node:test';
import assert from 'node:assert/strict';
import { PointIndex, ReadPlan } from './device-reads.ts';
import { planReads } from './plan.ts';
import type { ModbusPointRef } from './types.ts';

const p = (id: string, address: number, type: ModbusPointRef['type'] = 'uint16'): ModbusPointRef => ({ id, table: 'holding', address, type, order: 'ABCD' });

test('the point index finds every id, misses absent ones, and takes the later point for an id given twice', () => {
  const points = [p('b', 1), p('a', 0), p('c', 2), p('a', 9), p('', 5), p('aa', 3)];
  const index = new PointIndex(points);
  assert.equal(index.of('b'), 0);
  assert.equal(index.of('a'), 3, 'later wins, as new Map(points.map(...)) did');
  assert.equal(index.of('c'), 2);
  assert.equal(index.of(''), 4);
  assert.equal(index.of('aa'), 5);
  for (const absent of ['A', 'ab', 'd', ' ', 'a ']) assert.equal(index.of(absent), -1, absent);
  assert.equal(new PointIndex([]).of('a'), -1);
});

test("a read plan holds the planner's blocks: same reads, same points in the same order, same offsets", () => {
  // Random maps: gaps, overlaps, 32-bit points, strings, all four tables, one-point reads.
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  const tables = ['holding', 'input', 'coil', 'discrete'] as const;
  for (let round = 0; round < 50; round++) {
    const points: ModbusPointRef[] = Array.from({ length: 1 + rnd(200) }, (_, i) => {
      const table = tables[rnd(4)]!;
      const bits = table === 'coil' || table === 'discrete';
      const type = bits ? 'bool' : (['uint16', 'float32', 'string', 'uint64'] as const)[rnd(4)]!;
      return { ...p(`p${i}`, rnd(round % 2 ? 600 : 60_000), type), table, ...(type === 'string' ? { length: 1 + rnd(10) } : {}) };
    });
    const blocks = planReads(points, { maxGap: rnd(20), maxRegisters: 125, maxBits: 2000 });
    const plan = new ReadPlan(blocks, (ref) => points.indexOf(ref));
    assert.equal(plan.length, blocks.length);
    blocks.forEach((b, r) => {
      assert.deepEqual(plan.span(r), { table: b.table, address: b.address, count: b.count });
      assert.deepEqual([plan.table(r), plan.address(r), plan.count(r)], [b.table, b.address, b.count]);
      assert.deepEqual(plan.pointsOf(r).map((i) => points[i]), b.points.map((x) => x.point));
      const offsets = [];
      for (let k = plan.start(r); k < plan.end(r); k++) offsets.push(plan.offset(k));
      assert.deepEqual(offsets, b.points.map((x) => x.offset));
      if (r > 0) assert.equal(plan.start(r), plan.end(r - 1), 'the slots of consecutive reads follow each other');
    });
  }
});

test('a read plan keeps the top of the address space and refuses a read its 16-bit columns would cut', () => {
  const top = p('top', 65_535);
  const plan = new ReadPlan([{ table: 'holding', address: 65_535, count: 1, points: [{ point: top, offset: 0 }] }], () => 0);
  assert.deepEqual(plan.span(0), { table: 'holding', address: 65_535, count: 1 });
  assert.deepEqual(new ReadPlan([], () => 0).length, 0);
  assert.throws(() => new ReadPlan([{ table: 'coil', address: 0, count: 65_536, points: [{ point: top, offset: 0 }] }], () => 0), /coil 0\+65536 does not fit the 16-bit address space/);
});
