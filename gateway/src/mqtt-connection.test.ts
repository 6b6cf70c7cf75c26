import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { parseConfig } from './config/load.ts';
import { BrokerSecretError, brokerConnection, brokerSettingsKey, configBrokerConnection, mqttClientOptions } from './mqtt-connection.ts';

function box() {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-mqtt-conn-'));
  const dataDir = join(dir, 'data');
  const secrets = join(dataDir, 'secrets');
  mkdirSync(secrets, { recursive: true });
  const config = (uplink: Record<string, unknown>) =>
    parseConfig(JSON.stringify({ gateway: { id: 'gw-1', region: 'kuzbass', municipality: 'kemerovo' }, dataDir, uplink: { url: 'mqtts://center.example:8883', ...uplink } }));
  return { dir, dataDir, secrets, config, close: () => rmSync(dir, { recursive: true, force: true }) };
}

test('every client gets the same broker, credentials and TLS from the config, with its own client id', () => {
  const b = box();
  try {
    writeFileSync(join(b.secrets, 'password'), 'hunter2\n', { mode: 0o600 });
    writeFileSync(join(b.secrets, 'ca.pem'), 'CA', { mode: 0o644 });
    const config = b.config({ username: 'box', passwordFile: join(b.secrets, 'password'), tls: { ca: join(b.secrets, 'ca.pem') }, keepaliveSec: 45 });
    const warnings: string[] = [];
    const cmd = configBrokerConnection(config, { clientSuffix: '-cmd', warn: (_f, p) => warnings.push(p) });
    assert.deepEqual(cmd, {
      url: 'mqtts://center.example:8883',
      clientId: 'kedge-gw-1-cmd',
      username: 'box',
      password: 'hunter2',
      tls: { ca: Buffer.from('CA'), cert: undefined, key: undefined, rejectUnauthorized: true },
      keepaliveSec: 45,
      protocolVersion: 4,
    });
    // The uplink's MQTT version reaches it (gateway.ts spreads the connection into the sink's options); the other clients stay on 3.1.1.
    const v5 = configBrokerConnection(b.config({ protocolVersion: 5 }), { clientSuffix: '-cmd' });
    assert.equal(v5.protocolVersion, 5);
    assert.equal('protocolVersion' in mqttClientOptions(v5), false);
    assert.deepEqual(warnings, [], 'a CA certificate is public: its mode is no concern');
    assert.deepEqual(mqttClientOptions(cmd), { clientId: 'kedge-gw-1-cmd', keepalive: 45, username: 'box', password: 'hunter2', ca: Buffer.from('CA'), rejectUnauthorized: true });
    assert.equal(configBrokerConnection(b.config({ clientId: 'pump-3' }), { clientSuffix: '-ota' }).clientId, 'pump-3-ota');
  } finally {
    b.close();
  }
});

test('a password or key file others can read is used with a warning naming the chmod', () => {
  const b = box();
  try {
    writeFileSync(join(b.secrets, 'password'), 'hunter2');
    chmodSync(join(b.secrets, 'password'), 0o644);
    writeFileSync(join(b.secrets, 'key.pem'), 'KEY');
    chmodSync(join(b.secrets, 'key.pem'), 0o640);
    writeFileSync(join(b.secrets, 'cert.pem'), 'CERT', { mode: 0o644 });
    const config = b.config({ passwordFile: join(b.secrets, 'password'), tls: { cert: join(b.secrets, 'cert.pem'), key: join(b.secrets, 'key.pem') } });
    const warnings: Array<[string, string]> = [];
    const c = configBrokerConnection(config, { warn: (f, p) => warnings.push([f, p]) });
    assert.equal(c.password, 'hunter2');
    assert.deepEqual(
      warnings.map(([f]) => f).sort(),
      [join(b.secrets, 'key.pem'), join(b.secrets, 'password')],
    );
    for (const [f, p] of warnings) assert.match(p, new RegExp(`chmod 600 ${f}`));
  } finally {
    b.close();
  }
});

test('a secret file outside the secrets folders, or a link leading out of them, is refused naming the field', () => {
  const b = box();
  try {
    const outside = join(b.dir, 'elsewhere');
    writeFileSync(outside, 'not a password');
    symlinkSync(outside, join(b.secrets, 'password'));
    const config = b.config({ passwordFile: join(b.secrets, 'password') });
    assert.throws(() => configBrokerConnection(config), (err: unknown) => {
      assert.ok(err instanceof BrokerSecretError);
      assert.equal(err.field, 'passwordFile');
      assert.match(err.message, /leads to .*elsewhere, outside the folders secret files may be read from/);
      return true;
    });
    // The UI's connection test names files as typed: /etc/hostname must not become a certificate.
    assert.throws(
      () => brokerConnection({ url: 'mqtts://x:8883', tls: { cert: '/etc/hostname' }, keepaliveSec: 30 }, { gatewayId: 'gw-1', roots: [b.secrets] }),
      (err: unknown) => err instanceof BrokerSecretError && err.field === 'tls.cert' && /outside the folders/.test(err.message),
    );
  } finally {
    b.close();
  }
});

test('the settings key changes with what decides the connection, not with batching or codec', () => {
  const b = box();
  try {
    const base = brokerSettingsKey(b.config({}));
    assert.equal(brokerSettingsKey(b.config({ batchMaxReadings: 10, codec: 'compact' })), base);
    assert.notEqual(brokerSettingsKey(b.config({ url: 'mqtts://other.example:8883' })), base);
    assert.notEqual(brokerSettingsKey(b.config({ username: 'box', password: 'new' })), base);
    assert.notEqual(brokerSettingsKey(b.config({ keepaliveSec: 90 })), base);
  } finally {
    b.close();
  }
});
