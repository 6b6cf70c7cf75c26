/**
 * A stolen session (or any web login) must not be able to replace the keys that decide which
 * update bundles and remote commands the box obeys: the chain "PUT /api/config with the
 * attacker's ota.trustedKeys, then POST /api/ota/offer signed with the attacker's key" ran
 * code as the daemon's user. Performed over real HTTP against a listening server; the OTA
 * agent here checks each offer exactly as the real one does (authenticateOffer against
 * ota.trustedKeys of the running config, ota/index.ts) and counts what it would install.
 * Also: a hand-broken file on disk must not switch these rules off.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import test from 'node:test';
import { parseDocument } from 'yaml';
import { authenticateOffer, signOffer, type Offer, type UnsignedOffer } from '../ota/offer.ts';
import { otaSettings } from '../ota/settings.ts';
import { newKey } from '../ota/testing.ts';
import { webFixture, type Client, type Fixture } from './test-fixture.ts';

const REAL = newKey('maintainer-2026');
const ATTACKER = newKey('attacker');
const CENTER = newKey('center-2026');

let f: Fixture;
let owner: Client;
let base: string;
/** Offers the agent accepted (would download and install, then run). */
const accepted: Offer[] = [];

const UNSIGNED: UnsignedOffer = { version: '9.9.9', url: 'https://updates.example/kedge-9.9.9.tar.gz', sha256: 'a'.repeat(64), size: 1024 };
const offerBy = (key: typeof REAL) => signOffer(UNSIGNED, key.id, createPrivateKey(key.privateKeyPem));

