import test from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { registerCount } from './decode.ts';
import { minimumRequests, planReads, requestCount } from './plan.ts';
import {
  DEFAULT_PLAN_OPTIONS,
  MODBUS_TABLES,
  type ModbusPointRef,
  type PlanOptions,
  type ReadBlock,
} from './types.ts';

/**
 * Case files in testcases/plan/*.json: `expected` lists the reads (point ids in block order),
 * or `error` holds a substring of the expected error message. `minimumRequests` is optional.
 */
interface PlanCase {
  file: string;
  name: string;
  options: Partial<PlanOptions>;
  points: ModbusPointRef[];
  expected?: Array<{ table: string; address: number; count: number; points: string[] }>;
  error?: string;
  minimumRequests?: number;
}

const CASE_DIR = new URL('./testcases/plan/', import.meta.url);

function loadCases(): PlanCase[] {
  return readdirSync(CASE_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const c = JSON.parse(readFileSync(new URL(file, CASE_DIR), 'utf8')) as Omit<PlanCase, 'file'>;
      assert.equal(typeof c.name, 'string', `${file}: name`);
      assert.ok(Array.isArray(c.points), `${file}: points`);
      assert.ok((c.expected === undefined) !== (c.error === undefined), `${file}: exactly one of expected / error`);
      return { ...c, file, options: c.options ?? {} };
    });
}

/** Invariants every plan must hold, whatever the case expects. */
function checkPlan(points: readonly ModbusPointRef[], blocks: ReadBlock[], opts: Partial<PlanOptions>): void {
  const o = { ...DEFAULT_PLAN_OPTIONS, ...opts };
  const served = new Map<ModbusPointRef, number>();
  let prev: ReadBlock | undefined;
  for (const block of blocks) {
    const bits = block.table === 'coil' || block.table === 'discrete';
    assert.ok(block.count >= 1 && block.count <= (bits ? o.maxBits : o.maxRegisters), `block count ${block.count}`);
    if (prev !== undefined) {
      const order = MODBUS_TABLES.indexOf(prev.table) - MODBUS_TABLES.indexOf(block.table);
      assert.ok(order < 0 || (order === 0 && prev.address < block.address), 'blocks ordered by table then address');
    }
    prev = block;
    for (const { point, offset } of block.points) {
      assert.equal(point.table, block.table, `${point.id}: table`);
      assert.equal(offset, point.address - block.address, `${point.id}: offset`);
      assert.ok(offset >= 0 && offset + registerCount(point) <= block.count, `${point.id}: inside its block`);
      served.set(point, (served.get(point) ?? 0) + 1);
    }
  }
  for (const p of points) assert.equal(served.get(p), 1, `${p.id} is served by exactly one read`);
  assert.equal(served.size, points.length);
}

for (const c of loadCases()) {
  test(`plan ${c.file} › ${c.name}`, () => {
    if (c.error !== undefined) {
      const fragment = c.error;
      for (const run of [planReads, requestCount, minimumRequests]) {
        assert.throws(() => run(c.points, c.options), (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.ok(err.message.includes(fragment), `"${err.message}" should contain "${fragment}"`);
          return true;
        });
      }
      return;
    }
    const before = [...c.points];
    const blocks = planReads(c.points, c.options);
    assert.deepEqual(c.points, before, 'input is not reordered');
    assert.deepEqual(
      blocks.map((b) => ({ table: b.table, address: b.address, count: b.count, points: b.points.map((x) => x.point.id) })),
      c.expected,
    );
    checkPlan(c.points, blocks, c.options);
    const reversed = planReads([...c.points].reverse(), c.options);
    assert.deepEqual(reversed, blocks, 'plan does not depend on input order');
    assert.equal(requestCount(c.points, c.options), blocks.length);
    const min = minimumRequests(c.points, c.options);
    assert.ok(min <= blocks.length);
    if (c.minimumRequests !== undefined) assert.equal(min, c.minimumRequests);
  });
}

