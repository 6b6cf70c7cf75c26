/**
 * The ingest acknowledges only after a durable commit: the real ingest process
 * (cloud-sync/src/ingest/main.ts, SQLite with synchronous = FULL) is SIGKILLed 10 times at
 * seeded moments while a gateway streams into it, often in the middle of a commit. Nothing it
 * had not committed was acknowledged (to the broker or to the gateway), so after the restarts
 * the center holds every sequence once, each the reading the gateway's log holds.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IngestStore } from '@kedge/cloud-sync';
import { startModbusSim } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { startProcess, type ManagedProcess } from '@kedge/testkit/proc.ts';
import { nodeEntry } from '@kedge/testkit/entry.ts';
import { sleep } from '@kedge/testkit/wait.ts';
import { fileTempDir, removeDir } from '@kedge/testkit/temp-dirs.ts';
import { closeAll } from '@kedge/testkit/clean-up.ts';
import { assertEverySequenceOnce, assertSameReadings, chaosSeed, GatewayUnderTest, ROOT, seededRandom } from './harness.ts';

const INGEST_MAIN = fileURLToPath(new URL('../../../cloud-sync/src/ingest/main.ts', import.meta.url));
const KILLS = 10;
/**
 * When each kill lands, after the center moved again (a commit just ended): batches of a few
 * hundred readings commit every ~100 ms, so the window spans several commit periods and every
 * phase of one, and a kill that soon after a restart also hits the commits of what the broker
 * queued meanwhile. The kills are spread over KILLS strata of it, so every run covers all of it.
 */
const KILL_AFTER_MS = { min: 20, max: 400 };

test(`the ingest SIGKILLed ${KILLS} times mid-stream (mid-commit) loses nothing it acknowledged`, async (t) => {
  const seed = chaosSeed();
  t.diagnostic(`chaos seed ${seed} (replay with CHAOS_SEED=${seed})`);
  const random = seededRandom(seed);
  const dir = fileTempDir('kedge-ingest-kill-');
  // Independent: the simulated meters and the broker start side by side.
  const simStarting = startModbusSim();
  const brokerStarting = startMosquitto({ persistence: true, extraConf: 'max_queued_messages 0' });
  const [sim, broker] = await Promise.all([simStarting, brokerStarting]).catch(async (err: unknown) => {
    await Promise.allSettled([simStarting.then((s) => s.close()), brokerStarting.then((b) => b.stop())]);
    throw err;
  });
  const dbPath = join(dir, 'center.db');
  const gw = GatewayUnderTest.sim(dir, { gatewayId: 'gw-ingest-kill', simPort: sim.port, brokerUrl: broker.url, intervalMs: 50 });
  let ingest: ManagedProcess | null = null;
  const store = () => new IngestStore(dbPath);
  t.after(() =>
    closeAll(
      () => gw.stop(),
      () => ingest?.stop(),
      () => broker.stop(),
      () => sim.close(),
      () => removeDir(dir),
    ),
  );
  const startIngest = async () => {
    ingest = await startProcess(
      process.execPath,
      [...nodeEntry(INGEST_MAIN), '--url', broker.url, '--db', dbPath, '--client-id', 'ingest-kill', '--report-every', '0'],
      { cwd: ROOT, name: 'ingest', readyLine: /ingest subscribed|ingest connected/, timeoutMs: 30_000 },
    );
  };

  // The ingest first: before its first subscription the broker keeps no session for it, and
  // would drop what the gateway sent meanwhile.
  await startIngest();
  await gw.start();
  const readSeq = () => {
    const s = store();
    try {
      return s.confirmed(gw.id);
    } finally {
      s.close();
    }
  };
  await gw.waitFor(() => readSeq() > 200, { timeoutMs: 30_000, what: 'readings at the center' });
  const strata = [...Array(KILLS).keys()];
  for (let i = strata.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [strata[i], strata[j]] = [strata[j]!, strata[i]!];
  }
  for (let i = 1; i <= KILLS; i++) {
    // A seeded moment of the commit cycle, in this kill's stratum: often a commit is under way.
    const kill = (strata[i - 1]! + random()) / KILLS;
    await sleep(Math.round(KILL_AFTER_MS.min + kill * (KILL_AFTER_MS.max - KILL_AFTER_MS.min)));
    ingest!.kill('SIGKILL');
    await ingest!.exited;
    await startIngest();
    const before = readSeq();
    await gw.waitFor(() => readSeq() > before, { timeoutMs: 30_000, what: `round ${i}: the center moving again` });
  }
  assert.equal((await gw.stop()).code, 0);
  const log = gw.inspectLog();
  await gw.waitFor(() => readSeq() === log.lastSeq, { timeoutMs: 30_000, what: `the center to hold 1..${log.lastSeq}` });
  await ingest!.stop();
  const center = store();
  try {
    const coverage = assertEverySequenceOnce(center, gw.id, log.lastSeq);
    assert.deepEqual(coverage, { stored: log.lastSeq, evicted: 0 });
    assert.equal(assertSameReadings(center, gw), log.lastSeq);
    t.diagnostic(`sequences 1..${log.lastSeq} after ${KILLS} ingest kills: all stored, 0 missing, 0 content mismatches`);
  } finally {
    center.close();
  }
});
