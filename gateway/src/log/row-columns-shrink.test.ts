/**
 * RowColumns gives memory back (issue 20 review, finding L3): after a surge (100,000 readings
 * buffered through an SD card failure) the pending columns return to their first size once the
 * commits are small again, instead of keeping ~5 MB for good; and a row no longer held keeps
 * neither its value nor its point key reachable.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import type { LogRecord } from '@kedge/cloud-sync/model.ts';
import { RowColumns } from './row-columns.ts';

const SURGE = 100_000;
const rec = (i: number): LogRecord => ({ seq: i + 1, ts: 1_700_000_000_000 + i, point: `dev/p${i % 7}`, value: i % 3 === 0 ? `s${i}` : i * 0.5, quality: 'good' });
const fill = (c: RowColumns, n: number, from = 0) => {
  for (let i = from; i < from + n; i++) {
    const r = rec(i);
    c.push(r.seq, r.ts, r.point, r.value, r.quality);
  }
};
const all = (c: RowColumns) => Array.from({ length: c.length }, (_, i) => c.record(i));

test('after a surge, the next small clear shrinks the columns to their first size; rows read back right before and after', () => {
  const c = new RowColumns(256);
  assert.equal(c.capacity, 256);
  fill(c, SURGE);
  assert.ok(c.capacity >= SURGE);
  assert.deepEqual(c.record(SURGE - 1), rec(SURGE - 1));
  c.clear();
  const afterSurge = c.capacity;
  assert.ok(afterSurge >= SURGE, 'a clear of about as many rows as it holds room for keeps the room (the next surge needs it)');
  fill(c, 200, 5);
  assert.deepEqual(all(c), Array.from({ length: 200 }, (_, i) => rec(i + 5)));
  c.clear();
  assert.equal(c.capacity, 256, 'back to the first size');
  assert.equal(c.length, 0);
  fill(c, 300, 9);
  assert.deepEqual(all(c), Array.from({ length: 300 }, (_, i) => rec(i + 9)), 'grows again from there');
  c.clear();
  assert.equal(c.capacity, 512, 'holding room for less than 4x the rows: kept');
});

test('columns of a few thousand rows are kept however small the next commit (no reallocation at every other flush)', () => {
  const c = new RowColumns(256);
  fill(c, 2000);
  const room = c.capacity;
  assert.equal(room, 2048);
  c.clear();
  fill(c, 10);
  c.clear();
  assert.equal(c.capacity, room, 'below SHRINK_FROM_ROWS: kept');
  fill(c, 5000);
  c.clear();
  fill(c, 10);
  c.clear();
  assert.equal(c.capacity, 256, '8192 rows of room for 10: given back');
});

test('rows shifted out or cleared hold neither their value nor their point key', () => {
  const c = new RowColumns(16);
  fill(c, 10);
  c.shift(4);
  const held = c as unknown as { points: string[]; others: unknown[] };
  const live = new Set(all(c).map((r) => r.point));
  for (let j = 0; j < held.points.length; j++) {
    const p = held.points[j];
    if (p !== undefined && p !== '') assert.ok(live.has(p), `slot ${j} still names ${p}`);
  }
  c.clear();
  assert.ok(held.points.every((p) => p === '' || p === undefined), 'no point key kept after clear');
  assert.ok(held.others.every((v) => v === null || v === undefined), 'no value kept after clear');
});
