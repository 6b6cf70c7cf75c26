import test from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import mqtt from 'mqtt';
import { startEmbeddedBroker } from '@kedge/cloud-sync/broker/embedded.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { parseConfig } from './config/load.ts';
import { Gateway } from './gateway.ts';
import { createLogger } from './logger.ts';
import { readSecretFile, SecretPathError, secretFileProblem, secretRoots, writeSecretFile } from './secrets.ts';
import { secretPathIssues } from './config/secret-files.ts';

function tempDir(t: test.TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-secrets-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('secret files are written with mode 0600 and atomically, leaving no temp file', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'key.pem');
  writeSecretFile(path, 'first');
  writeSecretFile(path, 'second');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(readFileSync(path, 'utf8'), 'second');
  assert.deepEqual(readdirSync(dir), ['key.pem']);
});

test('a secret file readable by others is reported with the command that fixes it', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'password');
  writeFileSync(path, 'x');
  chmodSync(path, 0o644);
  assert.equal(secretFileProblem(path), `${path} holds a secret but has mode 0644; run: chmod 600 ${path}`);
  chmodSync(path, 0o600);
  assert.equal(secretFileProblem(path), null);
});

test('passwords never reach the log, the status or the birth message', async (t) => {
  const dir = tempDir(t);
  const seen: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      seen.push(String(chunk));
      done();
    },
  });
  const logger = createLogger({ name: 'test', level: 'debug', destination: sink });
  const broker = await startEmbeddedBroker({
    port: 0,
    aedes: { authenticate: (_c, user, pass, done) => done(null, user === 'gw' && ['pw-in-file-91', 'url-secret-77'].includes(String(pass))) },
  });
  t.after(() => broker.close());
  mkdirSync(join(dir, 'data', 'secrets'), { recursive: true });
  const passwordFile = join(dir, 'data', 'secrets', 'mqtt-password');
  writeFileSync(passwordFile, 'pw-in-file-91\n');
  chmodSync(passwordFile, 0o640);
  const config = parseConfig(
    JSON.stringify({
      gateway: { id: 'gw-secret', region: 'kuzbass', municipality: 'kemerovo' },
      dataDir: join(dir, 'data'),
      uplink: { url: `mqtt://gw:url-secret-77@127.0.0.1:${broker.port}`, username: 'gw', passwordFile },
      web: { enabled: false },
    }),
  );
  const birth = new Promise<string>((resolve) => {
    void mqtt.connectAsync(broker.url, { username: 'gw', password: 'pw-in-file-91' }).then(async (c) => {
      c.on('message', (_topic, payload) => {
        resolve(payload.toString());
        void c.endAsync();
      });
      await c.subscribeAsync('kedge/v1/+/+/gw-secret/status');
    });
  });
  const gateway = new Gateway(config, logger);
  await gateway.start();
  t.after(() => gateway.stop());
  await waitFor(() => gateway.status().uplink?.state === 'online', { what: 'login with the credentials' });
  logger.info({ uplink: { password: 'pw-in-file-91' }, token: 'tok-55' }, 'an object that carries secrets');
  const status = JSON.stringify(gateway.status(), (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  const everything = [seen.join(''), status, await birth].join('\n');
  for (const secret of ['pw-in-file-91', 'url-secret-77', 'tok-55']) assert.ok(!everything.includes(secret), `${secret} leaked`);
  assert.match(seen.join(''), /has mode 0640; run: chmod 600/);
  assert.match(seen.join(''), /\[redacted\]/);
});

test('secret and TLS files are read only from <dataDir>/secrets, <dataDir>/tls or secretsDir, links resolved', (t) => {
  const dir = tempDir(t);
  const dataDir = join(dir, 'data');
  mkdirSync(join(dataDir, 'secrets'), { recursive: true });
  mkdirSync(join(dir, 'etc-kedge'));
  writeFileSync(join(dataDir, 'secrets', 'mqtt.pass'), 'pw\n');
  writeFileSync(join(dir, 'etc-kedge', 'ca.pem'), 'ca');
  writeFileSync(join(dir, 'hostname'), 'not a secret of ours');
  const roots = secretRoots({ dataDir, secretsDir: join(dir, 'etc-kedge') });
  assert.deepEqual(roots, [join(dataDir, 'secrets'), join(dataDir, 'tls'), join(dir, 'etc-kedge')]);
  assert.equal(readSecretFile(join(dataDir, 'secrets', 'mqtt.pass'), roots).toString(), 'pw\n');
  assert.equal(readSecretFile(join(dir, 'etc-kedge', 'ca.pem'), roots).toString(), 'ca');
  for (const outside of [join(dir, 'hostname'), '/etc/hostname', join(dataDir, 'secrets', '..', '..', 'hostname'), join(dataDir, 'secrets')]) {
    assert.throws(() => readSecretFile(outside, roots), SecretPathError, outside);
  }
  // A link planted in the secrets folder must not lead out of it.
  symlinkSync(join(dir, 'hostname'), join(dataDir, 'secrets', 'innocent.pass'));
  assert.throws(() => readSecretFile(join(dataDir, 'secrets', 'innocent.pass'), roots), /leads to .*hostname, outside the folders secret files may be read from/);
  // The config check names each field.
  assert.deepEqual(
    secretPathIssues({
      dataDir,
      uplink: { passwordFile: '/etc/hostname', tls: { ca: join(dataDir, 'tls', 'ca.pem'), key: '/etc/ssl/private/other.key' } },
      // Which device fields name files is the driver's (DriverDefinition.secretFiles).
      devices: [
        { driver: 'opcua', auth: { username: 'u', passwordFile: join(dataDir, 'secrets', 'opcua.pass') } },
        { driver: 'opcua', auth: { certificateFile: '/root/cert.pem', privateKeyFile: join(dataDir, 'secrets', 'k') } },
        { driver: 'modbus-tcp', auth: { certificateFile: '/not/a/field/of/modbus' } },
      ],
    }).map((i) => i.path),
    ['uplink.passwordFile', 'uplink.tls.key', 'devices[1].auth.certificateFile'],
  );
});
