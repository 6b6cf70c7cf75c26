import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { IngestConsumer, IngestStore, jsonCodec } from '@kedge/cloud-sync';
import { startMosquitto } from '@kedge/scripts/testing/mosquitto.ts';
import { startProcess, type ManagedProcess } from '@kedge/scripts/testing/proc.ts';
import { simGatewayConfig } from '@kedge/scripts/testing/sim-config.ts';
import { waitFor } from '@kedge/scripts/testing/wait.ts';
import { startModbusSim } from '@kedge/scripts/sim/modbus-tcp-sim.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('a gateway killed with SIGKILL mid-stream loses nothing: after restarts every sequence reaches the ingest exactly once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-crash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sim = await startModbusSim();
  t.after(() => sim.close());
  const broker = await startMosquitto({ persistence: true });
  t.after(() => broker.stop());
  const store = new IngestStore(join(dir, 'center.db'));
  t.after(() => store.close());
  const ingest = new IngestConsumer({
    url: broker.url,
    clientId: 'ingest-crash',
    prefix: 'kedge/v1',
    store,
    codec: jsonCodec,
    logger: pino({ level: 'silent' }),
  });
  await ingest.start();
  t.after(() => ingest.stop());

  const configPath = join(dir, 'kedge.yaml');
  // JSON is YAML: the daemon reads it through its usual loader.
  writeFileSync(
    configPath,
    JSON.stringify(simGatewayConfig({ gatewayId: 'gw-crash', simPort: sim.port, brokerUrl: broker.url, dataDir: join(dir, 'data'), intervalMs: 100 })),
  );
  const startGateway = () =>
    startProcess(process.execPath, ['--import', 'tsx', MAIN, '--config', configPath], {
      cwd: ROOT,
      name: 'gateway',
      readyLine: /gateway started/,
      timeoutMs: 30_000,
    });
  const maxSeq = () => store.summaries().find((g) => g.gateway === 'gw-crash')?.maxSeq ?? 0;
  const status = () => store.summaries().find((g) => g.gateway === 'gw-crash')?.status;

  let gateway: ManagedProcess = await startGateway();
  t.after(() => gateway.stop());
  for (let round = 1; round <= 3; round++) {
    const before = maxSeq();
    await waitFor(() => maxSeq() > before + 100, { timeoutMs: 20_000, what: `readings flowing in round ${round}` });
    gateway.kill('SIGKILL');
    await gateway.exited;
    // The broker publishes the gateway's last will: the center sees it go offline.
    await waitFor(() => status() === 'offline', { timeoutMs: 20_000, what: 'the last will' });
    gateway = await startGateway();
    assert.match(gateway.output(), /not closed cleanly/, 'the restarted daemon noticed the crash and checked the log');
    await waitFor(() => status() === 'online', { what: 'the birth message after restart' });
  }
  await waitFor(() => maxSeq() > 0, { what: 'data after the last restart' });
  await gateway.stop(); // SIGTERM: a clean stop
  assert.equal((await gateway.exited).code, 0);

  const db = new Database(join(dir, 'data', 'log.db'), { readonly: true });
  const lastSeq = db.prepare('SELECT max(seq) FROM readings').pluck().get() as number;
  const integrity = db.pragma('integrity_check', { simple: true });
  db.close();
  assert.equal(integrity, 'ok');
  await waitFor(() => maxSeq() === lastSeq, { timeoutMs: 20_000, what: `the ingest to reach sequence ${lastSeq}` });
  const seqs = store.sequences('gw-crash');
  assert.equal(seqs.length, lastSeq, 'every sequence stored once');
  assert.ok(seqs.every((s, i) => s === i + 1), 'no sequence missing');
  assert.deepEqual(store.gaps('gw-crash'), []);
  assert.equal(status(), 'offline', 'a clean stop leaves the retained offline status');
});
