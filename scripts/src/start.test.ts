import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './testing/ports.ts';
import { startProcess } from './testing/proc.ts';

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
    '--for', '12',
  ];
  const start = await startProcess(process.execPath, args, { cwd: ROOT, name: 'npm start', timeoutMs: 30_000 });
  const exit = await start.exited;
  const out = start.output();
  assert.equal(exit.code, 0, out);
  const stored = [...out.matchAll(/ingest: (\d+) readings stored/g)].map((m) => Number(m[1]));
  assert.ok(stored.length >= 2, `the ingest reported ${stored.length} times:\n${out}`);
  assert.ok(stored.at(-1)! > stored[0]! && stored[0]! > 0, `readings keep arriving: ${stored.join(', ')}`);
  assert.match(out, /kuzbass\/kemerovo\/kem-demo-01 \[online\]/);
  assert.match(out, /river-station-1\/level +\d+ +good/);
  assert.match(out, /missing=0/);
});
