/**
 * The files an OPC UA device's `auth` names are read like every other secret of the gateway
 * (secrets.ts): only from `<dataDir>/secrets`, `<dataDir>/tls` or `secretsDir`, every link
 * resolved, before any connection is tried. A link planted in the secrets folder must not turn
 * /etc/shadow or another service's key into a "password" sent to a server of someone's choosing.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { UserTokenType, type UserIdentityInfoUserName } from 'node-opcua-client';
import { freePort } from '@kedge/testkit/ports.ts';
import { driverContext } from '../../driver-context.ts';
import { AuthFileError, userIdentity } from './connect.ts';
import { OpcuaDevice } from './opcua-device.ts';
import { opcuaDevice } from './test-support.ts';

let root: string;
let dataDir: string;
let secrets: string;
let outside: string;

test.before(() => {
  root = mkdtempSync(join(tmpdir(), 'kedge-opcua-auth-'));
  dataDir = join(root, 'data');
  secrets = join(dataDir, 'secrets');
  mkdirSync(secrets, { recursive: true });
  outside = join(root, 'elsewhere', 'shadow');
  mkdirSync(join(root, 'elsewhere'));
  writeFileSync(outside, 'root-secret-of-another-service\n', { mode: 0o600 });
});

test.after(() => rmSync(root, { recursive: true, force: true }));

test('a passwordFile that is a link planted in <dataDir>/secrets pointing outside is refused, the field and file named', () => {
  const link = join(secrets, 'opcua-password');
  symlinkSync(outside, link);
  const { readSecret } = driverContext({ dataDir });
  assert.throws(
    () => userIdentity({ username: 'operator', passwordFile: link }, readSecret),
    (err: unknown) => {
      assert.ok(err instanceof AuthFileError, String(err));
      assert.ok(err.message.startsWith('auth.passwordFile: '), err.message);
      assert.ok(err.message.includes(link) && err.message.includes(outside), err.message);
      assert.doesNotMatch(err.message, /root-secret/, 'the target file content never appears');
      return true;
    },
  );
});

test('the driver refuses that link before connecting: every poll is bad_config naming the file', async () => {
  const link = join(secrets, 'opcua-password-2');
  symlinkSync(outside, link);
  // Nobody listens on this port: a result naming the file proves the read came first.
  const endpointUrl = `opc.tcp://127.0.0.1:${await freePort()}`;
  const device = new OpcuaDevice(
    opcuaDevice({ endpointUrl, timeoutMs: 1000, auth: { username: 'operator', passwordFile: link }, points: [{ id: 'level', nodeId: 'ns=1;s=Level', mode: 'poll' }] }),
    driverContext({ dataDir }),
  );
  try {
    const r = await device.poll(['level']);
    assert.equal(r.failed, true);
    assert.equal(r.samples[0]!.quality, 'bad_config', JSON.stringify(r));
    assert.match(r.error ?? '', /auth\.passwordFile: .*opcua-password-2 leads to .*elsewhere\/shadow, outside the folders/);
  } finally {
    await device.close();
  }
});

test('a passwordFile outside the secret folders is refused even without a link', () => {
  assert.throws(() => userIdentity({ username: 'operator', passwordFile: outside }, driverContext({ dataDir }).readSecret), /auth\.passwordFile: .*elsewhere\/shadow is outside the folders secret files may be read from/);
});

test('a passwordFile in <dataDir>/secrets is read and trimmed; one others may read is used with a chmod warning', () => {
  const file = join(secrets, 'loose-password');
  writeFileSync(file, 'correct-horse\n', { mode: 0o644 });
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
  const id = userIdentity({ username: 'operator', passwordFile: file }, driverContext({ dataDir }, logger).readSecret) as UserIdentityInfoUserName;
  assert.deepEqual([id.type, id.userName, id.password], [UserTokenType.UserName, 'operator', 'correct-horse']);
  assert.equal(lines.length, 1);
  assert.match(JSON.parse(lines[0]!).msg, new RegExp(`${file} holds a secret but has mode 0644; run: chmod 600 ${file}`));
});

test('a user key that is a link leading outside is refused; a PEM key in the secrets folder is loaded', () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyOutside = join(root, 'elsewhere', 'key.pem');
  writeFileSync(keyOutside, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const certFile = join(dataDir, 'secrets', 'user-cert.der');
  writeFileSync(certFile, Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]));
  const keyLink = join(secrets, 'user-key.pem');
  symlinkSync(keyOutside, keyLink);
  const { readSecret } = driverContext({ dataDir });
  assert.throws(() => userIdentity({ certificateFile: certFile, privateKeyFile: keyLink }, readSecret), /auth\.privateKeyFile: .*user-key\.pem leads to .*elsewhere\/key\.pem/);
  const keyInside = join(secrets, 'real-key.pem');
  writeFileSync(keyInside, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const id = userIdentity({ certificateFile: certFile, privateKeyFile: keyInside }, readSecret);
  assert.equal(id.type, UserTokenType.Certificate);
});
