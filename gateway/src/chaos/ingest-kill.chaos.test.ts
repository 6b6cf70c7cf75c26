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

test(`the ingest SIGKILLed ${KILLS} times mid-stream (mid-commit) loses nothing it acknowledged`, async (t) => {
  const seed = chaosSeed();
  t.diagnostic(`chaos seed ${seed} (replay with CHAOS_SEED=${seed})`);
  const random = seededRandom(seed);
  const dir = fileTempDir('kedge-ingest-kill-');
  const sim = await startModbusSim();
  const broker = await startMosquitto({ persistence: true, extraConf: 'max_queued_messages 0' });
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
  for (let i = 1; i <= KILLS; i++) {
    // Batches of a few hundred readings commit every ~100 ms: a kill 20-400 ms in often lands in one.
    await sleep(Math.round(20 + random() * 380));
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
