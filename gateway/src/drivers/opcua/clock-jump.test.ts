import test from 'node:test';
import assert from 'node:assert/strict';
import { startOpcuaSim } from '@kedge/testkit/sim/opcua-sim.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { afterEverything, removeDir } from '@kedge/testkit/temp-dirs.ts';
import { OpcuaDevice } from './opcua-device.ts';
import { opcuaDataDir, opcuaDevice, SampleLog } from './test-support.ts';

/**
 * Longer than the subscription watchdog's dead-link limit (3 keep-alive periods plus the
 * timeout, ~17 s here), shorter than the secure channel's token lifetime (the server checks
 * that one on the wall clock).
 */
const JUMP_MS = 60_000;
/** The watchdog checks every second: a few of its turns must pass after the jump (keep-alives come every ~5 s). */
const WATCH_MS = 3000;

test('a wall clock set ahead does not make the subscription watchdog drop a live OPC UA link', async (t) => {
  const dataDir = await opcuaDataDir('kedge-opcua-clock-');
  // After the stops registered below: the driver writes its PKI there until it is closed.
  afterEverything(t, () => removeDir(dataDir));
  const sim = await startOpcuaSim({ security: 'none', tickMs: 50 });
  t.after(() => sim.stop());
  const warnings: string[] = [];
  const logger = { warn: (_: object, msg: string) => warnings.push(msg), info: () => {}, debug: () => {}, error: (_: object, msg: string) => warnings.push(msg) };
  const driver = new OpcuaDevice(
    opcuaDevice({
      endpointUrl: sim.endpointUrl,
      publishingIntervalMs: 100,
      samplingIntervalMs: 50,
      timeoutMs: 2000,
      points: [
        // Never changes: the subscription only sends keep-alives (every ~5 s), the watchdog's only sign of life.
        { id: 'pump', nodeId: 'ns=1;s=PumpRunning' },
        { id: 'level', nodeId: 'ns=1;s=Level', mode: 'poll' },
      ],
    }),
    { dataDir, logger: logger as never },
  );
  t.after(() => driver.close());
  const log = new SampleLog();
  assert.deepEqual(driver.subscribe(log.sink), ['pump']);
  await waitFor(() => log.last('pump')?.quality === 'good', { timeoutMs: 30_000, what: 'the subscribed value' });

  const realNow = Date.now;
  t.after(() => {
    Date.now = realNow;
  });
  const before = log.all.length;
  const jumpedAt = performance.now();
  Date.now = () => realNow() + JUMP_MS;
  // The positive event: reads over the same link answered until WATCH_MS (monotonic) after the jump.
  let polls = 0;
  while (performance.now() < jumpedAt + WATCH_MS) {
    const r = await driver.poll(['level']);
    assert.equal(r.failed, false, `poll ${polls + 1} after the jump: ${r.error}`);
    polls++;
  }
  Date.now = realNow;

  const after = log.all.slice(before);
  assert.deepEqual(after.filter((s) => s.quality !== 'good').map((s) => s.error), [], 'no outage reported');
  assert.deepEqual(warnings.filter((w) => /lost|no publish response/.test(w)), [], 'the link was not taken for dead');
});
