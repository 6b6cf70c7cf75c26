import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { backoffCeiling, jittered, reconnectDelay, spreadDelay } from './backoff.ts';
import { MAX_TIMER_MS } from './clock.ts';

test('reconnect delays are spread over the upper half of a ceiling that doubles per attempt, capped, never below the floor', () => {
  assert.equal(reconnectDelay(0, 1000, 8000, () => 0), 1000);
  assert.equal(reconnectDelay(0, 1000, 8000, () => 1), 1000, 'the first retry comes after the floor');
  assert.equal(reconnectDelay(2, 1000, 8000, () => 0), 2000, 'half of the ceiling (4 s)');
  assert.equal(reconnectDelay(2, 1000, 8000, () => 1), 4000);
  assert.equal(reconnectDelay(3, 1000, 8000, () => 0.5), 6000);
  assert.equal(reconnectDelay(20, 1000, 8000, () => 1), 8000, 'capped');
  assert.equal(reconnectDelay(500, 1000, 8000, () => 0), 4000, 'no overflow on long outages, and no hammering either');
});

/**
 * The broker comes back at a random moment of a long outage: how long until the box tries
 * again? With the uplink defaults (1 s floor, 8 s cap) never more than the cap, whatever the
 * outage and whatever the random draws; the issue measured 40.5 s with full jitter up to 60 s.
 */
test('a box whose broker comes back reconnects within the cap, however long the outage was', () => {
  const DEFAULT_MIN_MS = 1000;
  const DEFAULT_MAX_MS = 8000;
  fc.assert(
    fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 200 }), fc.double({ min: 0, max: 1, noNaN: true }), (draws, backAt) => {
      // Attempt times of one box during an outage, from the drop at 0.
      const times: number[] = [];
      let t = 0;
      draws.forEach((r, attempt) => {
        t += reconnectDelay(attempt, DEFAULT_MIN_MS, DEFAULT_MAX_MS, () => r);
        times.push(t);
      });
      const back = backAt * t;
      // The first attempt at or after the broker is back (the last one is, by construction).
      const next = times.find((x) => x >= back)!;
      assert.ok(next - back <= DEFAULT_MAX_MS, `waited ${next - back} ms after the broker came back`);
      // And never more than one attempt per floor, nor (past the first doublings) per half cap.
      for (let i = 1; i < times.length; i++) {
        const gap = times[i]! - times[i - 1]!;
        assert.ok(gap >= DEFAULT_MIN_MS);
        if (i >= 4) assert.ok(gap >= DEFAULT_MAX_MS / 2, `attempt ${i} came ${gap} ms after the one before`);
      }
    }),
  );
});

test('a fleet reconnecting after the same outage does not come back in lockstep', () => {
  const delays = Array.from({ length: 200 }, () => reconnectDelay(6, 1000, 60_000));
  const distinct = new Set(delays.map((d) => Math.floor(d / 1000)));
  assert.ok(distinct.size > 15, `only ${distinct.size} distinct seconds among 200 boxes`);
  assert.ok(delays.every((d) => d >= 30_000 && d <= 60_000));
});

test('the fleet spread is an offset per box within the configured window, and nothing when off', () => {
  assert.equal(spreadDelay(0, () => 0.99), 0);
  assert.equal(spreadDelay(30_000, () => 0), 0);
  assert.equal(spreadDelay(30_000, () => 0.5), 15_000);
  const offsets = Array.from({ length: 200 }, () => spreadDelay(30_000));
  assert.ok(offsets.every((o) => o >= 0 && o < 30_000));
  assert.ok(new Set(offsets.map((o) => Math.floor(o / 1000))).size > 15, 'spread over the window');
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
