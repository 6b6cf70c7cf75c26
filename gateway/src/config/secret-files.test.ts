/**
 * Which config fields name secret or TLS files is each sink's and each driver's own knowledge
 * (SinkDefinition.secretFiles, DriverDefinition.secretFiles): the loader makes every one of them
 * absolute against the config file's folder and confines it to the secrets folders, whoever
 * declares it — a fourth sink from a fixture folder included, with no line here knowing it.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SINKS } from '@kedge/cloud-sync/north/registry.ts';
import { tapeSink } from '@kedge/cloud-sync/north/fixtures/tape/index.ts';
import { ConfigError, loadConfigFile } from './load.ts';
import { resolveSecretFiles, secretFilePaths, secretPathIssues } from './secret-files.ts';

/** The one registration line of the fixture sink (as gateway/src/sink-registry.test.ts composes it). */
const WITH_TAPE = [...SINKS, tapeSink];

const dataDir = '/var/lib/kedge';
const regional = { name: 'regional', kind: 'mqtt', passwordFile: '/etc/hostname', tls: { ca: `${dataDir}/tls/ca.pem` } };

test("a fixture sink's declared secret field is confined like a broker's password file", () => {
  const config = (sealKeyFile: string) => ({
    dataDir,
    uplink: regional,
    uplinks: [regional, { name: 'archive', kind: 'tape', tape: 'a', sealKeyFile }],
    devices: [],
  });
  assert.deepEqual(
    secretPathIssues(config('/root/seal.key'), WITH_TAPE).map((i) => i.path),
    ['uplinks[0].passwordFile', 'uplinks[1].sealKeyFile'],
  );
  assert.match(secretPathIssues(config('/root/seal.key'), WITH_TAPE)[1]!.message, /\/root\/seal\.key is outside the folders secret files may be read from/);
  assert.deepEqual(
    secretPathIssues(config(`${dataDir}/secrets/seal.key`), WITH_TAPE).map((i) => i.path),
    ['uplinks[0].passwordFile'],
  );
  // The field is known by the tape's definition alone: a registry without it names no such file.
  assert.deepEqual(
    secretFilePaths(config('/root/seal.key')).map((f) => f.path),
    ['uplinks[0].passwordFile', 'uplinks[0].tls.ca'],
  );
});

test("the built-in sinks declare their own files: a broker's password and TLS files, an HTTP receiver's token", () => {
  const uplinks = [
    { name: 'regional', kind: 'mqtt', passwordFile: 'p', tls: { ca: 'ca', cert: 'c', key: 'k' } },
    { name: 'scada', kind: 'sparkplug', passwordFile: 'sp', tls: { key: 'sk' } },
    { name: 'receiver', kind: 'http', tokenFile: 't', tls: { ca: 'hca' } },
  ];
  assert.deepEqual(
    secretFilePaths({ uplink: uplinks[0]!, uplinks, devices: [] }).map((f) => `${f.path}=${f.file}`),
    [
      'uplinks[0].passwordFile=p',
      'uplinks[0].tls.ca=ca',
      'uplinks[0].tls.cert=c',
      'uplinks[0].tls.key=k',
      'uplinks[1].passwordFile=sp',
      'uplinks[1].tls.key=sk',
      'uplinks[2].tokenFile=t',
      'uplinks[2].tls.ca=hca',
    ],
  );
});

test("resolving makes each declared file absolute, the fixture sink's and a driver's included", () => {
  const config = {
    dataDir,
    uplink: regional,
    uplinks: [regional, { name: 'archive', kind: 'tape', tape: 'a', sealKeyFile: 'secrets/seal.key' }],
    devices: [{ driver: 'opcua', auth: { certificateFile: 'secrets/opcua.crt', privateKeyFile: 'secrets/opcua.key' } }],
  };
  resolveSecretFiles(config, (f) => (f.startsWith('/') ? f : `/etc/kedge/${f}`), WITH_TAPE);
  assert.equal((config.uplinks[1] as Record<string, unknown>)['sealKeyFile'], '/etc/kedge/secrets/seal.key');
  assert.deepEqual(config.devices[0]!.auth, { certificateFile: '/etc/kedge/secrets/opcua.crt', privateKeyFile: '/etc/kedge/secrets/opcua.key' });
  assert.equal((config.uplinks[0] as Record<string, unknown>)['passwordFile'], '/etc/hostname', 'an absolute path stays as written');
});

function configDir(t: test.TestContext, devicesYaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-secret-files-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'kedge.yaml'),
    `gateway:
  id: gw1
  region: kuzbass
  municipality: kemerovo
dataDir: ./data
uplinks:
  - name: regional
    kind: mqtt
    url: mqtt://broker.local
devices:
${devicesYaml}`,
  );
  return dir;
}

const opcuaDevice = (auth: string) => `  - id: well
    driver: opcua
    endpointUrl: opc.tcp://10.0.0.9:4840
    securityMode: SignAndEncrypt
    auth:
${auth}
    points:
      - id: level
        nodeId: ns=2;s=Level
`;

test("an OPC UA device's relative key and certificate files are found in the config file's folder, not the daemon's cwd", async (t) => {
  const dir = configDir(t, opcuaDevice('      certificateFile: data/secrets/opcua.crt\n      privateKeyFile: data/tls/opcua.key'));
  assert.notEqual(process.cwd(), dir);
  const config = await loadConfigFile(join(dir, 'kedge.yaml'));
  const device = config.devices[0] as { auth: Record<string, unknown> };
  assert.equal(device.auth['certificateFile'], join(dir, 'data/secrets/opcua.crt'));
  assert.equal(device.auth['privateKeyFile'], join(dir, 'data/tls/opcua.key'));
});

test("an OPC UA device's relative file leading out of the secrets folders is refused at load, the field named", async (t) => {
  const dir = configDir(t, opcuaDevice('      username: operator\n      passwordFile: data/secrets/../../operator.pass'));
  const err = await loadConfigFile(join(dir, 'kedge.yaml')).then(
    () => assert.fail('the config should be refused'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, String(err));
  assert.deepEqual(
    err.issues.map((i) => i.path),
    ['devices[0].auth.passwordFile'],
  );
  assert.match(err.issues[0]!.message, new RegExp(`${join(dir, 'operator.pass').replace(/[.]/g, '\\.')} is outside`));
});
