/**
 * What the daemon loads at its first use, not at start, on the real daemon (a Modbus TCP device,
 * an MQTT uplink, the web UI and OTA): the device and uplink forms (z.toJSONSchema of every
 * driver's and sink's schema) only when the form API is asked, mqtt.js in the OTA agent and in
 * the UI's broker test where they connect, and never Sparkplug's protobufjs, node-opcua nor aedes
 * (the embedded broker), which this config does not use. The modules are recorded by a preload
 * (drivers/fixtures/loaded-modules/record.mjs: ES modules as they are resolved, so the recording
 * can be read while the daemon runs); the forms requested are the control that it sees them.
 * The second test runs the daemon as shipped (the run's bundle under `npm test`): a dynamic
 * import of a CommonJS package there has only its `default` export, which the first would not see.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'node:test';
import mqtt from 'mqtt';
import { nodeEntry, tsEntry } from '@kedge/testkit/entry.ts';
import { startMosquitto, type MosquittoHandle } from '@kedge/testkit/mosquitto.ts';
import { freePort } from '@kedge/testkit/ports.ts';
import { startProcess } from '@kedge/testkit/proc.ts';
import { simGatewayConfig } from '@kedge/testkit/sim/sim-config.ts';
import { startModbusSim, defaultMeters } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { tempDir } from '@kedge/testkit/temp-dirs.ts';
import { waitFor } from '@kedge/testkit/wait.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const RECORD = fileURLToPath(new URL('./drivers/fixtures/loaded-modules/record.mjs', import.meta.url));
const SRC = fileURLToPath(new URL('./', import.meta.url));
const CLOUD = fileURLToPath(new URL('../../cloud-sync/src/', import.meta.url));
const FORM_MODULES = [
  ...['modbus-tcp', 'modbus-rtu', 'opcua'].map((d) => join(SRC, 'drivers', d, 'form.ts')),
  ...['mqtt', 'http', 'sparkplug'].map((s) => join(CLOUD, 'north', s, 'form.ts')),
  join(CLOUD, 'form-kit.ts'),
];
/** The daemon's start-up through the TypeScript loader on a loaded 2-core machine. */
const START_BUDGET_MS = 60_000;
const PASSWORD = 'correct horse battery';
/** A valid Ed25519 public key: OTA runs with any trusted key, no offer is sent here. */
const OTA_KEY = 'MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=';

const packageOf = (file: string) => /[/\\]node_modules[/\\]((?:@[^/\\]+[/\\])?[^/\\]+)[/\\]/.exec(file)?.[1]?.split('\\').join('/');
const packagesIn = (files: Iterable<string>, names: readonly string[]) => names.filter((n) => [...files].some((f) => (n.endsWith('*') ? packageOf(f)?.startsWith(n.slice(0, -1)) : packageOf(f) === n)));

/** ES modules the daemon resolved so far (hooks.mjs appends each as it is resolved). */
function esmSoFar(record: string): Set<string> {
  const text = existsSync(`${record}.esm`) ? readFileSync(`${record}.esm`, 'utf8') : '';
  return new Set(text.split('\n').filter((u) => u.startsWith('file:')).map((u) => fileURLToPath(u)));
}

/** Every module of the stopped daemon, ES and CommonJS (record.mjs writes the require cache at exit). */
function allLoaded(record: string): Set<string> {
  const { cjs } = JSON.parse(readFileSync(record, 'utf8')) as { cjs: string[] };
  return new Set([...cjs, ...esmSoFar(record)]);
}

interface Box {
  base: string;
  broker: MosquittoHandle;
  /** OTA status reports seen at the broker. */
  otaReports: () => number;
  stop: () => Promise<void>;
  output: () => string;
  /** Sets the owner up with the setup token: a request with its session. */
  login: () => Promise<(method: string, path: string, body?: unknown) => Promise<{ status: number; body: unknown }>>;
}

