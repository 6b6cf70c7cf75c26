/**
 * A center's `config` command may not send ANY uplink's stored credentials elsewhere, not only
 * the primary broker's: each sink binds its credentials to its endpoint
 * (SinkDefinition.credentialBinding) and protectedChanges checks every entry by name through
 * that hook, the Sparkplug and HTTP sinks and a fixture sink alike. The configs are parsed by the
 * real loader, as the executor does before it compares them.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { SINKS } from '@kedge/cloud-sync/north/registry.ts';
import { tapeSink } from '@kedge/cloud-sync/north/fixtures/tape/index.ts';
import { parseConfig } from '../config/load.ts';
import { uplinksSchemaFor, type GatewayConfig } from '../config/schema.ts';
import { SECRET_MARKER } from '../config/secret-fields.ts';
import { DRIVERS } from '../drivers/registry.ts';
import { protectedChanges } from './protected-sections.ts';

const S = '/etc/kedge/data/secrets';

interface Shape {
  scada?: string;
  city?: string;
  devices?: string;
}

/** A box with the center's broker, a local SCADA (Sparkplug) and a city receiver (HTTP). */
const yaml = (o: Shape = {}) => `
gateway: { id: gw-1, region: kuzbass, municipality: kemerovo }
uplinks:
  - { name: regional, kind: mqtt, url: "mqtts://ingest.example.ru:8883", passwordFile: ${S}/broker.pw }
  - { name: scada, kind: sparkplug, ${o.scada ?? `url: "mqtts://scada.local:8883", passwordFile: ${S}/scada.pw`} }
  - { name: city, kind: http, ${o.city ?? `url: "https://scada.city.example.ru/kedge", tokenFile: ${S}/city.token, headers: { X-Api-Key: k }`} }
${o.devices ?? ''}`;
const parse = (text: string) => parseConfig(text, 'kedge.yaml', '/etc/kedge');
const current = parse(yaml());
const changes = (next: Shape) => protectedChanges(current, parse(yaml(next)));
const paths = (next: Shape) => changes(next).map((c) => c.path);

