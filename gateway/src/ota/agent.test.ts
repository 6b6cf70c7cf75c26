import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import mqtt from 'mqtt';
import { startEmbeddedBroker } from '@kedge/cloud-sync/broker/embedded.ts';
import { collectFleet, formatFleet, rollout, selectForRollout } from '@kedge/scripts/ota/fleet.ts';
import { push } from '@kedge/scripts/ota/push.ts';
import { serveFile } from '@kedge/scripts/ota/serve.ts';
import { waitFor } from '@kedge/scripts/testing/wait.ts';
import { OtaAgent, otaTopic, type OtaStatus } from './agent.ts';
import { otaRoutes } from './routes.ts';
import { readState } from './slots.ts';
import { fakeBundle, newKey, seededSlots, tempDir, trusted } from './testing.ts';

const KEY = newKey();
const ID = { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'kem-01' };
const quiet = { info() {}, warn() {} };
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

async function broker(t: test.TestContext) {
  const b = await startEmbeddedBroker({ port: 0 });
  t.after(() => b.close());
  return b;
}

async function publishRetained(url: string, msgs: Array<[string, unknown]>) {
  const c = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
  for (const [topic, payload] of msgs) await c.publishAsync(topic, JSON.stringify(payload), { qos: 1, retain: true });
  await c.endAsync();
}

test('a retained MQTT offer on the ota downlink makes the agent download, verify and install, then ask for a restart', async (t) => {
  const work = tempDir(t);
  const b = await broker(t);
  const slots = seededSlots(work, '1.0.0');
  const { path } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  const server = await serveFile(path, 'b.tar.gz');
  t.after(() => server.close());
  // Retained before the gateway connects: a box that was offline still gets it.
  await publishRetained(b.url, [[otaTopic(ID, 'ota'), { version: '1.1.0', url: server.url, sha256: sha(path), size: statSync(path).size }]]);

  let restartedFor: string | null = null;
  const agent = new OtaAgent({
    identity: ID,
    slotsDir: slots,
    incomingDir: join(work, 'incoming'),
    trustedKeys: trusted(KEY),
    mqtt: { url: b.url, clientId: 'kem-01-ota' },
    logger: quiet,
    onInstalled: (v) => (restartedFor = v),
  });
  t.after(() => agent.stop());
  const reported: OtaStatus[] = [];
  const watcher = await mqtt.connectAsync(b.url, { reconnectPeriod: 0 });
  t.after(() => watcher.endAsync());
  watcher.on('message', (_t, p) => reported.push(JSON.parse(p.toString()) as OtaStatus));
  await watcher.subscribeAsync(otaTopic(ID, 'ota/status'), { qos: 1 });
  agent.start();

  await waitFor(() => restartedFor, { what: 'the agent to install 1.1.0' });
  assert.equal(restartedFor, '1.1.0');
  assert.deepEqual({ link: readState(slots)!.pending?.slot, version: readState(slots)!.pending?.version }, { link: 'b', version: '1.1.0' });
  await waitFor(() => reported.some((r) => r.state === 'installed'), { what: 'the installed status upstream' });
  const states = [...new Set(reported.map((r) => r.state))];
  assert.deepEqual(states, ['idle', 'checking', 'downloading', 'verifying', 'extracting', 'switching', 'installed']);
  assert.deepEqual(agent.otaStatus().progress, { received: statSync(path).size, total: statSync(path).size });
});

test('an invalid offer is refused with the field named, and reported upstream as failed', async (t) => {
  const work = tempDir(t);
  const agent = new OtaAgent({ identity: ID, slotsDir: seededSlots(work), incomingDir: join(work, 'in'), trustedKeys: trusted(KEY), logger: quiet, onInstalled: () => {} });
  await assert.rejects(agent.offer({ version: 'latest', url: 'http://x/b', sha256: 'abc', size: 1 }), /invalid OTA offer: version: must be a semantic version such as 1\.4\.2; sha256: must be 64 lowercase hex digits/);
  assert.equal(agent.otaStatus().state, 'failed');
  assert.deepEqual(await agent.offer({ version: '1.0.0', url: 'http://x/b', sha256: 'a'.repeat(64), size: 1 }), { started: false, message: 'version 1.0.0 is already installed' });
});

