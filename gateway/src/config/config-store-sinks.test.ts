/**
 * Every uplink's stored credentials stay with the endpoint they were stored for when the web API
 * replaces the config (PUT /api/config calls ConfigStore.replace), not only the primary's: the
 * rule is the sinks' own credentialBinding (cloud-sync/src/north/credentials.ts), checked by name
 * for every entry. Each attack runs against a real config file, and the file must be untouched.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigService } from './config-service.ts';
import { ConfigStore } from './config-store.ts';
import { ConfigError } from './load.ts';
import { SECRET_MARKER } from './secret-fields.ts';

const dir = mkdtempSync(join(tmpdir(), 'kedge-store-sinks-'));
const secrets = join(dir, 'data', 'secrets');
mkdirSync(secrets, { recursive: true });
const file = (name: string) => {
  const p = join(secrets, name);
  writeFileSync(p, `${name}-content\n`, { mode: 0o600 });
  return p;
};
const BROKER_PW = file('broker.pw');
const SCADA_PW = file('scada.pw');
const CITY_TOKEN = file('city.token');
const path = join(dir, 'kedge.yaml');
test.after(() => rmSync(dir, { recursive: true, force: true }));

interface Shape {
  scadaUrl?: string;
  scadaAuth?: string;
  cityUrl?: string;
  cityAuth?: string;
  devices?: string;
}

/** A box with three uplinks: the center's broker, a local SCADA (Sparkplug), a city receiver (HTTP). */
const config = (o: Shape = {}) => `gateway: { id: gw-1, region: kuzbass, municipality: kemerovo }
dataDir: ${dir}/data
uplinks:
  - { name: regional, kind: mqtt, url: "mqtts://ingest.example.ru:8883", username: gw, passwordFile: ${BROKER_PW} }
  - { name: scada, kind: sparkplug, url: "${o.scadaUrl ?? 'mqtts://scada.local:8883'}", username: gw, ${o.scadaAuth ?? 'password: scada-s3cret'} }
  - { name: city, kind: http, url: "${o.cityUrl ?? 'https://scada.city.example.ru/kedge'}", ${o.cityAuth ?? `tokenFile: ${CITY_TOKEN}, headers: { X-Api-Key: city-api-key }`} }
${o.devices ?? ''}`;

let store: ConfigStore;

function reset(text = config()): void {
  writeFileSync(path, text);
  store = new ConfigStore(new ConfigService({ path, apply: async () => {} }));
}

