import test from 'node:test';
import assert from 'node:assert/strict';
import { startOpcuaSim, type OpcuaSim } from '@kedge/testkit/sim/opcua-sim.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { afterEverything, removeDir } from '@kedge/testkit/temp-dirs.ts';
import { pino } from 'pino';
import { OpcuaDevice } from './opcua-device.ts';
import { tcpReachable } from './probe.ts';
import { BACKOFF_JITTER, PROBE_INTERVAL_MS } from './reconnect-wait.ts';
import { restartablePort, restartOn } from './restart-port.ts';
import { CountingProbe, ManualTimers, opcuaDataDir, opcuaDevice, SampleLog } from './test-support.ts';

/** The promise to the field: values flow again within this after the server is ready, whatever the backoff. */
const VALUES_AFTER_READY_MS = 10_000;
/** The backoff's cap in this test: the doubling (1, 2, 4 ... s) passes it at the 6th failure in a row. */
const BACKOFF = { minMs: 1000, maxMs: 20_000 };
/**
 * Failed reconnects before the server comes back: the lost session is the first failure (1 s),
 * each failed connect doubles it, so after the 6th the uncapped wait would be 64 s and the
 * capped one is maxMs, still far beyond the promise. The waits pass in virtual time
 * (ManualTimers): the test does not sit through them.
 */
const FAILED_CONNECTS = 6;
/** Real time for one step of the driver (a refused connect, a probe, a session set-up). */
const STEP_MS = 30_000;
/**
 * Request timeouts of the driver, longer than a step: the outage is a closed socket, noticed at
 * once, and a reconnect path that waits out any request timeout (connect, CreateSession,
 * CreateSubscription, a Read) cannot finish within STEP_MS, so it fails here however fast the
 * machine is, instead of passing while it breaks VALUES_AFTER_READY_MS in the field.
 */
const REQUEST_TIMEOUT_MS = 2 * STEP_MS;
/**
 * The port probe's own timeout: generous, since virtual time does not move during a probe, and
 * an event-loop stall under load must not make an open port look closed.
 */
const PROBE_TIMEOUT_MS = STEP_MS;

