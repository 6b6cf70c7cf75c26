import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@kedge/testkit/ports.ts';
import { startProcess } from '@kedge/testkit/proc.ts';
import { tsEntry } from '@kedge/testkit/entry.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { tempDir } from '@kedge/testkit/temp-dirs.ts';

const START = fileURLToPath(new URL('./start.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Five processes start and a reading travels the whole way: generous for a loaded box. */
const ARRIVING_LIMIT_MS = 120_000;

/** The ingest's reports so far that counted stored readings (start-up may report empty ones first). */
const arriving = (out: string) => [...out.matchAll(/ingest: (\d+) readings stored/g)].map((m) => Number(m[1])).filter((n) => n > 0);

/** What a developer must see once the demo runs: readings arriving, the box online, the UI and its token. */
function demoRunning(out: string): boolean {
  const stored = arriving(out);
  return (
    stored.length >= 2 &&
    stored.at(-1)! > stored[0]! &&
    /kuzbass\/kemerovo\/kem-demo-01 \[online\]/.test(out) &&
    /river-station-1\/level +\d+ +good/.test(out) &&
    /missing=0/.test(out) &&
    /web UI: http:\/\/127\.0\.0\.1:\d+\//.test(out) &&
    /one-time setup token: [0-9a-f-]+/.test(out)
  );
}

test('npm start runs simulator, broker, gateway and ingest, and shows readings arriving', async (t) => {
  const dir = tempDir(t, 'kedge-start-');
  const args = [
    ...tsEntry(START),
    '--data-dir', dir,
    '--broker-port', String(await freePort()),
    '--sim-port', String(await freePort()),
    '--report-every', '2',
    '--web-port', String(await freePort()),
  ];
  // Its own group: the gateway and ingest it starts go with it even if it is killed.
  const start = await startProcess(process.execPath, args, { cwd: ROOT, name: 'npm start', timeoutMs: 30_000, group: true });
  // Its own stop (SIGTERM) stops what it started; a SIGKILL of it alone would orphan them.
  t.after(() => start.stop());
  // Until what the demo shows has been seen, not for a fixed time: on a busy machine start-up
  // alone can take longer than a fixed window would leave.
  await waitFor(() => demoRunning(start.output()), { timeoutMs: ARRIVING_LIMIT_MS, what: 'the demo to show readings arriving' }).catch((err: Error) => {
    throw new Error(`${err.message}\n${start.output()}`);
  });
  // Stopped as systemd or a terminal's close would: every process it started stops, exit 0.
  start.kill('SIGTERM');
  const exit = await start.exited;
  const out = start.output();
  assert.equal(exit.code, 0, out);
  assert.match(out, /stopping\.\.\./);
  const stored = arriving(out);
  assert.ok(stored.length >= 2 && stored.at(-1)! > stored[0]!, `readings keep arriving: ${stored.join(', ')}\n${out}`);
  assert.match(out, /kuzbass\/kemerovo\/kem-demo-01 \[online\]/);
  assert.match(out, /river-station-1\/level +\d+ +good/);
  assert.match(out, /missing=0/);
  assert.match(out, /web UI: http:\/\/127\.0\.0\.1:\d+\//);
  assert.match(out, /one-time setup token: [0-9a-f-]+/);
});
