/**
 * A sink's definition (kind, schema, flags) loads with the config; its implementation only
 * when an `uplinks:` entry of its kind is built (SinkDefinition.create, a dynamic import). A box
 * with one MQTT compact uplink never carries Sparkplug (protobufjs and the .proto) nor the HTTP
 * sink: proven on the real daemon, whose modules a preload records
 * (drivers/fixtures/loaded-modules/record.mjs), with a config that adds a Sparkplug and an HTTP
 * uplink as the control that the recording sees them when they are built.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'node:test';
import mqtt from 'mqtt';
import { freePort } from '@kedge/testkit/ports.ts';
import { startProcess } from '@kedge/testkit/proc.ts';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { simGatewayConfig } from '@kedge/testkit/sim/sim-config.ts';
import { startModbusSim, defaultMeters } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { tempDir } from '@kedge/testkit/temp-dirs.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const RECORD = fileURLToPath(new URL('./drivers/fixtures/loaded-modules/record.mjs', import.meta.url));
const NORTH = fileURLToPath(new URL('../../cloud-sync/src/north/', import.meta.url));
const SPARKPLUG_DEFINITION = join(NORTH, 'sparkplug/index.ts');
const SPARKPLUG_IMPLEMENTATION = [join(NORTH, 'sparkplug/sparkplug-uplink.ts'), join(NORTH, '../codec/sparkplug-payload.ts')];
const HTTP_DEFINITION = join(NORTH, 'http/index.ts');
const HTTP_IMPLEMENTATION = [join(NORTH, 'http/sink.ts'), join(NORTH, 'http/http-transport.ts')];
const MQTT_IMPLEMENTATION = join(NORTH, 'mqtt/create.ts');
/** The daemon's start-up on a loaded 2-core machine (tsx compiles every file it loads). */
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

const protobufjs = (l: Loaded) => [...l.files].filter((f) => /[/\\]node_modules[/\\](protobufjs|@protobufjs|sparkplug-payload)[/\\]/.test(f));
const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;

/** Starts the daemon on `config`, waits until `ready`, stops it; what it had loaded. */
async function runDaemon(t: test.TestContext, dir: string, config: Record<string, unknown>, ready: () => boolean | Promise<boolean>, what: string): Promise<Loaded> {
  const path = join(dir, `${what.replace(/\W+/g, '-')}.yaml`);
  writeFileSync(path, JSON.stringify(config));
  const record = join(dir, `${what.replace(/\W+/g, '-')}.json`);
  const daemon = await startProcess(process.execPath, ['--import', 'tsx', '--import', RECORD, MAIN, '--config', path], {
    cwd: ROOT,
    name: what,
    env: { ...process.env, KEDGE_LOADED_MODULES_FILE: record },
    readyLine: /start-up complete/,
    timeoutMs: START_BUDGET_MS,
  });
  t.after(() => daemon.stop());
  await waitFor(ready, { what, timeoutMs: START_BUDGET_MS });
  await daemon.stop();
  assert.ok(existsSync(record), `${what}: nothing recorded; output:\n${daemon.output()}`);
  return readLoaded(record);
}

test('a gateway with one MQTT compact uplink never loads Sparkplug (protobufjs) nor the HTTP sink; adding those uplinks loads them', async (t) => {
  const dir = tempDir(t, 'kedge-north-lazy-');
  const sim = await startModbusSim();
  t.after(() => sim.close());
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  // What reached the broker: the kedge birth (retained status) and Sparkplug's NBIRTH.
  const seen = new Set<string>();
  const watcher = await mqtt.connectAsync(broker.url, { clientId: 'lazy-watcher' });
  t.after(() => watcher.endAsync(true));
  watcher.on('message', (topic, payload) => {
    if (topic.endsWith('/status') && (JSON.parse(payload.toString()) as { state?: string }).state === 'online') seen.add(`birth ${topic.split('/')[4]}`);
    if (topic.startsWith('spBv1.0/') && topic.includes('/NBIRTH/')) seen.add('nbirth');
  });
  await watcher.subscribeAsync(['kedge/v1/+/+/+/status', 'spBv1.0/#']);

  const mqttUplink = { name: 'uplink', kind: 'mqtt', url: broker.url, codec: 'compact', batchMaxDelayMs: 100, reconnectMinMs: 200, reconnectMaxMs: 1000 };
  const base = (id: string, uplinks: object[]) => {
    const { uplink: _single, ...config } = simGatewayConfig({ gatewayId: id, simPort: sim.port, brokerUrl: broker.url, dataDir: join(dir, `data-${id}`), intervalMs: 100, meters: defaultMeters().slice(0, 1) });
    return { ...config, uplinks };
  };

  // The MQTT uplink built, started and online: its birth is at the broker.
  const only = await runDaemon(t, dir, base('gw-mqtt', [mqttUplink]), () => seen.has('birth gw-mqtt'), 'mqtt only');
  assert.ok(only.files.has(MQTT_IMPLEMENTATION), 'the MQTT uplink was built from its implementation');
  assert.ok(only.files.has(SPARKPLUG_DEFINITION) && only.files.has(HTTP_DEFINITION), 'every definition is part of the config schema');
  for (const f of [...SPARKPLUG_IMPLEMENTATION, ...HTTP_IMPLEMENTATION]) assert.ok(!only.files.has(f), `an MQTT-only gateway loaded ${f}`);
  assert.deepEqual(protobufjs(only), [], 'an MQTT-only gateway loaded protobufjs');

  // The control: the same gateway with a Sparkplug and an HTTP uplink (nobody listens at its URL).
  const everything = await runDaemon(
    t,
    dir,
    base('gw-all', [
      mqttUplink,
      { name: 'scada', kind: 'sparkplug', url: broker.url, reconnectMinMs: 200, reconnectMaxMs: 1000 },
      { name: 'city', kind: 'http', url: `http://127.0.0.1:${await freePort()}/batches`, reconnectMinMs: 200, reconnectMaxMs: 1000 },
    ]),
    () => seen.has('birth gw-all') && seen.has('nbirth'),
    'mqtt sparkplug and http',
  );
  for (const f of [...SPARKPLUG_IMPLEMENTATION, ...HTTP_IMPLEMENTATION]) assert.ok(everything.files.has(f), `the recording did not see ${f}`);
  assert.ok(protobufjs(everything).length > 0, 'the recording did not see protobufjs');
  t.diagnostic(
    `at stop: MQTT only rss ${mb(only.memory.rss)} heapUsed ${mb(only.memory.heapUsed)}, ${only.files.size} modules; ` +
      `with Sparkplug and HTTP uplinks added rss ${mb(everything.memory.rss)} heapUsed ${mb(everything.memory.heapUsed)}, ${everything.files.size} modules ` +
      `(${protobufjs(everything).length} of protobufjs)`,
  );
});
