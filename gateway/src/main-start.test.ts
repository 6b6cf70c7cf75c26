/**
 * The daemon's start-up is complete only once the gateway's start has finished: every sink
 * built and started or logged as unable to, every device polling or standing in failing. Only
 * then do OTA's health reports begin (the launcher turns the first into systemd's READY=1), so
 * "start-up complete" must never precede what the start itself says.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess } from '@kedge/testkit/proc.ts';
import { tempDir } from '@kedge/testkit/temp-dirs.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
/** Generous: a cold tsx start on the loaded 2-core CI machine. */
const START_BUDGET_MS = 60_000;

test('"start-up complete" is logged after the start has built every sink, a sink that cannot be built included', async (t) => {
  const dir = tempDir(t, 'kedge-main-start-');
  const config = join(dir, 'kedge.yaml');
  writeFileSync(
    config,
    JSON.stringify({
      gateway: { id: 'gw-start', region: 'kuzbass', municipality: 'kemerovo' },
      dataDir: './data',
      web: { enabled: false },
      uplinks: [
        // Towards a port nobody listens on: it starts, and keeps trying.
        { name: 'regional', kind: 'mqtt', url: 'mqtt://127.0.0.1:1' },
        // Its token file is missing: the sink cannot be built (it loads its implementation first).
        { name: 'receiver', kind: 'http', url: 'http://127.0.0.1:1/ingest', tokenFile: 'data/secrets/missing.token' },
      ],
    }),
  );
  const daemon = await startProcess(process.execPath, ['--import', 'tsx', MAIN, '--config', config], {
    cwd: ROOT,
    name: 'gateway',
    readyLine: /start-up complete/,
    timeoutMs: START_BUDGET_MS,
  });
  t.after(() => daemon.stop());
  const out = daemon.output();
  const cannot = out.indexOf('uplink \\"receiver\\" cannot start');
  const complete = out.indexOf('start-up complete');
  assert.ok(cannot >= 0, `the sink that cannot be built is logged before start-up completes; output:\n${out}`);
  assert.ok(cannot < complete, `output:\n${out}`);
  await daemon.stop();
});