test('kedge-ota push logs in, serves the bundle with Range support and offers it through POST /api/ota/offer', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const { path } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  let installed = '';
  const agent = new OtaAgent({ identity: ID, slotsDir: slots, incomingDir: join(work, 'in'), trustedKeys: trusted(KEY), logger: quiet, onInstalled: (v) => (installed = v) });
  // Stands in for the web API's session + CSRF guard (gateway/src/web/auth).
  const app = Fastify();
  app.post('/api/auth/login', async (req, reply) => {
    const { user, password } = req.body as { user: string; password: string };
    if (user !== 'owner' || password !== 'secret-pass') return reply.code(401).send({ error: 'unauthorized' });
    reply.header('set-cookie', 'kedge_session=s1; Path=/; HttpOnly');
    return { user, csrfToken: 'c1' };
  });
  app.addHook('onRequest', async (req, reply) => {
    if (req.url === '/api/auth/login') return;
    if (req.headers.cookie !== 'kedge_session=s1') return reply.code(401).send({ error: 'unauthorized' });
    if (req.method !== 'GET' && req.headers['x-csrf-token'] !== 'c1') return reply.code(403).send({ error: 'csrf' });
  });
  await app.register(otaRoutes, { agent });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  const to = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;

  await assert.rejects(push({ to, bundle: path, user: 'owner', password: 'wrong' }), /login to http:\/\/127\.0\.0\.1:\d+ as owner failed: HTTP 401/);
  const progress: number[] = [];
  const r = await push({ to, bundle: path, user: 'owner', password: 'secret-pass', advertiseHost: '127.0.0.1', onProgress: (s) => progress.push(s) });
  assert.deepEqual(r, { version: '1.1.0', state: 'installed', message: 'installed; restarting into the new slot' });
  assert.equal(installed, '1.1.0');
  assert.equal(progress.at(-1), statSync(path).size);
});

test('status --fleet lists every gateway from the retained status and ota/status messages', async (t) => {
  const b = await broker(t);
  await publishRetained(b.url, [
    ['kedge/v1/kuzbass/kemerovo/kem-01/status', { state: 'online', version: '1.1.0', ota: { state: 'idle' } }],
    ['kedge/v1/kuzbass/novokuznetsk/nkz-07/status', { state: 'offline', reason: 'connection lost', ts: 1 }],
    ['kedge/v1/kuzbass/novokuznetsk/nkz-07/ota/status', { state: 'failed', version: '1.0.0', target: '1.1.0', lastError: 'version downgrade refused' }],
    ['kedge/v1/kuzbass/kemerovo/kem-02/ota/status', { state: 'idle', version: '1.0.0', lastRollback: { version: '1.1.0', reason: 'no healthy report within 120000 ms' } }],
  ]);
  const fleet = await collectFleet({ url: b.url, waitMs: 300 });
  assert.equal(
    formatFleet(fleet),
    [
      'GATEWAY                      STATUS   VERSION  OTA     TARGET  DETAIL',
      'kuzbass/kemerovo/kem-01      online   1.1.0    idle',
      'kuzbass/kemerovo/kem-02      unknown  1.0.0    idle            rolled back 1.1.0: no healthy report within 120000 ms',
      'kuzbass/novokuznetsk/nkz-07  offline  1.0.0    failed  1.1.0   version downgrade refused',
    ].join('\n'),
  );
});

test('rollout --percent selects a stable share of the fleet and widening keeps the first ones', () => {
  const fleet = Array.from({ length: 1000 }, (_, i) => ({ region: 'kuzbass', municipality: `m${i % 17}`, gateway: `gw-${i}` }));
  const ten = selectForRollout(fleet, 10);
  assert.ok(ten.length >= 70 && ten.length <= 130, `10% of 1000 selected ${ten.length}`);
  assert.deepEqual(selectForRollout(fleet, 10), ten);
  const fifty = new Set(selectForRollout(fleet, 50));
  assert.ok(ten.every((g) => fifty.has(g)));
  assert.equal(selectForRollout(fleet, 100).length, 1000);
  assert.equal(selectForRollout(fleet, 0).length, 0);
});

test('rollout publishes the retained offer to the selected gateways only', async (t) => {
  const b = await broker(t);
  const gws = Array.from({ length: 40 }, (_, i) => `gw-${i}`);
  await publishRetained(b.url, gws.map((g) => [`kedge/v1/kuzbass/kemerovo/${g}/status`, { state: 'online', version: '1.0.0' }] as [string, unknown]));
  const offer = { version: '1.1.0', url: 'http://updates/b.tar.gz', sha256: 'a'.repeat(64), size: 10 };
  const r = await rollout({ url: b.url, waitMs: 300, percent: 25, offer });
  const expected = selectForRollout(gws.map((g) => ({ region: 'kuzbass', municipality: 'kemerovo', gateway: g })), 25).map((e) => e.gateway);
  assert.deepEqual(r.selected.map((e) => e.gateway).sort(), [...expected].sort());
  const c = await mqtt.connectAsync(b.url, { reconnectPeriod: 0 });
  const got = new Map<string, unknown>();
  c.on('message', (topic, p) => got.set(topic.split('/')[4]!, JSON.parse(p.toString())));
  await c.subscribeAsync('kedge/v1/+/+/+/ota', { qos: 1 });
  await waitFor(() => got.size === expected.length, { what: 'retained offers' });
  await c.endAsync();
  assert.deepEqual([...got.keys()].sort(), [...expected].sort());
  assert.deepEqual(got.get(expected[0]!), offer);
});
