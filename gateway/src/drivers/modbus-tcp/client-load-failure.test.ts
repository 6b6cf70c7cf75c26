/**
 * modbus-serial is loaded on a device's first connect (tcp-transport.ts, serial-transport.ts).
 * When that load fails (a broken install, its native serialport missing), the error the device
 * logs names the device's address, like any other connect failure: an engineer with twenty
 * meters on the box must see which ones are affected. The module gate makes the load fail.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@kedge/testkit/ports.ts';
import { startProcess } from '@kedge/testkit/proc.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { tempDir } from '@kedge/testkit/temp-dirs.ts';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../main.ts', import.meta.url));
const GATE = fileURLToPath(new URL('../../fixtures/module-gate/gate.mjs', import.meta.url));
/** Generous: a cold tsx start on the loaded 2-core CI machine. */
const START_BUDGET_MS = 90_000;
const BROKEN = 'modbus-serial: simulated broken install';

test('a Modbus client library that fails to load is reported with the TCP device host:port and the serial port path', async (t) => {
  const dir = tempDir(t, 'kedge-modbus-load-');
  const port = await freePort();
  const serialPath = join(dir, 'ttyKEDGE0');
  writeFileSync(
    join(dir, 'kedge.json'),
    JSON.stringify({
      gateway: { id: 'gw-load', region: 'kuzbass', municipality: 'kemerovo' },
      dataDir: './data',
      web: { enabled: false },
      uplinks: [{ name: 'regional', kind: 'mqtt', url: 'mqtt://127.0.0.1:1' }],
      devices: [
        { id: 'pump', driver: 'modbus-tcp', host: '127.0.0.1', port, points: [{ id: 'flow', table: 'holding', address: 0, type: 'float32' }] },
        { id: 'heat', driver: 'modbus-rtu', port: serialPath, baudRate: 9600, parity: 'even', points: [{ id: 'power', table: 'input', address: 0, type: 'float32' }] },
      ],
    }),
  );
  const daemon = await startProcess(process.execPath, ['--import', 'tsx', '--import', GATE, MAIN, '--config', join(dir, 'kedge.json')], {
    cwd: ROOT,
    name: 'gateway',
    env: { ...process.env, KEDGE_TEST_GATE_MODULE: 'drivers/modbus/modbus-serial.ts', KEDGE_TEST_GATE_DIR: dir, KEDGE_TEST_GATE_FAIL: BROKEN },
  });
  t.after(() => daemon.stop());
  const tcp = `cannot load the Modbus client for 127.0.0.1:${port}: ${BROKEN}`;
  const serial = `cannot open serial port ${serialPath}: ${BROKEN}`;
  await Promise.race([
    waitFor(() => daemon.output().includes(tcp) && daemon.output().includes(serial), { what: 'both devices reporting the failed load', timeoutMs: START_BUDGET_MS }),
    daemon.exited.then((e) => assert.fail(`the daemon exited (code ${e.code}, signal ${e.signal}); output:\n${daemon.output()}`)),
  ]).catch((err: Error) => assert.fail(`${err.message}\noutput:\n${daemon.output()}`));
});
