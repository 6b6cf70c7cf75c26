/**
 * Findings 4 and 5 of issue 13, attacked over real HTTP on 127.0.0.1:
 *   4. API tokens were root (PUT /api/config, restart, OTA), GET /api/config handed out the
 *      broker password, and tokens survived the console reset;
 *   5. /api/uplink/test sent the stored credentials to any URL, and `passwordFile` could name
 *      any file the daemon can read (/etc/hostname went to a fake broker).
 * The reset is done on the real daemon (child process, SIGUSR2) in token-reset.daemon.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { startEmbeddedBroker, type EmbeddedBroker } from '@kedge/cloud-sync/broker/embedded.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { SECRET_MARKER } from '../config/secret-fields.ts';
import { webFixture, type Client, type Fixture } from './test-fixture.ts';

const STORED_PASSWORD = 'stored-broker-password-41';
const OPCUA_PASSWORD = 'opcua-operator-password-17';

let f: Fixture;
let owner: Client;
let base: string;
/** The box's real broker: accepts only the stored password. */
let legit: EmbeddedBroker;
/** The attacker's broker: accepts anyone and writes down what it was given. */
let evil: EmbeddedBroker;
const legitSeen: string[] = [];
const evilSeen: Array<{ user: string | undefined; password: string | undefined }> = [];

test.before(async () => {
  legit = await startEmbeddedBroker({
    port: 0,
    aedes: { authenticate: (_c, _user, password, done) => (legitSeen.push(String(password)), done(null, String(password) === STORED_PASSWORD)) },
  });
  evil = await startEmbeddedBroker({
    port: 0,
    aedes: { authenticate: (_c, user, password, done) => (evilSeen.push({ user, password: password?.toString() }), done(null, true)) },
  });
  f = await webFixture({ uplinkUrl: legit.url });
  owner = await f.setup();
  await f.web.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(f.web.app.server.address() as { port: number }).port}`;
  const stored = await call('PUT', '/api/uplink', { url: legit.url, username: 'box', password: STORED_PASSWORD });
  assert.equal(stored.status, 200, JSON.stringify(stored.body));
  await waitFor(() => f.gateway.status().uplink?.state === 'online', { what: 'the uplink online with the stored password' });
});
test.after(async () => {
  await f.close();
  await legit.close();
  await evil.close();
});

/** A request as the logged-in owner (cookie + CSRF), or with `headers` instead. */
async function call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(headers ?? { cookie: owner.cookie, 'x-csrf-token': owner.csrf }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

test('finding 5: the stored password goes only to the stored broker, never to a URL someone types', async () => {
  // The review's attack: the attacker's broker, the box's user name, no password in the form.
  const attack = await call('POST', '/api/uplink/test', { url: evil.url, username: 'box' });
  assert.equal(attack.status, 400);
  assert.equal(attack.body.error, 'credentials_for_other_host');
  assert.match(attack.body.message, /only sent to the stored broker \(mqtt:\/\/127\.0\.0\.1:\d+\); type the password to test mqtt:\/\/127\.0\.0\.1:\d+/);
  // Same host and port but another scheme (a downgrade from TLS would send it in clear): refused too.
  const otherScheme = await call('POST', '/api/uplink/test', { url: `ws://127.0.0.1:${legit.port}`, username: 'box' });
  assert.equal(otherScheme.body.error, 'credentials_for_other_host');
  // Without a user name the test runs, but without the stored password.
  const anonymous = await call('POST', '/api/uplink/test', { url: evil.url });
  assert.equal(anonymous.status, 200);
  assert.equal(anonymous.body.ok, true);
  // A password typed into the form is the engineer's choice to send.
  const typed = await call('POST', '/api/uplink/test', { url: evil.url, username: 'box', password: 'typed-for-this-test' });
  assert.equal(typed.body.ok, true);
  assert.deepEqual(evilSeen, [
    { user: undefined, password: undefined },
    { user: 'box', password: 'typed-for-this-test' },
  ]);
  // The stored broker still gets it: the feature works where it should.
  const seenBefore = legitSeen.length;
  const own = await call('POST', '/api/uplink/test', { url: legit.url, username: 'box' });
  assert.deepEqual(own.body.ok, true, JSON.stringify(own.body));
  assert.equal(legitSeen.slice(seenBefore).at(-1), STORED_PASSWORD);
});