test("a secondary Sparkplug uplink moved to another broker with its stored password file is refused, whoever's primary", () => {
  assert.deepEqual(paths({ scada: `url: "mqtt://attacker.example.com:1883", passwordFile: ${S}/scada.pw` }), ['uplinks[1].url']);
  assert.match(changes({ scada: `url: "mqtt://attacker.example.com:1883", passwordFile: ${S}/scada.pw` })[0]!.message, /uplink scada's stored credentials to another broker \(mqtts:\/\/scada\.local:8883 -> mqtt:\/\/attacker\.example\.com:1883\)/);
  // mqtts -> mqtt on the same host and port sends it in clear.
  assert.deepEqual(paths({ scada: `url: "mqtt://scada.local:8883", passwordFile: ${S}/scada.pw` }), ['uplinks[1].url']);
  // The certificate check off hands it to whoever sits in between.
  assert.deepEqual(paths({ scada: `url: "mqtts://scada.local:8883", passwordFile: ${S}/scada.pw, tls: { rejectUnauthorized: false }` }), ['uplinks[1].tls.rejectUnauthorized']);
  // The marker is the stored password too (ConfigStore fills it in).
  assert.deepEqual(paths({ scada: `url: "mqtt://attacker.example.com:1883", password: "${SECRET_MARKER}"` }), ['uplinks[1].url']);
  // The same name as another kind (another kind of server) at the attacker's host: still its stored file.
  const rekinded = yaml({ scada: `url: "mqtt://attacker.example.com:1883", passwordFile: ${S}/scada.pw` }).replace('kind: sparkplug', 'kind: mqtt');
  assert.deepEqual(protectedChanges(current, parse(rekinded)).map((c) => c.path), ['uplinks[1].url']);
});

test('the HTTP sink moved to another receiver with its token file, a header value or its client key is refused', () => {
  const evil = 'url: "https://attacker.example.com/x"';
  assert.deepEqual(paths({ city: `${evil}, tokenFile: ${S}/city.token` }), ['uplinks[2].url']);
  assert.deepEqual(paths({ city: `${evil}, headers: { X-Api-Key: "${SECRET_MARKER}" }` }), ['uplinks[2].url']);
  assert.deepEqual(paths({ city: `${evil}, headers: { X-Api-Key: k }` }), ['uplinks[2].url'], 'the same header value typed again is the stored one');
  assert.match(changes({ city: `${evil}, tokenFile: ${S}/city.token` })[0]!.message, /to another receiver \(https:\/\/scada\.city\.example\.ru:443 -> https:\/\/attacker\.example\.com:443\)/);
  const withKey = yaml({ city: `url: "https://scada.city.example.ru/kedge", tls: { cert: ${S}/city.crt, key: ${S}/city.key }` });
  const movedKey = withKey.replace('https://scada.city.example.ru/kedge', 'https://attacker.example.com/x');
  assert.deepEqual(protectedChanges(parse(withKey), parse(movedKey)).map((c) => c.path), ['uplinks[2].url']);
  // Another port of the same host is another receiver.
  assert.deepEqual(paths({ city: `url: "https://scada.city.example.ru:8443/kedge", tokenFile: ${S}/city.token` }), ['uplinks[2].url']);
});

test('moving a secondary uplink with new credentials is the center\'s business; edits in place stay free', () => {
  assert.deepEqual(paths({ scada: 'url: "mqtts://scada2.local:8883", password: typed-anew' }), []);
  assert.deepEqual(paths({ city: 'url: "https://new.city.example.ru/kedge", headers: { X-Api-Key: typed-key }' }), []);
  assert.deepEqual(paths({ city: `url: "https://scada.city.example.ru/other-path", tokenFile: ${S}/city.token, headers: { X-Api-Key: k }` }), [], 'same origin, another path');
  assert.deepEqual(paths({ scada: `url: "mqtts://SCADA.local:8883/", passwordFile: ${S}/scada.pw` }), [], 'the same endpoint written otherwise');
});

test("one uplink's credential file handed to another uplink, new or renamed, is refused", () => {
  const extra = `  - { name: evil, kind: sparkplug, url: "mqtt://attacker.example.com:1883", passwordFile: ${S}/scada.pw }\n`;
  const next = parse(yaml().replace(/(\n  - \{ name: city[^\n]*\n)/, `$1${extra}`));
  assert.deepEqual(protectedChanges(current, next).map((c) => c.path), ['uplinks[3].passwordFile']);
  assert.match(protectedChanges(current, next)[0]!.message, /may not hand uplink scada's credential file to uplink evil/);
  const renamed = parse(yaml({ scada: `url: "mqtt://attacker.example.com:1883", passwordFile: ${S}/scada.pw` }).replace('name: scada', 'name: evil'));
  assert.deepEqual(protectedChanges(current, renamed).map((c) => c.path), ['uplinks[1].passwordFile']);
  // The primary's file for the secondary (same field name, which the path check alone lets through).
  assert.deepEqual(paths({ scada: `url: "mqtt://attacker.example.com:1883", passwordFile: ${S}/broker.pw` }), ['uplinks[1].passwordFile']);
});

test('a fixture sink declaring a credential in its own folder (tape seal key) gets the same protection', () => {
  const WITH_TAPE = [...SINKS, tapeSink] as const;
  const base = parse(yaml());
  const withTape = (tape: string, extra = ''): GatewayConfig => ({
    ...base,
    uplinks: uplinksSchemaFor(WITH_TAPE).parse([{ name: 'regional', kind: 'mqtt', url: 'mqtts://ingest.example.ru:8883', passwordFile: `${S}/broker.pw` }, { name: 'archive', kind: 'tape', tape, ...(extra ? { sealKeyFile: extra } : {}) }]) as GatewayConfig['uplinks'],
  });
  const before = withTape('archive', `${S}/seal.key`);
  const moved = protectedChanges(before, withTape('attacker', `${S}/seal.key`), DRIVERS, WITH_TAPE);
  assert.deepEqual(moved.map((c) => c.path), ['uplinks[1].tape']);
  assert.match(moved[0]!.message, /uplink archive's stored credentials to another receiver \(tape archive -> tape attacker\)/);
  assert.deepEqual(protectedChanges(before, withTape('attacker'), DRIVERS, WITH_TAPE), [], 'without its seal key it may record anywhere');
});