test.before(async () => {
  f = await webFixture({
    otaAgent: {
      offer: async (raw: unknown) => {
        const offer = raw as Offer;
        authenticateOffer(offer, otaSettings(f.gateway.currentConfig())?.trustedKeys ?? []);
        accepted.push(offer);
        return { started: true, message: 'accepted' };
      },
      otaStatus: () => ({ state: 'idle' }),
    } as never,
  });
  owner = await f.setup();
  // The trust anchors are set up on the box: the file edited by hand, then SIGHUP.
  const doc = parseDocument(readFileSync(f.configPath, 'utf8'));
  doc.set('ota', doc.createNode({ trustedKeys: [{ id: REAL.id, publicKey: REAL.publicKeyRaw }] }));
  doc.set('commands', doc.createNode({ trustedKeys: [{ id: CENTER.id, publicKey: CENTER.publicKeyRaw }] }));
  writeFileSync(f.configPath, doc.toString());
  await f.web.ctx.configService.reloadFile();
  assert.deepEqual(f.gateway.currentConfig().ota?.trustedKeys.map((k) => k.id), [REAL.id]);
  await f.web.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(f.web.app.server.address() as { port: number }).port}`;
});
test.after(() => f.close());

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: { error?: string; issues?: Array<{ path: string; message: string }> } & Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { cookie: owner.cookie, 'x-csrf-token': owner.csrf, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as never };
}

/** The config text as the API gives it, changed by `edit` (a YAML document edit). */
async function editedConfig(edit: (doc: ReturnType<typeof parseDocument>) => void): Promise<string> {
  const got = await call('GET', '/api/config');
  assert.equal(got.status, 200);
  const doc = parseDocument(got.json['text'] as string);
  edit(doc);
  return doc.toString();
}

const attackerKeys = [{ id: ATTACKER.id, publicKey: ATTACKER.publicKeyRaw }];

test('the chained attack (replace ota.trustedKeys through PUT /api/config, then offer a bundle signed by the new key) fails at the first step', async () => {
  const before = readFileSync(f.configPath, 'utf8');
  const text = await editedConfig((doc) => doc.setIn(['ota', 'trustedKeys'], doc.createNode(attackerKeys)));

  const put = await call('PUT', '/api/config', { text });
  assert.equal(put.status, 400);
  assert.equal(put.json.error, 'config_local_only');
  assert.deepEqual(put.json.issues!.map((i) => i.path), ['ota.trustedKeys']);
  assert.match(put.json.issues![0]!.message, /only be changed in the config file on the box/);
  // The import preview says the same (it must not call "valid" what the apply refuses).
  const preview = await call('POST', '/api/config/check', { text });
  assert.equal(preview.json.error, 'config_local_only');
  assert.equal(readFileSync(f.configPath, 'utf8'), before);
  assert.deepEqual(f.gateway.currentConfig().ota?.trustedKeys.map((k) => k.id), [REAL.id]);

  // Step two of the chain: the attacker's bundle is refused ...
  const evil = await call('POST', '/api/ota/offer', offerBy(ATTACKER));
  assert.equal(evil.status, 409);
  assert.match(String(evil.json['message']), /signed with key "attacker", which is not trusted/);
  assert.equal(accepted.length, 0);
  // ... while the route itself works: the real maintainer's offer is taken.
  const real = await call('POST', '/api/ota/offer', offerBy(REAL));
  assert.equal(real.status, 202);
  assert.deepEqual(accepted.map((o) => o.keyId), [REAL.id]);
  accepted.length = 0;
});

test('every field of ota and commands is refused through the API, named by field; the section as a whole when added or removed', async () => {
  const before = readFileSync(f.configPath, 'utf8');
  const cases: Array<[string, (doc: ReturnType<typeof parseDocument>) => void, string[]]> = [
    ['commands.trustedKeys', (doc) => doc.setIn(['commands', 'trustedKeys'], doc.createNode(attackerKeys)), ['commands.trustedKeys']],
    ['commands.maxAgeMs (the replay window)', (doc) => doc.setIn(['commands', 'maxAgeMs'], 3_600_000), ['commands.maxAgeMs']],
    ['ota.allowLocalOfferUrls', (doc) => doc.setIn(['ota', 'allowLocalOfferUrls'], true), ['ota.allowLocalOfferUrls']],
    ['ota.maxBundleBytes', (doc) => doc.setIn(['ota', 'maxBundleBytes'], 10 * 1024 ** 3), ['ota.maxBundleBytes']],
    ['both key lists at once', (doc) => {
      doc.setIn(['ota', 'trustedKeys'], doc.createNode(attackerKeys));
      doc.setIn(['commands', 'trustedKeys'], doc.createNode(attackerKeys));
    }, ['ota.trustedKeys', 'commands.trustedKeys']],
    ['removing ota (updates off)', (doc) => doc.delete('ota'), ['ota']],
    ['removing commands', (doc) => doc.delete('commands'), ['commands']],
  ];
  for (const [what, edit, paths] of cases) {
    const put = await call('PUT', '/api/config', { text: await editedConfig(edit) });
    assert.equal(put.status, 400, what);
    assert.equal(put.json.error, 'config_local_only', what);
    assert.deepEqual(put.json.issues!.map((i) => i.path).sort(), [...paths].sort(), what);
  }
  assert.equal(readFileSync(f.configPath, 'utf8'), before);

  // Not a blanket refusal: a change elsewhere, with ota and commands kept as they are, goes through.
  const renamed = await call('PUT', '/api/config', { text: await editedConfig((doc) => doc.setIn(['gateway', 'name'], 'Насосная 3')) });
  assert.equal(renamed.status, 200, JSON.stringify(renamed.json));
  assert.equal(f.gateway.currentConfig().gateway.name, 'Насосная 3');
});

test('on a box whose file has no ota section yet, the API cannot add one', async () => {
  const g = await webFixture();
  try {
    const c = await g.setup();
    const doc = parseDocument(readFileSync(g.configPath, 'utf8'));
    doc.set('ota', doc.createNode({ trustedKeys: attackerKeys }));
    const put = await c.request('PUT', '/api/config', { text: doc.toString() });
    assert.equal(put.statusCode, 400);
    assert.equal(put.json().error, 'config_local_only');
    assert.deepEqual(put.json().issues.map((i: { path: string }) => i.path), ['ota']);
    assert.equal(g.gateway.currentConfig().ota, undefined);
  } finally {
    await g.close();
  }
});

test('a hand-broken file on disk does not open the API: the change is compared with the running config', async () => {
  const good = readFileSync(f.configPath, 'utf8');
  // Valid YAML that the schema refuses (a typo made on the box): validOrNull(file) is null.
  const broken = good.replace(/^dataDir:/m, 'dataDri:');
  assert.notEqual(broken, good);
  writeFileSync(f.configPath, broken);
  try {
    const withAttackerKey = parseDocument(good);
    withAttackerKey.setIn(['ota', 'trustedKeys'], withAttackerKey.createNode(attackerKeys));
    const put = await call('PUT', '/api/config', { text: withAttackerKey.toString() });
    assert.equal(put.status, 400);
    assert.equal(put.json.error, 'config_local_only');
    assert.deepEqual(put.json.issues!.map((i) => i.path), ['ota.trustedKeys']);
    // dataDir and secretsDir are compared with the running config too.
    const moved = await call('PUT', '/api/config', { text: good.replace(/^dataDir: .*$/m, 'dataDir: /') });
    assert.equal(moved.status, 400);
    assert.deepEqual(moved.json.issues!.map((i) => i.path), ['dataDir']);
    assert.equal(readFileSync(f.configPath, 'utf8'), broken, 'nothing written');
    assert.deepEqual(f.gateway.currentConfig().ota?.trustedKeys.map((k) => k.id), [REAL.id]);
    assert.equal((await call('POST', '/api/ota/offer', offerBy(ATTACKER))).status, 409);
    assert.equal(accepted.length, 0);

    // The API can still repair the file, as long as the repair keeps what the box runs.
    const repaired = await call('PUT', '/api/config', { text: good });
    assert.equal(repaired.status, 200, JSON.stringify(repaired.json));
    assert.equal(readFileSync(f.configPath, 'utf8'), good);
  } finally {
    writeFileSync(f.configPath, good);
  }
});

test('the keys still rotate on the box: the file edited by hand and SIGHUP', async () => {
  const doc = parseDocument(readFileSync(f.configPath, 'utf8'));
  const next = newKey('maintainer-2027');
  doc.setIn(['ota', 'trustedKeys'], doc.createNode([{ id: next.id, publicKey: next.publicKeyRaw }]));
  writeFileSync(f.configPath, doc.toString());
  await f.web.ctx.configService.reloadFile();
  assert.equal((await call('POST', '/api/ota/offer', offerBy(REAL))).status, 409);
  assert.equal((await call('POST', '/api/ota/offer', offerBy(next))).status, 202);
  assert.deepEqual(accepted.map((o) => o.keyId), [next.id]);
});
