import test from 'node:test';
import assert from 'node:assert/strict';
import { reconnectDelay } from './backoff.ts';

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
