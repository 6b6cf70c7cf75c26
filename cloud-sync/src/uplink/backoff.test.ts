import test from 'node:test';
import assert from 'node:assert/strict';
import { backoffCeiling, jittered, reconnectDelay } from './backoff.ts';
import { MAX_TIMER_MS } from '../clock.ts';

test('reconnect delays are spread between the floor and a ceiling that doubles per attempt, capped', () => {
  assert.equal(reconnectDelay(0, 1000, 60_000, () => 0), 1000);
  assert.equal(reconnectDelay(0, 1000, 60_000, () => 1), 1000, 'the first retry comes after the floor');
  assert.equal(reconnectDelay(3, 1000, 60_000, () => 1), 8000);
  assert.equal(reconnectDelay(3, 1000, 60_000, () => 0.5), 4500);
  assert.equal(reconnectDelay(20, 1000, 60_000, () => 1), 60_000, 'capped');
  assert.equal(reconnectDelay(500, 1000, 60_000, () => 1), 60_000, 'no overflow on long outages');
});

test('a fleet reconnecting after the same outage does not come back in lockstep', () => {
  const delays = Array.from({ length: 200 }, () => reconnectDelay(6, 1000, 60_000));
  const distinct = new Set(delays.map((d) => Math.floor(d / 1000)));
  assert.ok(distinct.size > 30, `only ${distinct.size} distinct seconds among 200 boxes`);
  assert.ok(delays.every((d) => d >= 1000 && d <= 60_000));
});

test('a reconnect delay is never one setTimeout would turn into 1 ms (a reconnect storm)', () => {
  const month = 31 * 86_400_000;
  assert.equal(reconnectDelay(40, 1000, month, () => 1), MAX_TIMER_MS);
  assert.ok(reconnectDelay(40, month, month, () => 0.5) <= MAX_TIMER_MS);
});

test('the shared backoff: the floor after the first failure, doubling, capped, no overflow however long the outage', () => {
  assert.deepEqual([0, 1, 2, 3, 6, 7].map((a) => backoffCeiling(a, 1000, 60_000)), [1000, 2000, 4000, 8000, 60_000, 60_000]);
  assert.equal(backoffCeiling(-1, 1000, 60_000), 1000, 'no failure yet counts as the first');
  assert.equal(backoffCeiling(1_000_000, 1000, 60_000), 60_000);
  assert.ok(Number.isFinite(backoffCeiling(Number.MAX_SAFE_INTEGER, 1, Number.MAX_SAFE_INTEGER)));
});

test('jitter spreads a delay evenly over the given share either side', () => {
  assert.equal(jittered(1000, 0.1, () => 0), 900);
  assert.equal(jittered(1000, 0.1, () => 0.5), 1000);
  assert.equal(jittered(1000, 0.1, () => 1), 1100);
  assert.equal(jittered(5000, 0.2, () => 0), 4000);
});
