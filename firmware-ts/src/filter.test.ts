import test from 'node:test';
import assert from 'node:assert/strict';
import { WindowFilter, mean, median } from './filter.ts';

test('median takes the middle value and rejects a single wild reading', () => {
  assert.equal(median([500, 502, 1023, 501, 499]), 501);
});

test('median of an even window is the mean of the two middle values', () => {
  assert.equal(median([1, 4, 2, 3]), 2.5);
});

test('median does not reorder the caller\'s array', () => {
  const values = [3, 1, 2];
  median(values);
  assert.deepEqual(values, [3, 1, 2]);
});

test('mean averages the window', () => {
  assert.equal(mean([10, 20, 30, 40]), 25);
});

test('median and mean of an empty window throw instead of inventing a value', () => {
  assert.throws(() => median([]), /empty window/);
  assert.throws(() => mean([]), /empty window/);
});

test('WindowFilter keeps only the last `size` readings', () => {
  const f = new WindowFilter('mean', 3);
  assert.equal(f.value(), undefined);
  for (const v of [100, 1, 2, 3]) f.push(v);
  assert.equal(f.value(), 2);
  f.clear();
  assert.equal(f.value(), undefined);
});

test('WindowFilter with median smooths a spike out of a steady signal', () => {
  const f = new WindowFilter('median', 5);
  for (const v of [400, 401, 0, 402, 400]) f.push(v);
  assert.equal(f.value(), 400);
});

test('WindowFilter refuses a window that is not a whole number >= 1', () => {
  assert.throws(() => new WindowFilter('median', 0), /whole number >= 1 \(got 0\)/);
  assert.throws(() => new WindowFilter('mean', 2.5), /got 2.5/);
});
