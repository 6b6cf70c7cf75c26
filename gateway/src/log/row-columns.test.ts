/**
 * RowColumns holds readings as columns: what goes in must come out the same (every kind of
 * value, NaN and -0 included), through growth and removal from the front, and a row no longer
 * held must not keep its value reachable.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { LogRecord, Value } from '@kedge/cloud-sync/model.ts';
import { QUALITIES } from '@kedge/cloud-sync/model.ts';
import { runs } from '@kedge/testkit/fuzz.ts';
import { RowColumns } from './row-columns.ts';

const value: fc.Arbitrary<Value> = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(Number.NaN, -0, Infinity, 1.7e12),
  fc.boolean(),
  fc.string(),
  fc.bigInt(),
  fc.constant(null),
);
const row = fc.record({ ts: fc.integer({ min: 0, max: 2 ** 45 }), point: fc.constantFrom('a/x', 'b/y', 'c/z'), value, quality: fc.constantFrom(...QUALITIES) });
const op = fc.oneof(
  fc.record({ push: fc.array(row, { maxLength: 60 }) }),
  fc.record({ shift: fc.integer({ min: 0, max: 80 }) }),
  fc.constant({ clear: true as const }),
);

test('rows read back as pushed, through growth, shifts and clears (model: an array of records)', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
      const cols = new RowColumns(4);
      let model: LogRecord[] = [];
      let seq = 1;
      for (const o of ops) {
        if ('push' in o) {
          for (const r of o.push) {
            cols.push(seq, r.ts, r.point, r.value, r.quality);
            model.push({ seq: seq++, ...r });
          }
        } else if ('shift' in o) {
          cols.shift(o.shift);
          model = model.slice(o.shift);
        } else {
          cols.clear();
          model = [];
        }
        assert.equal(cols.length, model.length);
        model.forEach((m, i) => {
          const got = cols.record(i);
          assert.ok(Object.is(got.value, m.value), `row ${i}: ${String(got.value)} for ${String(m.value)}`);
          assert.deepEqual({ ...got, value: 0 }, { ...m, value: 0 });
        });
        for (const after of [0, model[0]?.seq ?? 0, (model[model.length >> 1]?.seq ?? 0) - 1, seq]) {
          const want = model.findIndex((m) => m.seq > after);
          assert.equal(cols.firstAbove(after), want === -1 ? model.length : want, `firstAbove(${after})`);
        }
      }
    }),
    { numRuns: runs(300) },
  );
});

test('a row shifted out or cleared no longer holds its value', () => {
  const cols = new RowColumns(16);
  const big = 'x'.repeat(1000);
  cols.push(1, 1, 'a/x', big, 'good');
  cols.push(2, 2, 'a/x', 5, 'good');
  cols.shift(1);
  assert.equal(cols.value(0), 5);
  assert.ok(!(cols as unknown as { others: Value[] }).others.includes(big), 'the shifted-out string stays reachable');
  cols.push(3, 3, 'a/x', big, 'good');
  cols.clear();
  assert.ok(!(cols as unknown as { others: Value[] }).others.includes(big), 'a cleared string stays reachable');
});

test('rows set by index read back, unset rows in between are not there, and a clear unsets them all', () => {
  const cols = new RowColumns(16);
  cols.set(40, 7, 70, 'a/x', 1.5, 'good');
  cols.set(3, 2, 20, 'b/y', 'on', 'uncertain');
  assert.equal(cols.length, 41);
  assert.ok(cols.has(40) && cols.has(3) && !cols.has(4) && !cols.has(41));
  assert.deepEqual(cols.record(3), { seq: 2, ts: 20, point: 'b/y', value: 'on', quality: 'uncertain' });
  cols.set(40, 9, 90, 'a/x', null, 'bad_comm');
  assert.deepEqual(cols.record(40), { seq: 9, ts: 90, point: 'a/x', value: null, quality: 'bad_comm' });
  cols.clear();
  cols.set(1, 1, 1, 'c/z', 0, 'good');
  assert.ok(!cols.has(3) && !cols.has(40), 'a cleared row reads as set');
});

test('dropping the oldest rows of a full buffer on every append costs no copy of the buffer each time', () => {
  // 100,000 pending rows (a failing disk's buffer) losing 100 per append: amortised, the columns
  // move each row about once; a copy per append would move 100,000 rows 2,000 times.
  const cols = new RowColumns(16);
  for (let i = 0; i < 100_000; i++) cols.push(0, i, 'a/x', i, 'good');
  const moved = { n: 0 };
  const copyWithin = Float64Array.prototype.copyWithin;
  Float64Array.prototype.copyWithin = function (this: Float64Array, target: number, start: number, end?: number) {
    moved.n += (end ?? this.length) - start;
    return copyWithin.call(this, target, start, end);
  };
  try {
    for (let k = 0; k < 2000; k++) {
      for (let i = 0; i < 100; i++) cols.push(0, 100_000 + k * 100 + i, 'a/x', k, 'good');
      cols.shift(100);
    }
  } finally {
    Float64Array.prototype.copyWithin = copyWithin;
  }
  assert.equal(cols.length, 100_000);
  assert.equal(cols.ts(0), 200_000);
  assert.equal(cols.ts(99_999), 299_999);
  // 3 Float64 columns; at most ~2 moves per row appended (200,000 rows), with room to spare.
  assert.ok(moved.n <= 3 * 4 * 200_000, `the columns moved ${moved.n} values for 200,000 appended rows`);
});

test('a capacity that is not a finite number >= 0 is refused at construction, naming it (NaN made columns that never grew)', () => {
  for (const bad of [Number.NaN, Infinity, -1]) {
    assert.throws(() => new RowColumns(bad), (e: Error) => e instanceof RangeError && e.message.includes(`capacity must be a finite number >= 0, got ${bad}`));
  }
  // The smallest legal capacity still grows to whatever is pushed.
  const cols = new RowColumns(0);
  for (let i = 0; i < 100; i++) cols.push(i + 1, i, 'a/x', i, 'good');
  assert.equal(cols.length, 100);
  assert.equal(cols.seq(99), 100);
});
