/**
 * A link that goes silent without a TCP reset (a 4G modem losing carrier) must show at the
 * center as fast as any outage: every subscribed point gets its bad sample within one
 * publishing interval plus timeoutMs, not after the ~15 s of three missed keep-alives.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { startOpcuaSim, type OpcuaSim } from '@kedge/testkit/sim/opcua-sim.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { afterEverything, removeDir } from '@kedge/testkit/temp-dirs.ts';
import { startTcpProxy } from '../../chaos/tcp-proxy.ts';
import { OpcuaDevice } from './opcua-device.ts';
import { opcuaDataDir, opcuaDevice, SampleLog } from './test-support.ts';

const PUBLISHING_INTERVAL_MS = 1000;
const TIMEOUT_MS = 1000;
/** Timers of a loaded 2-core box run late: slack on the promise, far below the keep-alive watchdog's 16 s. */
const LOADED_BOX_SLACK_MS = 3000;
/** Generous bound for anything else that waits on the server. */
const EVENT_TIMEOUT_MS = 30_000;

// One server for both cases: each has its own proxy (the cut link), driver and session, and
// nobody writes PumpRunning, so neither depends on what the other did to the server.
let sim: OpcuaSim;
test.before(async () => {
  sim = await startOpcuaSim({ security: 'none', tickMs: 50 });
});
test.after(() => sim.stop());

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
      // The window itself is what is under test here: four intervals of a silent subscription.
      const first = log.all.length;
      const since = performance.now();
      await waitFor(() => performance.now() - since > 4 * PUBLISHING_INTERVAL_MS, { timeoutMs: EVENT_TIMEOUT_MS, what: 'four idle intervals' });
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
