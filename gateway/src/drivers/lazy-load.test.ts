/**
 * A driver's definition (schema, form, describe, hooks) loads with the config; its
 * implementation only when a device of it is created (DriverDefinition.create). OPC UA's is
 * node-opcua, tens of MB that a Modbus-only box must never carry: proven on the real daemon,
 * whose modules a preload records (fixtures/loaded-modules/record.mjs), with an OPC UA device
 * as the control that the recording sees node-opcua when it is loaded.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'node:test';
import Database from 'better-sqlite3';
import { freePort } from '@kedge/testkit/ports.ts';
import { tsEntry } from '@kedge/testkit/entry.ts';
import { startProcess } from '@kedge/testkit/proc.ts';
import { simGatewayConfig } from '@kedge/testkit/sim/sim-config.ts';
import { startModbusSim, defaultMeters } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { tempDir as testTempDir } from '@kedge/testkit/temp-dirs.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));
const RECORD = fileURLToPath(new URL('./fixtures/loaded-modules/record.mjs', import.meta.url));
const OPCUA_IMPLEMENTATION = fileURLToPath(new URL('./opcua/opcua-device.ts', import.meta.url));
const OPCUA_DEFINITION = fileURLToPath(new URL('./opcua/index.ts', import.meta.url));
/** node-opcua's start-up on a loaded 2-core machine, and the daemon's own. */
const START_BUDGET_MS = 60_000;

interface Loaded {
  /** Files (paths) of every module the process loaded, ES and CommonJS. */
  files: Set<string>;
  memory: NodeJS.MemoryUsage;
}

function readLoaded(file: string): Loaded {
  const { cjs, memory } = JSON.parse(readFileSync(file, 'utf8')) as { cjs: string[]; memory: NodeJS.MemoryUsage };
  const esm = readFileSync(`${file}.esm`, 'utf8')
    .split('\n')
    .filter((u) => u.startsWith('file:'))
    .map((u) => fileURLToPath(u));
  return { files: new Set([...cjs, ...esm]), memory };
}

const nodeOpcua = (l: Loaded) => [...l.files].filter((f) => /[/\\]node_modules[/\\]node-opcua/.test(f));
const SRC = fileURLToPath(new URL('../', import.meta.url));
/**
 * What only the daemon needs (main.ts imports daemon.ts after --check): `--check` must not load
 * it. Sources of the daemon, the Modbus transports' library (loaded on the first connect), and
 * the packages of the log, the reading log, the uplinks and the web UI.
 */
const DAEMON_SOURCES = ['daemon.ts', 'gateway.ts', 'log/reading-log.ts', 'web/start-web.ts', 'drivers/modbus/modbus-serial.ts'].map((f) => join(SRC, f));
const DAEMON_PACKAGES = ['pino', 'better-sqlite3', 'mqtt', 'modbus-serial', 'serialport', 'fastify'];
const packagesLoaded = (l: Loaded, names: readonly string[]) =>
  names.filter((name) => [...l.files].some((f) => f.split(/[/\\]/).join('/').includes(`/node_modules/${name}/`)));
const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;

/** Removed after the stops of what the test started in it (testkit/src/temp-dirs.ts). */
const tempDir = (t: test.TestContext) => testTempDir(t, 'kedge-lazy-');

/**
 * The daemon from its sources (the recording names source files), through the TypeScript loader
 * this test runs under (tsEntry: about half the CPU of tsx per start), with the recording preload.
 */
const daemonArgs = (config: string, ...more: string[]) => {
  const [imp, loader, main] = tsEntry(MAIN) as [string, string, string];
  return [imp, loader, '--import', RECORD, main, '--config', config, ...more];
};

test('--check of a Modbus-only config loads the OPC UA definition but not node-opcua', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'kedge.yaml');
  writeFileSync(config, JSON.stringify(simGatewayConfig({ gatewayId: 'gw-lazy', simPort: 5020, brokerUrl: 'mqtt://127.0.0.1:1', dataDir: join(dir, 'data') })));
  const record = join(dir, 'loaded.json');
  const { stdout } = await promisify(execFile)(process.execPath, daemonArgs(config, '--check'), { cwd: ROOT, env: { ...process.env, KEDGE_LOADED_MODULES_FILE: record } });
  assert.match(stdout, /OK \(\d+ devices/);
  const loaded = readLoaded(record);
  // The union of device schemas includes OPC UA's: the definition is loaded, and light.
  assert.ok(loaded.files.has(OPCUA_DEFINITION), 'the OPC UA definition is part of the config schema');
  assert.ok(!loaded.files.has(OPCUA_IMPLEMENTATION), 'the OPC UA implementation was loaded by --check');
  assert.deepEqual(nodeOpcua(loaded), []);
  assert.deepEqual(DAEMON_SOURCES.filter((f) => loaded.files.has(f)), [], '--check loaded daemon modules');
  assert.deepEqual(packagesLoaded(loaded, DAEMON_PACKAGES), [], '--check loaded daemon packages');
  // The control: the config's own modules are what the recording sees.
  assert.ok(loaded.files.has(join(SRC, 'config/load.ts')) && packagesLoaded(loaded, ['zod', 'yaml']).length === 2, 'the recording saw the config loading');
});

