/**
 * A deeply nested config sent to the running daemon (issue 20 review, finding M1): before the
 * shape check (config-shape.ts) the YAML library overflowed its stack on ~2 KB of nested
 * brackets, and a second such text in the same process killed node ("RegExpCompiler Allocation
 * failed - process out of memory"): the box restarted and its pending readings were lost. Here
 * every door a config text comes through (the web config, check, device and test-read routes,
 * a signed center `config` command, an unsigned command envelope from anyone on the broker)
 * gets the deep text twice and a 5000-deep one; each answer
 * is a clear error, the daemon stays the same process, the file is untouched and the readings
 * keep reaching the center.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { startEmbeddedBroker } from '@kedge/cloud-sync/broker/embedded.ts';
import { buildCommand, sendCommand } from '@kedge/cloud-sync/downlink/sender.ts';
import { commandTopic, responseTopic, type CommandResponse } from '@kedge/cloud-sync/downlink/envelope.ts';
import type { GatewayIdentity } from '@kedge/cloud-sync/topics.ts';
import { defaultMeters } from '@kedge/testkit/sim/meters.ts';
import { startModbusSim } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { freePort } from '@kedge/testkit/ports.ts';
import { startProcess } from '@kedge/testkit/proc.ts';
import { nodeEntry } from '@kedge/testkit/entry.ts';
import { simGatewayConfig } from '@kedge/testkit/sim/sim-config.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { rawPublicKey } from '../ota/verify.ts';
import { tempDir } from '@kedge/testkit/temp-dirs.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PASSWORD = 'correct horse battery';
/** Generous for a daemon start through tsx on a loaded 2-core machine (usually a few seconds). */
const DAEMON_START_BUDGET_MS = 60_000;
/** Generous: a command answer takes well under a second. */
const ANSWER_TIMEOUT_MS = 15_000;
const TEST_BUDGET_MS = 3 * DAEMON_START_BUDGET_MS;

const center = generateKeyPairSync('ed25519');
const identity: GatewayIdentity = { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'deep-test' };

/** The crashing shape of the review: a valid-looking config with one deeply nested member. */
const deepJson = (depth: number) => `{"gateway":{"id":"deep-test"},"x":${'['.repeat(depth)}${']'.repeat(depth)}}`;
const deepYaml = (depth: number) => `gateway:\n  id: deep-test\nx: ${'- '.repeat(depth)}1\n`;

