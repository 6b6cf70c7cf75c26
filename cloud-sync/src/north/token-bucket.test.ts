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

const YEAR = 365 * 86_400_000;

for (const [name, jump] of [
  ['set back a year', -YEAR],
  ['set back ten minutes', -600_000],
  ['set ahead a year', YEAR],
  ['set ahead ten minutes', 600_000],
] as const) {
  test(`the default clock is monotonic: a wall clock ${name} neither owes a year of tokens nor hands out free ones`, (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.UTC(2026, 11, 1) });
    // 1 reading/s: a bucket refilled by the jump would be visible at once.
    const b = new TokenBucket(1, 100);
    assert.equal(b.take(100), 0, 'the full bucket passes');
    t.mock.timers.setTime(Date.now() + jump);
    const wait = b.take(50);
    assert.ok(wait > 0, 'a jump forward is no refill');
    assert.ok(wait <= 50_000, `waits ${wait} ms: never more than 50 readings at 1/s`);
  });
}

test('a clock that goes back (a wall clock handed in by mistake) never drives the tokens negative', () => {
  let now = 0;
  const b = new TokenBucket(100, 100, () => now);
  assert.equal(b.take(100), 0);
  now = -YEAR;
  assert.equal(b.take(10), 100, '10 readings at 100/s: 100 ms, not a year');
  now = -YEAR + 100;
  assert.equal(b.take(10), 0, 'refills from where the clock now is');
});
