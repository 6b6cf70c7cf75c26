/**
 * Finding 4/5 of issue 13 for device credentials: GET /api/devices and /api/config show an OPC UA
 * password as the "unchanged" marker, and the marker kept the stored password while the same
 * request moved the device to another endpoint: the server there (anyone's) would get it at the
 * next connect. The same for a password file kept, or borrowed from another device or the uplink.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { SECRET_MARKER } from '../config/secret-fields.ts';
import { ensureWebCertificate } from './tls.ts';
import { webFixture, type Client, type Fixture } from './test-fixture.ts';

const DEVICE_PASSWORD = 'opcua-device-secret-5e21';
const FILE_PASSWORD = 'opcua-file-secret-8c07';

let f: Fixture;
let owner: Client;
let passwordFile: string;

/** Disabled: the test is about what the file keeps, not about an OPC UA session. */
const opcua = (id: string, endpointUrl: string, auth: Record<string, string>, extra: Record<string, unknown> = {}) => ({
  id,
  driver: 'opcua',
  enabled: false,
  endpointUrl,
  auth: { username: 'kedge', ...auth },
  points: [{ id: 'level', nodeId: 'ns=1;s=Level' }],
  ...extra,
});

test.before(async () => {
  f = await webFixture();
  owner = await f.setup();
  const secrets = join(f.gateway.currentConfig().dataDir, 'secrets');
  mkdirSync(secrets, { recursive: true, mode: 0o700 });
  passwordFile = join(secrets, 'river.password');
  writeFileSync(passwordFile, `${FILE_PASSWORD}\n`, { mode: 0o600 });
  for (const device of [
    opcua('river', 'opc.tcp://10.20.0.15:4840', { password: DEVICE_PASSWORD }, { securityMode: 'SignAndEncrypt' }),
    opcua('lake', 'opc.tcp://10.20.0.16:4840', { passwordFile }),
  ]) {
    const res = await owner.request('PUT', `/api/devices/${device.id}`, device);
    assert.equal(res.statusCode, 200, res.body);
  }
});
test.after(() => f.close());

const issuePaths = (body: string) => JSON.parse(body).issues.map((i: { path: string }) => i.path) as string[];

test('the marker does not take a device password to another endpoint or a weaker securityMode', async () => {
  const fileBefore = readFileSync(f.configPath, 'utf8');
  const listed = await owner.request('GET', '/api/devices');
  assert.ok(!listed.body.includes(DEVICE_PASSWORD));
  const moves = [
    opcua('river', 'opc.tcp://192.0.2.66:4840', { password: SECRET_MARKER }, { securityMode: 'SignAndEncrypt' }),
    opcua('river', 'opc.tcp://10.20.0.15:4840', { password: SECRET_MARKER }, { securityMode: 'None' }),
  ];
  for (const device of moves) {
    const res = await owner.request('PUT', '/api/devices/river', device);
    assert.equal(res.statusCode, 400, res.body);
    assert.ok(issuePaths(res.body).some((p) => p.endsWith('.auth.password')), res.body);
  }
  // The raw editor, with the text exactly as GET /api/config shows it.
  const shown = (await owner.request('GET', '/api/config')).json<{ text: string }>().text;
  assert.ok(shown.includes(SECRET_MARKER) && !shown.includes(DEVICE_PASSWORD));
  const raw = await owner.request('PUT', '/api/config', { text: shown.replace('opc.tcp://10.20.0.15:4840', 'opc.tcp://192.0.2.66:4840') });
  assert.equal(raw.statusCode, 400, raw.body);
  assert.equal(readFileSync(f.configPath, 'utf8'), fileBefore);

  // Not refusing everything: the marker keeps the password where it was stored for, and a typed one may go anywhere.
  const rename = await owner.request('PUT', '/api/devices/river', opcua('river', 'opc.tcp://10.20.0.15:4840', { password: SECRET_MARKER }, { securityMode: 'SignAndEncrypt', name: 'River' }));
  assert.equal(rename.statusCode, 200, rename.body);
  assert.ok(readFileSync(f.configPath, 'utf8').includes(DEVICE_PASSWORD));
  const typed = await owner.request('PUT', '/api/devices/river', opcua('river', 'opc.tcp://192.0.2.67:4840', { password: 'typed-new-password' }));
  assert.equal(typed.statusCode, 200, typed.body);
  assert.ok(!readFileSync(f.configPath, 'utf8').includes(DEVICE_PASSWORD));
});

test("a password file goes with its device only: not moved along, not lent to another device or the uplink", async () => {
  const fileBefore = readFileSync(f.configPath, 'utf8');
  const attempts: Array<[string, string, unknown, string]> = [
    ['PUT', '/api/devices/lake', opcua('lake', 'opc.tcp://192.0.2.66:4840', { passwordFile }), 'auth.passwordFile'],
    ['POST', '/api/devices', opcua('thief', 'opc.tcp://192.0.2.66:4840', { passwordFile }), 'auth.passwordFile'],
    ['PUT', '/api/config', { text: `${fileBefore.replace(/^uplink:\n/m, `uplink:\n  username: box\n  passwordFile: ${passwordFile}\n`)}` }, 'uplink.passwordFile'],
  ];
  for (const [method, url, body, field] of attempts) {
    const res = await owner.request(method, url, body);
    assert.equal(res.statusCode, 400, `${method} ${url}: ${res.body}`);
    assert.ok(issuePaths(res.body).some((p) => p.endsWith(field)), res.body);
  }
  assert.equal(readFileSync(f.configPath, 'utf8'), fileBefore);
  // Edits that keep the device where it is keep its file.
  const edit = await owner.request('PUT', '/api/devices/lake', opcua('lake', 'opc.tcp://10.20.0.16:4840', { passwordFile }, { name: 'Lake' }));
  assert.equal(edit.statusCode, 200, edit.body);
});

test("the uplink's TLS key is not sent as a password: not to a new broker, not by a device", async () => {
  const pair = await ensureWebCertificate(join(f.dir, 'client-cert'));
  const upload = async (kind: 'key' | 'cert', pem: string) => {
    const res = await owner.request('POST', `/api/uplink/tls/${kind}`, { pem });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<{ path: string }>().path;
  };
  const keyPath = await upload('key', pair.key);
  const certPath = await upload('cert', pair.cert);
  const text = readFileSync(f.configPath, 'utf8').replace(/^uplink:\n/m, `uplink:\n  tls:\n    key: ${keyPath}\n    cert: ${certPath}\n`);
  const withKey = await owner.request('PUT', '/api/config', { text });
  assert.equal(withKey.statusCode, 200, withKey.body);
  const fileBefore = readFileSync(f.configPath, 'utf8');
  const asUplinkPassword = fileBefore
    .replace(/url: mqtt:\/\/127\.0\.0\.1:1\b/, 'url: mqtt://192.0.2.66:1883')
    .replace(/^uplink:\n/m, `uplink:\n  username: box\n  passwordFile: ${keyPath}\n`);
  for (const [method, url, body] of [
    ['PUT', '/api/config', { text: asUplinkPassword }],
    ['POST', '/api/devices', opcua('thief', 'opc.tcp://192.0.2.66:4840', { passwordFile: keyPath })],
  ] as const) {
    const res = await owner.request(method, url, body);
    assert.equal(res.statusCode, 400, `${method} ${url}: ${res.body}`);
    assert.match(res.body, /the uplink's TLS key/);
  }
  assert.equal(readFileSync(f.configPath, 'utf8'), fileBefore);
});