test('finding 5: saving the uplink with another broker does not take the stored password along', async () => {
  const before = readFileSync(f.configPath, 'utf8');
  const seen = evilSeen.length;
  // The uplink form without a password (= keep the stored one), pointed at the attacker's broker.
  const form = await call('PUT', '/api/uplink', { url: evil.url, username: 'box' });
  assert.equal(form.status, 400);
  assert.equal(form.body.error, 'credentials_for_other_host');
  // The raw editor: the text as GET /api/config gave it (password as the marker), URL changed.
  const shown = (await call('GET', '/api/config')).body.text as string;
  const moved = await call('PUT', '/api/config', { text: shown.replace(legit.url, evil.url) });
  assert.equal(moved.status, 400);
  assert.deepEqual(
    moved.body.issues.map((i: { path: string; message: string }) => [i.path, i.message]),
    [['uplink.password', `the stored credentials are only sent to the stored broker (${legit.url}), not to ${evil.url}: type the password`]],
  );
  assert.equal(readFileSync(f.configPath, 'utf8'), before);
  assert.equal(evilSeen.length, seen, 'the attacker broker was never contacted');
  assert.equal(f.gateway.currentConfig().uplink.url, legit.url);
  // Typing a password for the new broker is allowed (and the same URL keeps the stored one).
  const same = await call('PUT', '/api/uplink', { url: legit.url, username: 'box' });
  assert.equal(same.status, 200);
});

test('finding 5: passwordFile and TLS paths outside the secrets folders are refused with the field named', async () => {
  const before = readFileSync(f.configPath, 'utf8');
  const text = before.replace(/ {2}password: .*\n/, '  passwordFile: /etc/hostname\n');
  assert.notEqual(text, before);
  const viaFile = await call('PUT', '/api/config', { text });
  assert.equal(viaFile.status, 400);
  assert.equal(viaFile.body.error, 'config_invalid');
  const issue = viaFile.body.issues.find((i: { path: string }) => i.path === 'uplink.passwordFile');
  assert.match(issue.message, /^\/etc\/hostname is outside the folders secret files may be read from \(.*\/secrets, .*\/tls\): move the file there/);
  const viaForm = await call('PUT', '/api/uplink', { url: legit.url, tls: { ca: '/etc/ssl/certs/ca-certificates.crt' } });
  assert.equal(viaForm.status, 400);
  assert.equal(viaForm.body.issues[0].path, 'uplink.tls.ca');
  // The test connection reads TLS files only from there too.
  const testCa = await call('POST', '/api/uplink/test', { url: evil.url, tls: { cert: '/etc/hostname', key: '/etc/hostname' } });
  assert.equal(testCa.status, 400);
  assert.match(testCa.body.message, /^cannot use TLS file: \/etc\/hostname is outside the folders/);
  // A link planted in the TLS folder does not lead out of it.
  const tlsDir = join(f.gateway.currentConfig().dataDir, 'tls');
  mkdirSync(tlsDir, { recursive: true });
  symlinkSync('/etc/hostname', join(tlsDir, 'planted.pem'));
  const viaLink = await call('POST', '/api/uplink/test', { url: evil.url, tls: { ca: join(tlsDir, 'planted.pem') } });
  assert.match(viaLink.body.message, /planted\.pem leads to \/etc\/hostname, outside the folders/);
  const savedLink = await call('PUT', '/api/uplink', { url: legit.url, tls: { ca: join(tlsDir, 'planted.pem') } });
  assert.equal(savedLink.status, 400);
  assert.match(savedLink.body.issues[0].message, /leads to \/etc\/hostname/);
  // And the folders themselves cannot be moved through the API.
  for (const [key, value] of [['secretsDir', '/etc'], ['dataDir', '/']] as const) {
    const moved = await call('PUT', '/api/config', { text: `${key}: ${value}\n${before.replace(/^dataDir: .*\n/m, key === 'dataDir' ? '' : '$&')}` });
    assert.equal(moved.status, 400, key);
    assert.deepEqual(
      moved.body.issues.map((i: { path: string }) => i.path),
      [key],
    );
    assert.match(moved.body.issues[0].message, /can only be changed in the config file on the box/);
  }
  assert.equal(readFileSync(f.configPath, 'utf8'), before);
  assert.equal(evilSeen.some((s) => s.password?.includes(readFileSync('/etc/hostname', 'utf8').trim())), false);
});