test('--help and --version load the command line alone: no config schema, no daemon', async (t) => {
  const dir = tempDir(t);
  for (const flag of ['--help', '--version']) {
    const record = join(dir, `${flag.slice(2)}.json`);
    const { stdout } = await promisify(execFile)(process.execPath, daemonArgs(join(dir, 'none.yaml'), flag), { cwd: ROOT, env: { ...process.env, KEDGE_LOADED_MODULES_FILE: record } });
    assert.match(stdout, flag === '--help' ? /--check/ : /^\d+\.\d+\.\d+/);
    const loaded = readLoaded(record);
    assert.ok(loaded.files.has(MAIN), `${flag}: the recording saw main.ts`);
    assert.deepEqual([...DAEMON_SOURCES, join(SRC, 'config/load.ts')].filter((f) => loaded.files.has(f)), [], `${flag} loaded the config or the daemon`);
    assert.deepEqual(packagesLoaded(loaded, [...DAEMON_PACKAGES, 'zod', 'yaml']), [], `${flag} loaded packages it does not need`);
  }
});

/** Starts the daemon on `config`, waits for `ready` in its output, stops it; what it had loaded. */
async function runDaemon(t: test.TestContext, dir: string, config: Record<string, unknown>, ready: (output: string) => boolean | Promise<boolean>, what: string): Promise<Loaded> {
  const path = join(dir, `${what.replace(/\W+/g, '-')}.yaml`);
  writeFileSync(path, JSON.stringify(config));
  const record = join(dir, `${what.replace(/\W+/g, '-')}.json`);
  const daemon = await startProcess(process.execPath, daemonArgs(path), {
    cwd: ROOT,
    name: what,
    env: { ...process.env, KEDGE_LOADED_MODULES_FILE: record },
    readyLine: /start-up complete/,
    timeoutMs: START_BUDGET_MS,
  });
  t.after(() => daemon.stop());
  await waitFor(() => ready(daemon.output()), { what, timeoutMs: START_BUDGET_MS });
  await daemon.stop();
  assert.ok(existsSync(record), `${what}: nothing recorded; output:\n${daemon.output()}`);
  return readLoaded(record);
}

test('a Modbus-only gateway with its web UI polls and serves without loading node-opcua; one OPC UA device loads it', async (t) => {
  const dir = tempDir(t);
  const sim = await startModbusSim();
  t.after(() => sim.close());
  const webPort = await freePort();
  const base = simGatewayConfig({
    gatewayId: 'gw-lazy',
    simPort: sim.port,
    brokerUrl: `mqtt://127.0.0.1:${await freePort()}`,
    dataDir: join(dir, 'data'),
    intervalMs: 100,
    meters: defaultMeters().slice(0, 1),
    web: { enabled: true, host: '127.0.0.1', port: webPort },
  });
  const webAnswers = async () => (await fetch(`http://127.0.0.1:${webPort}/healthz`).catch(() => null))?.status === 200;

  const polled = (dataDir: string) => {
    if (!existsSync(join(dataDir, 'log.db'))) return false;
    const db = new Database(join(dataDir, 'log.db'), { readonly: true, fileMustExist: true });
    try {
      return ((db.prepare('SELECT count(*) FROM readings').pluck().get() as number) ?? 0) > 0;
    } finally {
      db.close();
    }
  };
  // Polled (readings in the log) and the web UI answering.
  const modbus = await runDaemon(t, dir, base, async () => polled(join(dir, 'data')) && (await webAnswers()), 'modbus only');
  assert.deepEqual(nodeOpcua(modbus), [], 'a Modbus-only gateway loaded node-opcua');
  assert.ok(!modbus.files.has(OPCUA_IMPLEMENTATION));

  // The control: the same gateway with one OPC UA device (nobody listens at its endpoint).
  const opcuaPort = await freePort();
  const withOpcua = {
    ...base,
    dataDir: join(dir, 'data-opcua'),
    web: { enabled: true, host: '127.0.0.1', port: await freePort() },
    devices: [...(base['devices'] as unknown[]), { id: 'river', driver: 'opcua', endpointUrl: `opc.tcp://127.0.0.1:${opcuaPort}`, points: [{ id: 'level', nodeId: 'ns=1;s=Level' }] }],
  };
  const opcua = await runDaemon(t, dir, withOpcua, (out) => /device \\?"river\\?"/.test(out) && polled(join(dir, 'data-opcua')), 'with an OPC UA device');
  assert.ok(opcua.files.has(OPCUA_IMPLEMENTATION), 'the OPC UA device did not load its implementation');
  assert.ok(nodeOpcua(opcua).length > 0, 'the recording did not see node-opcua');
  t.diagnostic(`at stop: Modbus only rss ${mb(modbus.memory.rss)} heapUsed ${mb(modbus.memory.heapUsed)}; with one OPC UA device added rss ${mb(opcua.memory.rss)} heapUsed ${mb(opcua.memory.heapUsed)} (web UI on in both), ${nodeOpcua(opcua).length} node-opcua modules`);
});
