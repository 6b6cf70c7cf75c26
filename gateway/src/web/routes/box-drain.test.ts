import assert from 'node:assert/strict';
import test from 'node:test';
import { DrainMeter } from './box-drain.ts';

const WINDOW_MS = 60_000;

test('the drain estimate uses the net rate: acked minus still arriving', () => {
  const m = new DrainMeter(WINDOW_MS);
  assert.equal(m.sample(0, 0, 10_000, 6_000).drainMs, null, 'one look gives no rate');
  // 100 acked/s, 40 arriving/s over 10 s: the backlog shrinks by 60/s.
  const e = m.sample(10_000, 1_000, 10_400, 5_400);
  assert.equal(e.ackedPerSecond, 100);
  assert.equal(e.arrivingPerSecond, 40);
  assert.equal(e.netPerSecond, 60);
  assert.equal(e.drainMs, 90_000, '5400 readings at 60/s, not at the 100/s ack rate (54 s)');
  assert.equal(e.keepingUp, true);
});

test('sending slower than the devices deliver is "not keeping up", with no time to drain', () => {
  const m = new DrainMeter(WINDOW_MS);
  m.sample(0, 0, 0, 1_000);
  const e = m.sample(10_000, 1_000, 1_200, 1_200);
  assert.equal(e.netPerSecond, -20);
  assert.equal(e.drainMs, null);
  assert.equal(e.keepingUp, false);
  // Exactly as fast as it arrives is not draining either.
  assert.equal(m.sample(20_000, 2_000, 2_200, 1_200).keepingUp, false);
});

test('the window slides; an empty backlog is drained; a counter that goes back restarts the measurement', () => {
  const m = new DrainMeter(WINDOW_MS);
  m.sample(0, 0, 0, 500);
  m.sample(30_000, 0, 3_000, 3_500); // uplink down for the first half minute
  m.sample(90_000, 9_000, 9_000, 0);
  // The looks older than a minute left the window: the rate is that of 90 s .. 120 s
  // (300/s; from 30 s it would read 200/s, from 0 s 150/s).
  const e = m.sample(120_000, 18_000, 12_000, 0);
  assert.equal(e.ackedPerSecond, 300);
  assert.equal(e.drainMs, 0);
  assert.equal(e.keepingUp, null, 'nothing to send');
  // A reload rebuilt the uplink: its ack counter starts from 0 again.
  assert.equal(m.sample(130_000, 50, 12_100, 100).netPerSecond, null);
  assert.equal(m.sample(140_000, 1_050, 12_200, 0).ackedPerSecond, 100);
});