test('default options follow the Modbus spec limits', () => {
  const reg = (id: string, address: number): ModbusPointRef => ({ id, table: 'holding', address, type: 'uint16', order: 'ABCD' });
  // default maxGap is 10: 10 unused registers are read through, 11 are not.
  assert.equal(requestCount([reg('a', 0), reg('b', 11)]), 1);
  assert.equal(requestCount([reg('a', 0), reg('b', 12)]), 2);
  assert.equal(minimumRequests([reg('a', 0), reg('b', 12)]), 1);
  assert.equal(minimumRequests([reg('a', 0), reg('b', 125)]), 2);
});

test('invalid options and addresses are rejected', () => {
  const p: ModbusPointRef = { id: 'p', table: 'holding', address: 0, type: 'uint16', order: 'ABCD' };
  assert.throws(() => planReads([p], { maxGap: -1 }), /maxGap/);
  assert.throws(() => planReads([p], { maxGap: NaN }), /maxGap/);
  assert.throws(() => planReads([p], { maxRegisters: 0 }), /maxRegisters/);
  assert.throws(() => planReads([p], { maxBits: 1.5 }), /maxBits/);
  assert.throws(() => planReads([{ ...p, address: -1 }]), /"p": address -1/);
  assert.throws(() => planReads([{ ...p, address: 2.5 }]), /"p": address 2.5/);
  assert.throws(() => planReads([{ ...p, table: 'coil' }]), /"p".*bool/);
  assert.throws(() => planReads([{ ...p, type: 'string' }]), /"p".*length/);
  assert.equal(planReads([{ ...p, address: 65535 }]).length, 1);
});

/** Deterministic xorshift32, so a failure here is reproducible without a property-testing library. */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

/**
 * Independent optimum for unlimited gaps (interval stabbing): a read at `s` can hold a point
 * iff point.address >= s and its end <= s + limit; open reads at the lowest unserved address.
 */
function stabbingMinimum(points: ModbusPointRef[], limit: number): number {
  const items = points.map((p) => ({ start: p.address, end: p.address + registerCount(p) })).sort((a, b) => a.start - b.start);
  const served = items.map(() => false);
  let reads = 0;
  items.forEach((first, i) => {
    if (served[i]) return;
    reads++;
    items.forEach((it, j) => {
      if (it.start >= first.start && it.end <= first.start + limit) served[j] = true;
    });
  });
  return reads;
}

test('random point sets: plan invariants hold and minimumRequests matches the optimum', () => {
  const r = rng(20251);
  const types = ['uint16', 'float32', 'float64', 'bit', 'string'] as const;
  for (let iter = 0; iter < 2000; iter++) {
    const maxRegisters = 4 + r(20);
    const opts: Partial<PlanOptions> = { maxRegisters, maxBits: 8 + r(40), maxGap: r(6) };
    const points: ModbusPointRef[] = Array.from({ length: 1 + r(12) }, (_, i) => {
      const table = MODBUS_TABLES[r(4)]!;
      if (table === 'coil' || table === 'discrete') return { id: `p${i}`, table, address: r(60), type: 'bool', order: 'ABCD' };
      const type = types[r(types.length)]!;
      return { id: `p${i}`, table, address: r(60), type, order: 'ABCD', bit: r(16), length: 1 + r(Math.min(maxRegisters, 8)) };
    });
    const blocks = planReads(points, opts);
    checkPlan(points, blocks, opts);
    const min = minimumRequests(points, opts);
    assert.ok(min <= blocks.length);
    const optimum = MODBUS_TABLES.reduce((sum, table) => {
      const inTable = points.filter((p) => p.table === table);
      const limit = table === 'coil' || table === 'discrete' ? opts.maxBits! : maxRegisters;
      return sum + (inTable.length === 0 ? 0 : stabbingMinimum(inTable, limit));
    }, 0);
    assert.equal(min, optimum, JSON.stringify({ opts, points }));
  }
});
