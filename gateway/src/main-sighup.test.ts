/**
 * `systemctl reload` (SIGHUP, forwarded by kedge-boot) can come at any moment, also while the
 * daemon is still starting: on a Pi, loading node-opcua takes many seconds. Node's default action
 * for SIGHUP ends the process, which the launcher counts as a crash (on a trial boot, towards a
 * rollback). The daemon takes the signal from its first moment, and applies the reload once
 * start-up completed.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@kedge/testkit/ports.ts';
import { startProcess } from '@kedge/testkit/proc.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { tempDir } from '@kedge/testkit/temp-dirs.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const GATE = fileURLToPath(new URL('./fixtures/module-gate/gate.mjs', import.meta.url));
/** Generous: a cold tsx start, then node-opcua's load, on the loaded 2-core CI machine. */
const START_BUDGET_MS = 90_000;

function config(opcuaPort: number, extraDevices: object[] = []): string {
  return JSON.stringify({
    gateway: { id: 'gw-hup', region: 'kuzbass', municipality: 'kemerovo' },
    dataDir: './data',
    web: { enabled: false },
    uplinks: [{ name: 'regional', kind: 'mqtt', url: 'mqtt://127.0.0.1:1' }],
    devices: [
      // Its implementation (node-opcua) loads during start-up: the gate holds that load back.
      { id: 'river', driver: 'opcua', endpointUrl: `opc.tcp://127.0.0.1:${opcuaPort}`, points: [{ id: 'level', nodeId: 'ns=1;s=Level' }] },
      ...extraDevices,
    ],
  });
}

test('a SIGHUP during a slow start-up neither kills the daemon nor is lost: the reload is applied once start-up completed', async (t) => {
  const dir = tempDir(t, 'kedge-main-hup-');
  const path = join(dir, 'kedge.yaml');
  const opcuaPort = await freePort();
  writeFileSync(path, config(opcuaPort));
  // Through tsx, not the test bundle: the gate recognises the OPC UA implementation by its source URL.
  const daemon = await startProcess(process.execPath, ['--import', 'tsx', '--import', GATE, MAIN, '--config', path], {
    cwd: ROOT,
    name: 'gateway',
    env: { ...process.env, KEDGE_TEST_GATE_MODULE: 'drivers/opcua/opcua-device.ts', KEDGE_TEST_GATE_DIR: dir },
    readyLine: /"msg":"starting"/,
    timeoutMs: START_BUDGET_MS,
  });
  t.after(() => daemon.stop());
  // A wait that ends at once, with the output, if the daemon exits meanwhile (the old default action).
  const until = (cond: () => boolean, what: string) =>
    Promise.race([
      waitFor(cond, { what, timeoutMs: START_BUDGET_MS }),
      daemon.exited.then((e) => assert.fail(`the daemon exited (code ${e.code}, signal ${e.signal}) while waiting for ${what}; output:\n${daemon.output()}`)),
    ]);

  // The daemon is inside the gateway's start: creating the OPC UA device waits on its module.
  await until(() => existsSync(join(dir, 'reached')), 'start-up reaching the OPC UA driver load');
  assert.doesNotMatch(daemon.output(), /start-up complete/);
  // The box's operator edits the file (a Modbus device added) and reloads, while it starts.
  writeFileSync(path, config(opcuaPort, [{ id: 'pump', driver: 'modbus-tcp', host: '127.0.0.1', port: 1, points: [{ id: 'flow', table: 'holding', address: 0, type: 'float32' }] }]));
  daemon.kill('SIGHUP');
  await until(() => /SIGHUP during start-up/.test(daemon.output()), 'the SIGHUP taken and queued');
  assert.doesNotMatch(daemon.output(), /config reloaded/, 'nothing reloads before the start is done');

  writeFileSync(join(dir, 'open'), '');
  await until(() => /"devices":2,"msg":"config reloaded"|"msg":"config reloaded".*"devices":2/.test(daemon.output()), 'the queued reload applied with the edited file');
  const out = daemon.output();
  assert.ok(out.indexOf('start-up complete') < out.indexOf('config reloaded'), `the reload follows start-up; output:\n${out}`);
  assert.equal(out.match(/config reloaded/g)?.length, 1, 'one SIGHUP, one reload');
  assert.doesNotThrow(() => process.kill(daemon.pid, 0), 'the daemon is still running');
  await daemon.stop();
});
