import test from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from './token-bucket.ts';

test('a full bucket lets a burst through, then paces readings at the configured rate', () => {
  let now = 0;
  const b = new TokenBucket(1000, 2000, () => now);
  assert.equal(b.take(2000), 0, 'the burst passes');
  assert.equal(b.take(500), 500, '500 readings at 1000/s need half a second');
  now += 499;
  assert.equal(b.take(500), 1);
  now += 1;
  assert.equal(b.take(500), 0);
});

test('a batch larger than the bucket waits for a full bucket instead of forever', () => {
  let now = 0;
  const b = new TokenBucket(100, 50, () => now);
  assert.equal(b.take(500), 0, 'a full bucket lets one oversized batch through');
  assert.equal(b.take(500), 500, 'the next waits until the bucket is full again');
  now += 500;
  assert.equal(b.take(500), 0);
});

test('a rate of 0 means no limit', () => {
  const b = new TokenBucket(0, 0, () => 0);
  for (let i = 0; i < 5; i++) assert.equal(b.take(1_000_000), 0);
});

test('tokens never pile up beyond the capacity during a long idle period', () => {
  let now = 0;
  const b = new TokenBucket(10, 20, () => now);
  now += 3_600_000;
  assert.equal(b.take(20), 0);
  assert.equal(b.take(1), 100);
});
