import test from 'node:test';
import assert from 'node:assert/strict';
import { PROBE_INTERVAL_MS, READY_RETRY_MS, reconnectBackoffMs, waitBeforeReconnect } from './reconnect-wait.ts';
import { CountingProbe, ManualTimers } from './virtual-timers.ts';

/** The promise to the field: values flow again within this after the server is ready, whatever the backoff. */
const VALUES_AFTER_READY_MS = 10_000;
const BACKOFF = { minMs: 1000, maxMs: 60_000 };

/** One virtual-time step of the wait, then every promise the probe it fired resolves. */
async function step(timers: ManualTimers): Promise<void> {
  assert.ok(timers.step(), 'the wait has a timer armed');
  await new Promise((r) => setImmediate(r));
}

/** A wait on virtual time whose port probe answers `server.up`; `ended` is the virtual time it ended at. */
function startWait(delayMs: number, refusedUs = false) {
  const timers = new ManualTimers();
  const server = { up: false };
  const probes = new CountingProbe(async () => server.up);
  const wait = { ended: null as number | null };
  void waitBeforeReconnect({ delayMs, host: '127.0.0.1', port: 4840, refusedUs }, { timers, probe: probes.probe }).done.then(() => {
    wait.ended = timers.now();
  });
  return { timers, server, probes, wait };
}

test('the backoff after the 6th failure in a row is past 10 s, within its jitter', () => {
  const delays = [0, 0.5, 1].map((r) => reconnectBackoffMs(6, BACKOFF.minMs, BACKOFF.maxMs, () => r));
  assert.deepEqual(delays, [28_800, 32_000, 35_200]);
  assert.ok(delays.every((d) => d > VALUES_AFTER_READY_MS));
  assert.equal(reconnectBackoffMs(1, BACKOFF.minMs, BACKOFF.maxMs, () => 0.5), 1000, 'the first failure waits minMs');
  assert.equal(reconnectBackoffMs(40, BACKOFF.minMs, BACKOFF.maxMs, () => 0.5), 60_000, 'capped at maxMs');
});

test('a server seen down during a 32 s backoff is tried within one probe interval of coming back', async () => {
  const w = startWait(32_000);
  await step(w.timers);
  await step(w.timers);
  assert.equal(w.probes.answered, 2, 'a probe per interval');
  assert.equal(w.wait.ended, null, 'still waiting while the port is closed');
  w.server.up = true;
  const ready = w.timers.now();
  await step(w.timers);
  assert.equal(w.wait.ended, ready + PROBE_INTERVAL_MS);
  assert.ok(w.wait.ended! - ready < VALUES_AFTER_READY_MS);
  assert.equal(w.timers.pending, 0, 'no timer left behind');
});

test('a port open all along is retried after READY_RETRY_MS, not at every probe; a server that refused us waits out its backoff', async () => {
  const open = startWait(32_000);
  open.server.up = true;
  while (open.wait.ended === null) await step(open.timers);
  assert.equal(open.wait.ended, READY_RETRY_MS);

  const refused = startWait(32_000, true);
  refused.server.up = true;
  while (refused.wait.ended === null) await step(refused.timers);
  assert.equal(refused.wait.ended, 32_000, 'no login every few seconds to a server that refused the last one');

  const restarted = startWait(32_000, true);
  await step(restarted.timers);
  restarted.server.up = true;
  await step(restarted.timers);
  assert.equal(restarted.wait.ended, 2 * PROBE_INTERVAL_MS, 'a restart of a server that refused us still cuts the wait');
});

test('a probe slower than the interval is not doubled up, and wake() ends the wait at once', async () => {
  const timers = new ManualTimers();
  let answer: ((up: boolean) => void) | null = null;
  const probes = new CountingProbe(() => new Promise<boolean>((r) => (answer = r)));
  let ended = false;
  const wait = waitBeforeReconnect({ delayMs: 32_000, host: '127.0.0.1', port: 4840, refusedUs: false }, { timers, probe: probes.probe });
  void wait.done.then(() => (ended = true));
  await step(timers);
  await step(timers);
  assert.equal(probes.inFlight, 1, 'one probe at a time');
  answer!(false);
  wait.wake();
  await new Promise((r) => setImmediate(r));
  assert.ok(ended);
  assert.equal(timers.pending, 0);
});
