/**
 * A signal in the first moment after the spawn, while main.ts still loads the daemon's module
 * (~0.5 s, on a Pi more): before the daemon's handlers exist, Node's default action for SIGHUP
 * and SIGTERM would end the process (rc 129 to the launcher: a crash). main.ts queues them and
 * the daemon replays them once its handlers are installed. The module gate holds daemon.ts's
 * load back, so "while it loads" is a state the test waits for, not a moment it hopes to hit.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, type ManagedProcess } from '@kedge/testkit/proc.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { tempDir } from '@kedge/testkit/temp-dirs.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const GATE = fileURLToPath(new URL('./fixtures/module-gate/gate.mjs', import.meta.url));
/** Generous: a cold tsx start on the loaded 2-core CI machine. */
const START_BUDGET_MS = 90_000;

const CONFIG = JSON.stringify({
  gateway: { id: 'gw-early', region: 'kuzbass', municipality: 'kemerovo' },
  dataDir: './data',
  web: { enabled: false },
  uplinks: [{ name: 'regional', kind: 'mqtt', url: 'mqtt://127.0.0.1:1' }],
  devices: [{ id: 'pump', driver: 'modbus-tcp', host: '127.0.0.1', port: 1, points: [{ id: 'flow', table: 'holding', address: 0, type: 'float32' }] }],
});

/** The daemon, held inside main.ts's import of daemon.ts (the gate reached, not yet open). */
async function daemonWhileItLoads(t: test.TestContext): Promise<{ daemon: ManagedProcess; dir: string; until: (cond: () => boolean, what: string) => Promise<unknown> }> {
  const dir = tempDir(t, 'kedge-main-early-');
  writeFileSync(join(dir, 'kedge.json'), CONFIG);
  const daemon = await startProcess(process.execPath, ['--import', 'tsx', '--import', GATE, MAIN, '--config', join(dir, 'kedge.json')], {
    // The repository's tsconfig for tsx; the config's relative dataDir resolves beside the config.
    cwd: ROOT,
    name: 'gateway',
    env: { ...process.env, KEDGE_TEST_GATE_MODULE: 'gateway/src/daemon.ts', KEDGE_TEST_GATE_DIR: dir },
  });
  t.after(() => daemon.stop());
  const until = (cond: () => boolean, what: string) =>
    Promise.race([
      waitFor(cond, { what, timeoutMs: START_BUDGET_MS }),
      daemon.exited.then((e) => assert.fail(`the daemon exited (code ${e.code}, signal ${e.signal}) while waiting for ${what}; output:\n${daemon.output()}`)),
    ]);
  await until(() => existsSync(join(dir, 'reached')), 'main.ts importing daemon.ts');
  return { daemon, dir, until };
}

test('a SIGHUP while main.ts loads the daemon neither kills it nor is lost: it reloads once after start-up, and a SIGTERM then stops it cleanly', async (t) => {
  const { daemon, dir, until } = await daemonWhileItLoads(t);
  daemon.kill('SIGHUP');
  await until(() => /SIGHUP while the daemon loads/.test(daemon.output()), 'the SIGHUP queued by main.ts');
  writeFileSync(join(dir, 'open'), '');
  await until(() => /applying the SIGHUP received during start-up/.test(daemon.output()), 'the queued SIGHUP applied');
  const out = daemon.output();
  assert.ok(out.indexOf('start-up complete') >= 0 && out.indexOf('start-up complete') < out.indexOf('applying the SIGHUP'), `the reload follows start-up; output:\n${out}`);
  assert.equal(out.match(/applying the SIGHUP/g)?.length, 1);
  daemon.kill('SIGTERM');
  const exit = await daemon.exited;
  assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, daemon.output());
});

test('a SIGTERM while main.ts loads the daemon stops it as soon as its handlers exist, with exit code 0', async (t) => {
  const { daemon, dir, until } = await daemonWhileItLoads(t);
  daemon.kill('SIGTERM');
  await until(() => /SIGTERM while the daemon loads/.test(daemon.output()), 'the SIGTERM queued by main.ts');
  writeFileSync(join(dir, 'open'), '');
  const exit = await daemon.exited;
  assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, daemon.output());
  assert.match(daemon.output(), /"signal":"SIGTERM","msg":"stopping"/);
  assert.doesNotMatch(daemon.output(), /start-up complete/);
});
