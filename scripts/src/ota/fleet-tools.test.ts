/**
 * kedge-ota's fleet tools (push, status --fleet, rollout) against the gateway's OTA agent:
 * the tooling and the box it speaks to, end to end (here, since scripts depends on the
 * gateway and never the other way round).
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import mqtt from 'mqtt';
import { startEmbeddedBroker } from '@kedge/cloud-sync/broker/embedded.ts';
import { OtaAgent } from '@kedge/gateway/ota/agent.ts';
import { authenticateOffer, parseOffer } from '@kedge/gateway/ota/offer.ts';
import { otaRoutes } from '@kedge/gateway/ota/routes.ts';
import { fakeBundle, newKey, seededSlots, served, tempDir, TEST_IDENTITY, trusted } from '@kedge/gateway/ota/testing.ts';
import { parsePrivateKey } from '@kedge/gateway/ota/verify.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { tsEntry } from '@kedge/testkit/entry.ts';
import { collectFleet, formatFleet, rollout, selectForRollout } from './fleet.ts';
import { push } from './push.ts';

const KEY = newKey();
const ID = TEST_IDENTITY;
const quiet = { info() {}, warn() {} };

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

/**
 * How long the fleet CLI collects retained status messages. MQTT has no "end of retained"
 * marker, so this is a window; generous, so a loaded machine still delivers all 40 in it.
 */
const RETAINED_COLLECT_MS = 3000;

test('kedge-ota push logs in, serves the bundle with Range support and offers it through POST /api/ota/offer', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const { path } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  let installed = '';
  // The laptop's servers are on 127.0.0.1 here (on a station LAN they have its LAN address).
  const agent = new OtaAgent({ identity: ID, slotsDir: slots, incomingDir: join(work, 'in'), trustedKeys: trusted(KEY), logger: quiet, onInstalled: (v) => (installed = v), allowLocalOfferUrls: true });
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
  const fleet = await collectFleet({ url: b.url, waitMs: RETAINED_COLLECT_MS });
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
  await assert.rejects(rollout({ url: b.url, waitMs: RETAINED_COLLECT_MS, percent: 25, offer }), /an offer must be signed \(--key\) or carry --manifest-url/);
  const r = await rollout({ url: b.url, waitMs: RETAINED_COLLECT_MS, percent: 25, offer, signer: { keyId: KEY.id, privateKey: parsePrivateKey(KEY.privateKeyPem) } });
  const expected = selectForRollout(gws.map((g) => ({ region: 'kuzbass', municipality: 'kemerovo', gateway: g })), 25).map((e) => e.gateway);
  assert.deepEqual(r.selected.map((e) => e.gateway).sort(), [...expected].sort());
  const c = await mqtt.connectAsync(b.url, { reconnectPeriod: 0 });
  const got = new Map<string, unknown>();
  c.on('message', (topic, p) => got.set(topic.split('/')[4]!, JSON.parse(p.toString())));
  await c.subscribeAsync('kedge/v1/+/+/+/ota', { qos: 1 });
  await waitFor(() => got.size === expected.length, { what: 'retained offers' });
  await c.endAsync();
  assert.deepEqual([...got.keys()].sort(), [...expected].sort());
  // Each gateway gets the offer signed for itself, and only itself.
  const first = parseOffer(got.get(expected[0]!));
  const self = { region: 'kuzbass', municipality: 'kemerovo', gateway: expected[0]! };
  assert.deepEqual({ ...first, signature: '', keyId: '' }, { ...offer, format: 'kedge-ota-offer/1', target: self, signature: '', keyId: '' });
  assert.deepEqual(authenticateOffer(first, trusted(KEY), self), { by: 'signature', keyId: KEY.id });
  assert.throws(() => authenticateOffer(first, trusted(KEY), { ...self, gateway: 'gw-other' }), /signed for gateway kuzbass\/kemerovo\/gw-\d+, this is kuzbass\/kemerovo\/gw-other/);
});

test('kedge-ota rollout -k signs one offer per gateway that the running agent installs; without a key or manifest URL it refuses to publish', async (t) => {
  const { execFile } = await import('node:child_process');
  const { writeFileSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const work = tempDir(t);
  const b = await broker(t);
  const slots = seededSlots(work, '1.0.0');
  const { path } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  const server = await served(t, path);
  let installed: string | null = null;
  const agent = new OtaAgent({ identity: ID, slotsDir: slots, incomingDir: join(work, 'in'), trustedKeys: trusted(KEY), mqtt: { url: b.url, clientId: 'kem-01-ota' }, logger: quiet, onInstalled: (v) => (installed = v) });
  t.after(() => agent.stop());
  agent.start();
  // The agent's retained ota/status is how rollout finds it.
  await waitFor(async () => (await collectFleet({ url: b.url, waitMs: 100 })).length === 1, { what: 'the gateway in the fleet' });
  const keyFile = join(work, 'ota.key');
  writeFileSync(keyFile, KEY.privateKeyPem, { mode: 0o600 });
  const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
  const run = (args: string[]) =>
    new Promise<{ code: number; out: string }>((resolve) => {
      execFile(process.execPath, [...tsEntry(cli), 'rollout', '--percent', '100', '--bundle', path, '--url', server.url, '--broker', b.url, '--wait-ms', '300', ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
      );
    });
  const unsigned = await run([]);
  assert.equal(unsigned.code, 1, unsigned.out);
  assert.match(unsigned.out, /an offer must be signed \(--key\) or carry --manifest-url/);
  const signed = await run(['-k', keyFile, '--key-id', KEY.id]);
  assert.equal(signed.code, 0, signed.out);
  assert.match(signed.out, /offered 1\.1\.0 to 1 of 1 gateways \(100%\)/);
  await waitFor(() => installed, { what: 'the agent to install the signed offer', timeoutMs: 30_000 });
  assert.equal(installed, '1.1.0');
});
