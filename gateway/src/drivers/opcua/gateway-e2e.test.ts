import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { startOpcuaSim } from '@kedge/testkit/sim/opcua-sim.ts';
import { freePort } from '@kedge/testkit/ports.ts';
import { startProcess } from '@kedge/testkit/proc.ts';
import { nodeEntry } from '@kedge/testkit/entry.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { ReadingLog } from '../../log/reading-log.ts';
import { tempDir } from '@kedge/testkit/temp-dirs.ts';

const MAIN = fileURLToPath(new URL('../../main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

test('the gateway daemon logs subscribed and polled OPC UA values into SQLite, and writes nothing under $HOME', async (t) => {
  const dir = tempDir(t, 'kedge-opcua-e2e-');
  const home = join(dir, 'home');
  mkdirSync(home);
  const dataDir = join(dir, 'data');
  const simPort = await freePort();
  const endpointUrl = `opc.tcp://127.0.0.1:${simPort}`;
  const nodeId = (name: string) => `ns=1;s=${name}`;

  const configPath = join(dir, 'kedge.yaml');
  // JSON is YAML. Nothing listens at the uplink: readings wait in the log, as during an outage.
  writeFileSync(
    configPath,
    JSON.stringify({
      gateway: { id: 'gw-opcua', region: 'kuzbass', municipality: 'kemerovo' },
      dataDir,
      log: { flushMs: 50, synchronous: 'normal' },
      uplink: { url: `mqtt://127.0.0.1:${await freePort()}`, reconnectMinMs: 200, reconnectMaxMs: 1000 },
      web: { enabled: false },
      devices: [
        {
          id: 'river',
          driver: 'opcua',
          endpointUrl,
          backoff: { minMs: 200, maxMs: 1000 },
          publishingIntervalMs: 100,
          samplingIntervalMs: 50,
          intervalMs: 200,
          // Not what this test is about: the gateway's first connect makes its client key, slow on a loaded box.
          timeoutMs: 30_000,
          points: [
            { id: 'level', nodeId: nodeId('Level'), unit: 'cm', scale: 10 },
            { id: 'pulses', nodeId: nodeId('PulseCount') },
            { id: 'pump', nodeId: nodeId('PumpRunning'), mode: 'poll', heartbeatMs: 200 },
          ],
        },
      ],
    }),
  );
  // An empty HOME and no XDG overrides: node-opcua's default PKI would land in $HOME/.config.
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
  for (const k of Object.keys(env)) if (k.startsWith('XDG_')) delete env[k];
  // The server first: a poll before it listens would log a bad pump reading (the driver retries,
  // but the test asserts every logged reading).
  const simStarted = startOpcuaSim({ port: simPort, security: 'none', tickMs: 100 });
  t.after(async () => (await simStarted).stop());
  await simStarted;
  const gateway = await startProcess(process.execPath, [...nodeEntry(MAIN), '--config', configPath, '--log-level', 'info'], {
    cwd: ROOT,
    env,
    name: 'gateway',
    readyLine: /gateway started/,
    timeoutMs: 30_000,
  });
  t.after(() => gateway.stop());
  await simStarted;

  const logPath = join(dataDir, 'log.db');
  const opts = { maxBytes: 64 * 1024 * 1024, flushMs: 1000, flushRows: 1000, synchronous: 'normal' as const, retainAckedMs: 3_600_000 };
  const countOf = (key: string) => {
    const db = new Database(logPath, { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare('SELECT count(*) AS n FROM readings r JOIN points p ON p.id = r.point WHERE p.key = ?').get(key) as { n: number };
      return row.n;
    } finally {
      db.close();
    }
  };
  await waitFor(() => existsSync(logPath) && countOf('river/level') >= 3 && countOf('river/pump') >= 2 && countOf('river/pulses') >= 2, {
    timeoutMs: 30_000,
    intervalMs: 500,
    what: `OPC UA readings in the log (gateway output: ${gateway.output().slice(-2000)})`,
  });
  // A hard stop: what is in the log must not depend on a clean shutdown.
  gateway.kill('SIGKILL');
  await gateway.exited;

  const log = new ReadingLog(logPath, opts);
  const records = log.readAfter(0, 100_000);
  log.close();
  const of = (key: string) => records.filter((r) => r.point === key);
  for (const r of of('river/level')) {
    assert.equal(r.quality, 'good');
    // Scaled by the pipeline: the simulated level is 270..352 cm.
    assert.ok(typeof r.value === 'number' && r.value > 2000 && r.value < 4000, String(r.value));
  }
  for (const r of of('river/pulses')) assert.ok(typeof r.value === 'bigint' && r.value > 9_007_199_254_740_992n, String(r.value));
  assert.ok(of('river/pump').every((r) => r.value === false && r.quality === 'good'));
  // Sequence numbers without holes, from 1.
  assert.deepEqual(records.map((r) => r.seq), records.map((_, i) => i + 1));

  assert.deepEqual(readdirSync(home), [], 'nothing written under $HOME');
  assert.ok(existsSync(join(dataDir, 'pki', 'opcua', 'own', 'certs', 'client_certificate.pem')), 'client certificate in <dataDir>/pki/opcua');
});
