import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { startProcess } from '@kedge/testkit/proc.ts';
import { nodeEntry } from '@kedge/testkit/entry.ts';
import { freePort } from '@kedge/testkit/ports.ts';
import { simGatewayConfig } from '@kedge/testkit/sim/sim-config.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { startModbusSim, defaultMeters } from '@kedge/testkit/sim/modbus-tcp-sim.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

/**
 * Removed once every test of the file is done: a test's own `t.after` hooks run in the order they
 * were registered, so a removal registered with the folder would run while the daemon started
 * later in the test still writes its log there (ENOTEMPTY, and the daemon was never stopped).
 */
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-main-'));
  dirs.push(dir);
  return dir;
}

const BAD = `gateway:
  id: gw-main
  region: kuzbass
  municipality: kemerovo
uplinks:
  - { name: uplink, kind: mqtt, url: "mqtt://127.0.0.1:1" }
devices:
  - id: m1
    driver: modbus-tcp
    host: 127.0.0.1
    points:
      - id: flow
        table: holding
        address: 0
        type: float23
`;

test('a bad config file keeps the daemon from starting and names the field and line', async (t) => {
  const dir = tempDir();
  const path = join(dir, 'kedge.yaml');
  writeFileSync(path, BAD);
  const err = await run(process.execPath, [...nodeEntry(MAIN), '--config', path], { cwd: ROOT }).then(
    () => assert.fail('the daemon started with a bad config'),
    (e: { code: number; stderr: string }) => e,
  );
  assert.equal(err.code, 2);
  assert.match(err.stderr, new RegExp(`${path}:15:15 devices\\[0\\]\\.points\\[0\\]\\.type: must be one of`));
});

test('--check validates a file without starting anything', async (t) => {
  const dir = tempDir();
  const path = join(dir, 'kedge.yaml');
  writeFileSync(path, BAD.replace('float23', 'float32'));
  const { stdout } = await run(process.execPath, [...nodeEntry(MAIN), '--config', path, '--check'], { cwd: ROOT });
  assert.match(stdout, /OK \(1 devices\)/);
});

test('--check warns about a probably wrong config but accepts it (exit 0), naming the line', async (t) => {
  const dir = tempDir();
  const path = join(dir, 'kedge.yaml');
  writeFileSync(path, BAD.replace('float23', 'float32').replace('address: 0', 'address: 40001'));
  const { stdout, stderr } = await run(process.execPath, [...nodeEntry(MAIN), '--config', path, '--check'], { cwd: ROOT });
  assert.match(stdout, /OK \(1 devices, 1 warning\)/);
  assert.match(stderr, new RegExp(`${path}:14:18 devices\\[0\\]\\.points\\[0\\]\\.address: warning: address 40001 looks like Modicon notation 4xxxx`));
});

test('SIGHUP reloads the config; a bad file is refused and the running config keeps polling', async (t) => {
  const dir = tempDir();
  const sim = await startModbusSim();
  t.after(() => sim.close());
  const [water, heat] = defaultMeters();
  const configPath = join(dir, 'kedge.yaml');
  const base = { gatewayId: 'gw-reload', simPort: sim.port, brokerUrl: `mqtt://127.0.0.1:${await freePort()}`, dataDir: join(dir, 'data'), intervalMs: 100 };
  writeFileSync(configPath, JSON.stringify(simGatewayConfig({ ...base, meters: [water!] })));
  const daemon = await startProcess(process.execPath, [...nodeEntry(MAIN), '--config', configPath], {
    cwd: ROOT,
    name: 'gateway',
    readyLine: /gateway started/,
    timeoutMs: 30_000,
  });
  t.after(() => daemon.stop());

  const db = new Database(join(dir, 'data', 'log.db'), { readonly: true });
  t.after(() => db.close());
  const points = () => (db.prepare('SELECT key FROM points ORDER BY key').pluck().all() as string[]).map((k) => k.split('/')[0]);
  const lastSeq = () => (db.prepare('SELECT max(seq) FROM readings').pluck().get() as number | null) ?? 0;
  await waitFor(() => lastSeq() > 0, { what: 'first readings' });

  writeFileSync(configPath, BAD);
  daemon.kill('SIGHUP');
  await waitFor(() => /config reload refused/.test(daemon.output()), { what: 'the refusal' });
  assert.match(daemon.output(), /devices\[0\]\.points\[0\]\.type/, 'the reason names the field');
  const before = lastSeq();
  await waitFor(() => lastSeq() > before + 10, { what: 'polling to go on with the old config' });

  writeFileSync(configPath, JSON.stringify(simGatewayConfig({ ...base, meters: [water!, heat!] })));
  daemon.kill('SIGHUP');
  await waitFor(() => /config reloaded/.test(daemon.output()), { what: 'the reload' });
  await waitFor(() => points().includes('heat-meter'), { what: 'readings of the added device' });
  assert.doesNotThrow(() => process.kill(daemon.pid, 0), 'the daemon is still running');
});

test('under systemd (stdout not a terminal) the daemon writes JSON lines, and says at start what looks wrong in its config', async (t) => {
  const dir = tempDir();
  const sim = await startModbusSim();
  t.after(() => sim.close());
  const [water] = defaultMeters();
  const config = simGatewayConfig({ gatewayId: 'gw-warn', simPort: sim.port, brokerUrl: `mqtt://127.0.0.1:${await freePort()}`, dataDir: join(dir, 'data'), intervalMs: 100, meters: [water!] });
  const device = (config.devices as Array<{ points: Array<Record<string, unknown>> }>)[0]!;
  device.points.push({ id: 'twin', table: 'holding', address: 1, type: 'float32' }); // overlaps the flow float32 at 0..1
  const configPath = join(dir, 'kedge.yaml');
  writeFileSync(configPath, JSON.stringify(config));
  const daemon = await startProcess(process.execPath, [...nodeEntry(MAIN), '--config', configPath], { cwd: ROOT, name: 'gateway', readyLine: /gateway started/, timeoutMs: 30_000 });
  t.after(() => daemon.stop());
  const records = daemon
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string });
  const warning = records.find((r) => /warning: point "twin" \(float32, holding 1\.\.2\) overlaps point "flow"/.test(r.msg));
  assert.ok(warning, daemon.output());
  assert.equal(warning.level, 40);
  assert.ok(warning.msg.startsWith(`config ${configPath}:`), warning.msg);
});