test('after a long outage the backoff has grown past 10 s, yet the restarted server is tried within one probe interval and connects at the first attempt, no timeout waited out: one new session, the same monitored items', async (t) => {
  const dataDir = await opcuaDataDir('kedge-opcua-timing-');
  // After the stops registered below: the driver writes its PKI there until it is closed.
  afterEverything(t, () => removeDir(dataDir));
  // The port stays ours while the server is down: a stranger on it would be a second session and a second outage.
  const port = await restartablePort();
  const lines: Array<{ event?: string; msg: string }> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as { event?: string; msg: string }) });
  const startSim = () => startOpcuaSim({ port, security: 'none', tickMs: 50 });
  let sim: OpcuaSim = await startSim();
  t.after(() => sim.stop());
  const timers = new ManualTimers();
  const probes = new CountingProbe((host, p) => tcpReachable(host, p, PROBE_TIMEOUT_MS));
  const driver = new OpcuaDevice(
    opcuaDevice({
      endpointUrl: `opc.tcp://127.0.0.1:${port}`,
      publishingIntervalMs: 100,
      samplingIntervalMs: 50,
      timeoutMs: REQUEST_TIMEOUT_MS,
      backoff: BACKOFF,
      points: [
        { id: 'level', nodeId: 'ns=1;s=Level' },
        { id: 'pulses', nodeId: 'ns=1;s=PulseCount', samplingIntervalMs: 100 },
      ],
    }),
    { dataDir, logger, reconnectSchedule: { timers, probe: probes.probe } },
  );
  t.after(() => driver.close());
  const log = new SampleLog();
  driver.subscribe(log.sink);
  const good = (p: string, from: number) => log.of(p).slice(from).filter((s) => s.quality === 'good').length;
  await waitFor(() => good('level', 0) >= 2 && good('pulses', 0) >= 2, { timeoutMs: STEP_MS, what: 'values before the outage' });

  /** The driver waits to reconnect with no probe in flight: the next virtual step is the test's. */
  const waiting = (what: string) => waitFor(() => timers.timeoutIn() !== null && probes.inFlight === 0, { timeoutMs: STEP_MS, what });
  /** Fires the wait's next timer (a probe, or the backoff's end) and waits for the driver to act on it. */
  const step = async () => {
    const answered = probes.answered;
    timers.step();
    await waitFor(() => timers.pending === 0 || (probes.answered > answered && probes.inFlight === 0), { timeoutMs: STEP_MS, what: 'a probe answered' });
  };

  await sim.stop();
  for (let n = 1; n <= FAILED_CONNECTS; n++) {
    await waiting(`the wait before reconnect ${n}`);
    while (timers.pending > 0) await step();
    await waitFor(() => driver.failedConnects >= n, { timeoutMs: STEP_MS, what: `failed reconnect ${n}` });
  }
  await waiting('the wait after the last failed reconnect');
  const backoff = timers.timeoutIn()!;
  assert.ok(backoff > VALUES_AFTER_READY_MS && backoff <= (1 + BACKOFF_JITTER) * BACKOFF.maxMs, `the backoff has grown to ${backoff} ms, capped at maxMs ${BACKOFF.maxMs}`);
  await step(); // a probe finds the port closed: the server is down, not slow
  assert.ok(timers.pending > 0, 'still waiting while the server is down');

  const before = { level: log.of('level').length, pulses: log.of('pulses').length };
  const sessions = driver.sessions;
  sim = await restartOn(port, startSim);
  const ready = timers.now();
  const linesBeforeReady = lines.length;
  while (timers.pending > 0) await step();
  const triedAfter = timers.now() - ready;
  assert.ok(triedAfter <= PROBE_INTERVAL_MS && triedAfter < VALUES_AFTER_READY_MS, `reconnected ${triedAfter} ms (virtual) after the server was ready`);
  await waitFor(() => good('level', before.level) >= 1 && good('pulses', before.pulses) >= 1, { timeoutMs: STEP_MS, what: 'values after the server came back (a request timeout waited out on the way would end here: REQUEST_TIMEOUT_MS > STEP_MS)' });

  // One new session, and every monitored item of before delivers again.
  assert.equal(driver.sessions, sessions + 1);
  const said = (event: string) => lines.filter((l) => l.event === event);
  const printed = JSON.stringify(lines.map((l) => l.msg));
  // Values came by the straight path: one connect attempt after the server was ready, and it
  // succeeded; nothing timed out or failed on the way (a timeout the driver logs, or one it
  // retries past, would break the promise in the field).
  assert.equal(driver.failedConnects, FAILED_CONNECTS, `no failed attempt after the server was ready; console: ${printed}`);
  assert.deepEqual(lines.slice(linesBeforeReady).map((l) => l.event), ['device_recovered'], `only the recovery after the server was ready; console: ${printed}`);
  assert.deepEqual(lines.filter((l) => /timed out|timeout|no answer/i.test(l.msg)), [], 'no request timed out');
  for (const p of ['level', 'pulses'] as const) {
    const bad = log.of(p).slice(0, before[p]).filter((s) => s.quality !== 'good');
    assert.equal(bad.length, 1, `${p}: one outage sample, got ${JSON.stringify(bad)}; console: ${JSON.stringify(lines.map((l) => l.msg))}`);
  }
  // The console: one line when the server went away, one when it answered again.
  assert.equal(said('device_failed').length, 1, JSON.stringify(lines.map((l) => l.msg)));
  assert.match(said('device_failed')[0]!.msg, /^device "station" stopped answering: /);
  assert.equal(said('device_recovered').length, 1);
  assert.match(said('device_recovered')[0]!.msg, /^device "station" answers again after [\d.]+ s \(OPC UA session 2 with opc\.tcp:/);
});
