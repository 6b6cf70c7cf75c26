import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@kedge/testkit/ports.ts';
import { startProcess } from '@kedge/testkit/proc.ts';

const START = fileURLToPath(new URL('./start.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('npm start runs simulator, broker, gateway and ingest, and shows readings arriving', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-start-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const args = [
    '--import', 'tsx', START,
    '--data-dir', dir,
    '--broker-port', String(await freePort()),
    '--sim-port', String(await freePort()),
    '--report-every', '2',
    '--web-port', String(await freePort()),
    '--for', '25',
  ];
  const start = await startProcess(process.execPath, args, { cwd: ROOT, name: 'npm start', timeoutMs: 30_000 });
  const exit = await start.exited;
  const out = start.output();
  assert.equal(exit.code, 0, out);
  const stored = [...out.matchAll(/ingest: (\d+) readings stored/g)].map((m) => Number(m[1]));
  // Start-up takes a few seconds (longer on a busy machine): the first reports may be empty.
  const arriving = stored.filter((n) => n > 0);
  assert.ok(arriving.length >= 2 && arriving.at(-1)! > arriving[0]!, `readings keep arriving: ${stored.join(', ')}\n${out}`);
  assert.match(out, /kuzbass\/kemerovo\/kem-demo-01 \[online\]/);
  assert.match(out, /river-station-1\/level +\d+ +good/);
  assert.match(out, /missing=0/);
  assert.match(out, /web UI: http:\/\/127\.0\.0\.1:\d+\//);
  assert.match(out, /one-time setup token: [0-9a-f-]+/);
});