/** Asserts `text` is refused with exactly these issue paths (matching `message`), the file untouched. */
async function refused(text: string, paths: string[], message: RegExp): Promise<void> {
  const before = readFileSync(path, 'utf8');
  const err = await store.replace(text).then(
    () => assert.fail('the change was accepted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, String(err));
  assert.deepEqual(
    err.issues.map((i) => i.path),
    paths,
    JSON.stringify(err.issues),
  );
  for (const i of err.issues) assert.match(i.message, message);
  assert.equal(readFileSync(path, 'utf8'), before, 'the file is untouched');
}

test('a named secondary Sparkplug uplink moved to another broker with its password as the marker is refused', async () => {
  reset();
  await refused(config({ scadaUrl: 'mqtt://attacker.example.com:1883', scadaAuth: `password: "${SECRET_MARKER}"` }), ['uplinks[1].password'], /only sent to the stored broker \(mqtts:\/\/scada\.local:8883\), not to mqtt:\/\/attacker\.example\.com:1883: type the password/);
  // The same host in clear (mqtts -> mqtt) is another endpoint too.
  await refused(config({ scadaUrl: 'mqtt://scada.local:8883', scadaAuth: `password: "${SECRET_MARKER}"` }), ['uplinks[1].password'], /type the password/);
  // Turning the certificate check off hands it to whoever sits in between.
  await refused(
    config({ scadaAuth: `password: "${SECRET_MARKER}", tls: { rejectUnauthorized: false }` }),
    ['uplinks[1].password'],
    /\(mqtts:\/\/scada\.local:8883\), not to mqtts:\/\/scada\.local:8883 \(certificate check off\)/,
  );
});

test('the primary uplink of the uplinks: list moved with its password as the marker is refused (the list form, not only uplink:)', async () => {
  reset(config().replace(`passwordFile: ${BROKER_PW}`, 'password: s3cret'));
  const moved = config().replace(`passwordFile: ${BROKER_PW}`, `password: "${SECRET_MARKER}"`).replace('mqtts://ingest.example.ru:8883', 'mqtt://attacker.example.com:1883');
  await refused(moved, ['uplinks[0].password'], /stored broker \(mqtts:\/\/ingest\.example\.ru:8883\)/);
  // Its password file kept while it moves: the file goes to the new broker.
  reset();
  await refused(config().replace('mqtts://ingest.example.ru:8883', 'mqtt://attacker.example.com:1883'), ['uplinks[0].passwordFile'], /change the password file in the config file on the box/);
});

test('the HTTP sink moved to another receiver with its token file or its header value as the marker is refused', async () => {
  reset();
  await refused(
    config({ cityUrl: 'https://attacker.example.com/x', cityAuth: `tokenFile: ${CITY_TOKEN}, headers: { X-Api-Key: "${SECRET_MARKER}" }` }),
    ['uplinks[2].tokenFile', 'uplinks[2].headers.X-Api-Key'],
    /only sent to the stored receiver \(https:\/\/scada\.city\.example\.ru:443\), not to https:\/\/attacker\.example\.com:443: (change the bearer token file|type the value of header X-Api-Key)/,
  );
  // Another port of the same host is another receiver.
  await refused(config({ cityUrl: 'https://scada.city.example.ru:8443/kedge', cityAuth: `tokenFile: ${CITY_TOKEN}` }), ['uplinks[2].tokenFile'], /bearer token/);
});

test('an uplink renamed or given another kind keeps no stored credential', async () => {
  reset(config({ scadaAuth: `passwordFile: ${SCADA_PW}` }));
  // The same password file under a new name: another uplink's secret.
  const renamed = config({ scadaUrl: 'mqtt://attacker.example.com:1883', scadaAuth: `passwordFile: ${SCADA_PW}` }).replace('name: scada', 'name: evil');
  await refused(renamed, ['uplinks[1].passwordFile'], /holds uplink scada's password: it is not sent to a broker as a password/);
  // The same name, another kind at the same URL: another kind of server.
  const rekinded = config({ scadaAuth: `passwordFile: ${SCADA_PW}` }).replace('kind: sparkplug', 'kind: mqtt');
  await refused(rekinded, ['uplinks[1].passwordFile'], /change the password file/);
});

test("the HTTP sink's token file is not handed to a device or another uplink as its password", async () => {
  reset();
  const device = `devices:
  - { id: river, driver: opcua, enabled: false, endpointUrl: "opc.tcp://203.0.113.9:4840", auth: { username: kedge, passwordFile: ${CITY_TOKEN} }, points: [{ id: level, nodeId: "ns=1;s=Level" }] }
`;
  await refused(config({ devices: device }), ['devices[0].auth.passwordFile'], /holds uplink city's bearer token: it is not given to device river as its password/);
  await refused(config({ scadaAuth: `passwordFile: ${CITY_TOKEN}` }), ['uplinks[1].passwordFile'], /holds uplink city's bearer token: it is not sent to a broker as a password/);
});

test('moving an uplink with new credentials, or editing it in place with the markers, is allowed', async () => {
  reset();
  // In place: the markers keep the stored values.
  await store.replace(config({ scadaAuth: `password: "${SECRET_MARKER}"`, cityAuth: `tokenFile: ${CITY_TOKEN}, headers: { X-Api-Key: "${SECRET_MARKER}" }` }).replace('username: gw, password: "', 'username: gw2, password: "'));
  assert.match(readFileSync(path, 'utf8'), /username: gw2,\s+password: "scada-s3cret"/);
  assert.match(readFileSync(path, 'utf8'), /X-Api-Key: "city-api-key"/);
  // Moved with a typed password and without the stored token: the engineer's own decision.
  await store.replace(config({ scadaUrl: 'mqtts://scada2.local:8883', scadaAuth: 'password: typed-anew', cityUrl: 'https://new.city.example.ru/kedge', cityAuth: 'headers: { X-Api-Key: typed-key }' }));
  assert.match(readFileSync(path, 'utf8'), /scada2\.local/);
});