async function startBox(t: test.TestContext, id: string, entry: string[], env: Record<string, string> = {}): Promise<Box> {
  const dir = tempDir(t, 'kedge-lazy-imports-');
  const sim = await startModbusSim({ meters: defaultMeters().slice(0, 1) });
  t.after(() => sim.close());
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  let otaReports = 0;
  const watcher = await mqtt.connectAsync(broker.url, { clientId: `${id}-watcher` });
  t.after(() => watcher.endAsync(true));
  watcher.on('message', () => otaReports++);
  await watcher.subscribeAsync(`kedge/v1/kuzbass/kemerovo/${id}/ota/status`, { qos: 1 });

  const webPort = await freePort();
  const config = {
    ...simGatewayConfig({ gatewayId: id, simPort: sim.port, brokerUrl: broker.url, dataDir: join(dir, 'data'), intervalMs: 500, meters: sim.meters, web: { host: '127.0.0.1', port: webPort } }),
    ota: { trustedKeys: [{ id: 'test', publicKey: OTA_KEY }] },
  };
  const path = join(dir, 'kedge.json');
  writeFileSync(path, JSON.stringify(config));
  const daemon = await startProcess(process.execPath, [...entry, '--config', path], {
    name: id,
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    readyLine: /setup token is in \S+/,
    timeoutMs: START_BUDGET_MS,
  });
  t.after(() => daemon.stop());
  const base = `http://127.0.0.1:${webPort}`;
  const request = async (method: string, p: string, body: unknown, headers: Record<string, string>) => {
    const res = await fetch(`${base}${p}`, { method, headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null, cookie: res.headers.get('set-cookie')?.split(';')[0] ?? '' };
  };
  return {
    base,
    broker,
    otaReports: () => otaReports,
    stop: () => daemon.stop(),
    output: () => daemon.output(),
    async login() {
      const token = readFileSync(join(dir, 'data', 'web', 'setup-token'), 'utf8').trim();
      const setup = await request('POST', '/api/auth/setup', { token, user: 'admin', password: PASSWORD }, {});
      assert.equal(setup.status, 200, JSON.stringify(setup.body));
      const headers = { cookie: setup.cookie, 'x-csrf-token': (setup.body as { csrfToken: string }).csrfToken };
      return async (method, p, body) => request(method, p, body, headers);
    },
  };
}

test('the daemon builds no form until the form API asks, and never loads protobufjs, node-opcua or aedes for a config that uses none of them', { timeout: 3 * START_BUDGET_MS }, async (t) => {
  const record = join(tempDir(t, 'kedge-lazy-imports-record-'), 'loaded.json');
  const [imp, loader, main] = tsEntry(MAIN) as [string, string, string];
  const box = await startBox(t, 'gw-lazy-imports', [imp, loader, '--import', RECORD, main], { KEDGE_LOADED_MODULES_FILE: record });
  // Started: polling, the web UI up, the OTA agent connected (it reports on connect).
  await waitFor(() => box.otaReports() > 0, { what: 'the OTA status at the broker', timeoutMs: START_BUDGET_MS });
  const call = await box.login();
  assert.deepEqual(FORM_MODULES.filter((f) => esmSoFar(record).has(f)), [], 'a form was loaded (built) before anyone asked for it');

  const drivers = await call('GET', '/api/drivers/forms');
  assert.equal(drivers.status, 200);
  assert.deepEqual((drivers.body as Array<{ driver: string }>).map((f) => f.driver), ['modbus-tcp', 'modbus-rtu', 'opcua']);
  const sinks = await call('GET', '/api/uplinks/forms');
  assert.equal(sinks.status, 200);
  assert.deepEqual((sinks.body as Array<{ kind: string }>).map((f) => f.kind), ['mqtt', 'sparkplug', 'http']);
  // The control: the recording sees each form once the API has built it.
  assert.deepEqual(FORM_MODULES.filter((f) => !esmSoFar(record).has(f)), [], 'the recording did not see the forms the API served');
  const tested = await call('POST', '/api/uplink/test', { url: box.broker.url });
  assert.deepEqual([tested.status, (tested.body as { ok: boolean }).ok], [200, true], JSON.stringify(tested.body));

  await box.stop();
  assert.ok(existsSync(record), `nothing recorded; output:\n${box.output()}`);
  const loaded = allLoaded(record);
  assert.deepEqual(packagesIn(loaded, ['protobufjs', 'node-opcua*', 'aedes']), [], 'loaded for a config that uses none of them');
  // The control for CommonJS packages: mqtt.js is one, and this box connects with it.
  assert.deepEqual(packagesIn(loaded, ['mqtt']), ['mqtt'], 'the recording did not see mqtt.js');
});

test('the daemon as shipped connects where mqtt.js is first imported: the OTA agent reports at the broker, the broker test of the UI connects', { timeout: 3 * START_BUDGET_MS }, async (t) => {
  const box = await startBox(t, 'gw-lazy-bundle', nodeEntry(MAIN));
  await waitFor(() => box.otaReports() > 0, { what: 'the OTA status at the broker', timeoutMs: START_BUDGET_MS });
  const call = await box.login();
  const tested = await call('POST', '/api/uplink/test', { url: box.broker.url });
  assert.deepEqual([tested.status, (tested.body as { ok: boolean }).ok], [200, true], JSON.stringify(tested.body));
  assert.doesNotMatch(box.output(), /ota: mqtt error/);
});