test('finding 4: GET /api/config and /api/devices never return a secret; a PUT of the marker keeps the stored one', async () => {
  const device = {
    id: 'opc-1',
    driver: 'opcua',
    enabled: false,
    endpointUrl: 'opc.tcp://127.0.0.1:1',
    auth: { username: 'operator', password: OPCUA_PASSWORD },
    points: [{ id: 'level', nodeId: 'ns=1;s=Level' }],
  };
  assert.equal((await call('PUT', '/api/devices/opc-1', device)).status, 200);
  const config = await call('GET', '/api/config');
  assert.equal(config.status, 200);
  for (const secret of [STORED_PASSWORD, OPCUA_PASSWORD]) assert.ok(!config.body.text.includes(secret), `${secret} in GET /api/config`);
  assert.equal(config.body.text.split(SECRET_MARKER).length - 1, 2);
  const devices = await call('GET', '/api/devices');
  assert.ok(!JSON.stringify(devices.body).includes(OPCUA_PASSWORD));
  const shown = devices.body.find((d: { id: string }) => d.id === 'opc-1').config;
  assert.equal(shown.auth.password, SECRET_MARKER);

  // The raw editor round trip: what GET gave, with one unrelated change, keeps both secrets.
  const edited = await call('PUT', '/api/config', { text: config.body.text.replace('# kept comment', '# kept comment, edited') });
  assert.equal(edited.status, 200, JSON.stringify(edited.body));
  const file = readFileSync(f.configPath, 'utf8');
  assert.ok(file.includes(STORED_PASSWORD) && file.includes(OPCUA_PASSWORD) && file.includes('edited') && !file.includes(SECRET_MARKER));
  // The device form round trip.
  assert.equal((await call('PUT', '/api/devices/opc-1', { ...shown, name: 'renamed' })).status, 200);
  assert.ok(readFileSync(f.configPath, 'utf8').includes(OPCUA_PASSWORD));
  // A marker where nothing is stored cannot be resolved: refused, naming the field.
  const nowhere = await call('PUT', '/api/devices/opc-2', { ...device, id: 'opc-2', auth: { username: 'x', password: SECRET_MARKER } });
  assert.equal(nowhere.status, 400);
  assert.deepEqual(nowhere.body.issues, [
    { path: 'devices[id=opc-2].auth.password', message: `is "${SECRET_MARKER}" but the current config has no secret here to keep: type the value` },
  ]);
  assert.equal(f.gateway.status().uplink?.state, 'online');
});

test('finding 4: a token does what its scopes allow and nothing that needs a logged-in user', async () => {
  const created = await call('POST', '/api/tokens', { name: 'node-red' });
  assert.equal(created.status, 201);
  assert.deepEqual(created.body.scopes, ['live', 'read']);
  const bearer = { authorization: `Bearer ${created.body.token}` };
  assert.equal((await call('GET', '/api/status', undefined, bearer)).status, 200);
  assert.equal((await call('GET', '/api/devices', undefined, bearer)).status, 200);
  for (const [method, path, body] of [
    ['GET', '/api/config', undefined],
    ['PUT', '/api/config', { text: 'x: 1' }],
    ['GET', '/api/uplink', undefined],
    ['POST', '/api/uplink/test', { url: evil.url, username: 'box' }],
    ['POST', '/api/system/restart', undefined],
    ['POST', '/api/tokens', { name: 'more', scopes: ['write-points'] }],
    ['PUT', '/api/devices/opc-1', { id: 'opc-1', driver: 'opcua' }],
    ['GET', '/api/logs', undefined],
  ] as const) {
    const res = await call(method, path, body, bearer);
    assert.equal(res.status, 403, `${method} ${path}`);
    assert.equal(res.body.error, 'token_not_allowed', `${method} ${path}`);
  }
  const write = await call('POST', '/api/points/water-meter/flow/write', { value: 1 }, bearer);
  assert.equal(write.status, 403);
  assert.equal(write.body.error, 'token_scope');
  assert.match(write.body.message, /lacks the "write-points" scope \(it has: live, read\)/);
  // With the scope the write reaches the gateway (and fails there: the point is read-only).
  const writer = await call('POST', '/api/tokens', { name: 'writer', scopes: ['write-points'] });
  const scoped = await call('POST', '/api/points/water-meter/flow/write', { value: 1 }, { authorization: `Bearer ${writer.body.token}` });
  assert.equal(scoped.body.error, 'not_writable');
  const noLive = await fetch(`${base}/api/live`, { headers: { authorization: `Bearer ${writer.body.token}` } });
  assert.equal(noLive.status, 403);
  assert.equal(restartsAfter(), 0);
  // Unknown scopes are refused at creation.
  const bad = await call('POST', '/api/tokens', { name: 'x', scopes: ['config'] });
  assert.equal(bad.status, 400);
});

const restartsAfter = () => f.restarts;

test('tokens minted before scopes existed keep what Node-RED used them for, nothing more', async () => {
  const file = join(f.gateway.currentConfig().dataDir, 'web', 'api-tokens.json');
  const created = await call('POST', '/api/tokens', { name: 'legacy' });
  const stored = JSON.parse(readFileSync(file, 'utf8')) as { tokens: Array<Record<string, unknown>> };
  for (const t of stored.tokens) if (t['name'] === 'legacy') delete t['scopes'];
  writeFileSync(file, JSON.stringify(stored), { mode: 0o600 });
  const bearer = { authorization: `Bearer ${created.body.token}` };
  assert.equal((await call('POST', '/api/points/water-meter/flow/write', { value: 1 }, bearer)).body.error, 'not_writable');
  assert.equal((await call('GET', '/api/config', undefined, bearer)).status, 403);
});