test('deep config texts through the web API and a signed center command: a clear error each time, the daemon stays up, nothing lost', { timeout: TEST_BUDGET_MS }, async (t) => {
  const dir = tempDir(t, 'kedge-deep-');
  const sim = await startModbusSim({ meters: defaultMeters().slice(0, 1) });
  t.after(() => sim.close());
  const broker = await startEmbeddedBroker({ port: 0 });
  t.after(() => broker.close());
  const webPort = await freePort();
  const configPath = join(dir, 'kedge.yaml');
  const config = {
    ...simGatewayConfig({
      gatewayId: identity.gateway,
      simPort: sim.port,
      brokerUrl: broker.url,
      dataDir: join(dir, 'data'),
      intervalMs: 200,
      meters: sim.meters,
      web: { host: '127.0.0.1', port: webPort },
    }),
    commands: { trustedKeys: [{ id: 'center-1', publicKey: rawPublicKey(center.publicKey).toString('base64') }], maxAgeMs: 60_000 },
  };
  writeFileSync(configPath, stringify(config));
  const fileBefore = readFileSync(configPath, 'utf8');
  const daemon = await startProcess(process.execPath, [...nodeEntry('gateway/src/main.ts'), '--config', configPath], {
    name: 'gateway',
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn' },
    readyLine: /setup token is in \S+/,
    timeoutMs: DAEMON_START_BUDGET_MS,
  });
  t.after(() => daemon.stop());
  let exited = false;
  void daemon.exited.then(() => (exited = true));

  const base = `http://127.0.0.1:${webPort}`;
  let session: Record<string, string> = {};
  /** `body`: an object, or JSON text already (JSON.stringify itself overflows on 5000 levels). */
  const request = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...session, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, cookie: res.headers.get('set-cookie')?.split(';')[0] ?? '' };
  };
  const token = readFileSync(join(dir, 'data', 'web', 'setup-token'), 'utf8').trim();
  const setup = await request('POST', '/api/auth/setup', { token, user: 'admin', password: PASSWORD });
  assert.equal(setup.status, 200, JSON.stringify(setup.body));
  session = { cookie: setup.cookie, 'x-csrf-token': setup.body.csrfToken as string };

  const status = async () => {
    const s = await request('GET', '/api/status');
    assert.equal(s.status, 200);
    return s.body as { uptimeMs: number; log: { rows: number }; uplink: { readingsAcked: number } | null };
  };
  await waitFor(async () => ((await status()).uplink?.readingsAcked ?? 0) > 0, { what: 'first readings acked by the broker' });
  const before = await status();

  const refusedByWeb = (res: { status: number; body: unknown }, what: string) => {
    assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.body)}`);
    assert.match(JSON.stringify(res.body), /more than 64 levels deep/, what);
  };
  for (const [name, text] of [
    ['deep JSON', deepJson(1000)],
    ['the same again', deepJson(1000)],
    ['5000 deep', deepJson(5000)],
    ['deep YAML blocks', deepYaml(1000)],
    ['deep YAML blocks again', deepYaml(1000)],
  ] as const) {
    refusedByWeb(await request('PUT', '/api/config', { text }), `PUT /api/config, ${name}`);
    refusedByWeb(await request('POST', '/api/config/check', { text }), `POST /api/config/check, ${name}`);
  }
  const device = (depth: number) =>
    `{"id":"deep","driver":"modbus-tcp","host":"127.0.0.1","port":${sim.port},"points":${'['.repeat(depth)}1${']'.repeat(depth)}}`;
  for (const depth of [1000, 1000, 5000]) {
    refusedByWeb(await request('PUT', '/api/devices/deep', device(depth)), `PUT /api/devices/deep, ${depth}`);
    refusedByWeb(await request('POST', '/api/devices', device(depth)), `POST /api/devices, ${depth}`);
    refusedByWeb(await request('POST', '/api/devices/test-read', device(depth)), `POST /api/devices/test-read, ${depth}`);
  }

  const client = await mqtt.connectAsync(broker.url, { clientId: `center-${process.pid}`, clean: true, reconnectPeriod: 0 });
  t.after(() => client.endAsync());
  for (const yaml of [deepJson(1000), deepJson(1000), deepJson(5000), deepYaml(1000)]) {
    const env = buildCommand({ kind: 'config', target: identity, args: { yaml }, keyId: 'center-1', sign: (b) => sign(null, b, center.privateKey) });
    const answer = await sendCommand(client, identity, 'config', env, ANSWER_TIMEOUT_MS);
    assert.equal(answer.ok, false, JSON.stringify(answer));
    assert.equal((answer as { error?: { code?: string } }).error?.code, 'invalid_config', JSON.stringify(answer));
    assert.match(JSON.stringify(answer), /more than 64 levels deep/);
  }
  // Anyone on the broker, no valid signature: a deep envelope (the signature's canonical form is built recursively).
  await client.subscribeAsync(responseTopic(identity, 'config'), { qos: 1 });
  for (const [n, depth] of [[1, 1000], [2, 1000], [3, 5000]] as const) {
    const id = `deep-envelope-${n}`;
    const answered = new Promise<CommandResponse>((resolve) => {
      const onMessage = (_topic: string, payload: Buffer) => {
        const r = JSON.parse(payload.toString('utf8')) as CommandResponse;
        if (r.id !== id) return;
        client.off('message', onMessage);
        resolve(r);
      };
      client.on('message', onMessage);
    });
    const raw = `{"id":"${id}","ts":${Date.now()},"keyId":"center-1","signature":"AAAA","junk":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    await client.publishAsync(commandTopic(identity, 'config'), raw, { qos: 1 });
    const answer = await answered;
    assert.equal(answer.ok, false, JSON.stringify(answer));
    assert.equal(answer.error?.code, 'bad_request', JSON.stringify(answer));
    assert.match(String(answer.error?.message), /more than 64 levels deep/);
  }

  // The same process, still polling, still delivering: a restart would have lost the pending readings.
  assert.equal(exited, false, `the daemon exited:\n${daemon.output().slice(-2000)}`);
  assert.doesNotMatch(daemon.output(), /FATAL ERROR|Maximum call stack/);
  assert.equal(readFileSync(configPath, 'utf8'), fileBefore, 'the config file is untouched');
  const after = await status();
  assert.ok(after.uptimeMs > before.uptimeMs, 'the same process: its uptime went on');
  assert.ok(after.log.rows > before.log.rows, 'polling went on during the attacks');
  // Every reading logged up to the end of the attacks reaches the center: none was dropped.
  await waitFor(async () => ((await status()).uplink?.readingsAcked ?? 0) >= after.log.rows, { what: 'every reading logged by the end of the attacks acked' });
  assert.equal(exited, false);
});
