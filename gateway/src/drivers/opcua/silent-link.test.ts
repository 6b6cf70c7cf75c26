/**
 * A link that goes silent without a TCP reset (a 4G modem losing carrier) must show at the
 * center as fast as any outage: every subscribed point gets its bad sample within one
 * publishing interval plus timeoutMs, not after the ~15 s of three missed keep-alives.
 */
import test, { describe } from 'node:test';
import assert from 'node:assert/strict';
import { startOpcuaSim, type OpcuaSim } from '@kedge/testkit/sim/opcua-sim.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { afterEverything, removeDir } from '@kedge/testkit/temp-dirs.ts';
import { startTcpProxy } from '../../chaos/tcp-proxy.ts';
import { OpcuaDevice } from './opcua-device.ts';
import { opcuaDataDir, opcuaDevice, SampleLog } from './test-support.ts';

/**
 * Short, so that first values, the idle window and the reconnect do not sit through seconds:
 * the promise under test is one interval plus timeoutMs whatever the interval, and the
 * keep-alive stays at ~5 s at any interval (the driver asks for ceil(5 s / interval) = 10
 * intervals between keep-alives; its 3-missed watchdog fires at 3 * 5 s + TIMEOUT_MS = 16 s).
 * Not shorter: an idle subscription is probed after every interval of silence, and with both
 * cases sharing one event loop, each probe more is one more chance for a ~1 s stall of a loaded
 * box to read as an outage.
 */
const PUBLISHING_INTERVAL_MS = 500;
/**
 * The driver's request timeout, which the silence probe (a Read of the server's clock) must
 * beat while the link is alive: not shorter, since on a loaded 2-core box one event-loop stall
 * of the process that is both server and client would read as an outage.
 */
const TIMEOUT_MS = 1000;
/**
 * The idle window (3 s): a silence probe's whole course (an interval of silence, then a Read
 * within TIMEOUT_MS) twice over, so a probe that failed on a live link would have reported
 * within it; shorter than the ~5 s between keep-alives, so it is the probes that keep the link
 * up in it, and far from the 16 s watchdog.
 */
const IDLE_WINDOW_MS = 2 * (PUBLISHING_INTERVAL_MS + TIMEOUT_MS);
/**
 * Timers of a loaded 2-core box run late: slack on the promise. The bound it makes (interval +
 * timeout + slack = 4.5 s) stays far below the keep-alive watchdog's 16 s, so only the silence
 * probe can meet it.
 */
const LOADED_BOX_SLACK_MS = 3000;
/** Generous bound for anything else that waits on the server. */
const EVENT_TIMEOUT_MS = 30_000;

// One server for both cases, run side by side (their waits overlap): each has its own proxy
// (the cut link), driver and session, and nobody writes PumpRunning, so neither depends on what
// the other does to the server.
let sim: OpcuaSim;
test.before(async () => {
  sim = await startOpcuaSim({ security: 'none', tickMs: 50 });
});
test.after(() => sim.stop());

describe('a link blackholed without a reset', { concurrency: true }, () => {
  for (const idle of [false, true]) {
    test(`a ${idle ? 'subscription whose values do not change' : 'busy subscription'} on a link blackholed without a reset: one bad sample per point within one interval plus timeout, good again after the link heals`, async (t) => {
      const dataDir = await opcuaDataDir('kedge-opcua-silent-');
      // After the stops registered below: the driver writes its PKI there until it is closed.
      afterEverything(t, () => removeDir(dataDir));
      const proxy = await startTcpProxy({ targetPort: sim.port });
      t.after(() => proxy.close());
      const driver = new OpcuaDevice(
        opcuaDevice({
          endpointUrl: `opc.tcp://127.0.0.1:${proxy.port}`,
          publishingIntervalMs: PUBLISHING_INTERVAL_MS,
          samplingIntervalMs: 100,
          timeoutMs: TIMEOUT_MS,
          backoff: { minMs: 200, maxMs: 1000 },
          // PumpRunning stays false: only keep-alives (every ~5 s) cross an idle subscription.
          points: idle ? [{ id: 'pump', nodeId: 'ns=1;s=PumpRunning' }] : [
            { id: 'level', nodeId: 'ns=1;s=Level' },
            { id: 'pulses', nodeId: 'ns=1;s=PulseCount' },
          ],
        }),
        { dataDir },
      );
      t.after(() => driver.close());
      const points = idle ? ['pump'] : ['level', 'pulses'];
      const log = new SampleLog();
      driver.subscribe(log.sink);
      await waitFor(() => points.every((p) => log.of(p).some((s) => s.quality === 'good')), { timeoutMs: EVENT_TIMEOUT_MS, what: 'values through the proxy' });
      if (idle) {
        // Past several silent intervals (the server's own clock moves on): the silence probes
        // found the link alive and reported nothing.
        // The window itself is what is under test here: a silent subscription for IDLE_WINDOW_MS.
        const first = log.all.length;
        const since = performance.now();
        await waitFor(() => performance.now() - since > IDLE_WINDOW_MS, { timeoutMs: EVENT_TIMEOUT_MS, what: 'the idle window' });
        assert.equal(log.all.length, first, 'an idle link that answers its probes is not an outage');
        assert.equal(driver.sessions, 1);
      }

      const before = log.all.length;
      proxy.setMode('blackhole');
      const cut = performance.now();
      await waitFor(() => points.every((p) => log.of(p).some((s) => s.quality !== 'good')), {
        timeoutMs: EVENT_TIMEOUT_MS,
        what: 'the outage samples',
      });
      const seen = performance.now() - cut;
      assert.ok(seen < PUBLISHING_INTERVAL_MS + TIMEOUT_MS + LOADED_BOX_SLACK_MS, `the outage showed ${Math.round(seen)} ms after the link went silent`);
      for (const p of points) {
        const bad = log.of(p).filter((s) => s.quality !== 'good');
        assert.deepEqual(bad.map((s) => [s.quality, s.value]), [['bad_comm', null]], p);
      }
      assert.ok(log.all.length > before);

      proxy.setMode('pass');
      const healed = log.all.length;
      await waitFor(() => points.every((p) => log.all.slice(healed).some((s) => s.point === p && s.quality === 'good')), {
        timeoutMs: EVENT_TIMEOUT_MS,
        what: 'values after the link healed',
      });
      for (const p of points) assert.equal(log.of(p).filter((s) => s.quality !== 'good').length, 1, `${p}: one outage sample`);
      assert.equal(driver.sessions, 2);
    });
  }
});
