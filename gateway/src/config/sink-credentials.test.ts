/**
 * The gateway reads every uplink's credentials and endpoint through its sink's credentialBinding,
 * never through fields it assumes (a `url`): a sink without a URL (the tape fixture) is named and
 * protected like the others, and what the uplinks page shows as "sends to" comes from the hook.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { SINKS } from '@kedge/cloud-sync/north/registry.ts';
import { tapeSink } from '@kedge/cloud-sync/north/fixtures/tape/index.ts';
import { uplinksSchemaFor } from './schema.ts';
import { boundSinks, moved, sameSink, sinkEndpointText } from './sink-credentials.ts';

const WITH_TAPE = [...SINKS, tapeSink] as const;
const regional = { name: 'regional', kind: 'mqtt', url: 'mqtts://Ingest.example.ru/', password: 'p' };
const city = { name: 'city', kind: 'http', url: 'https://scada.city.example.ru/kedge/batches', headers: { 'X-Api-Key': 'k' } };
const archive = { name: 'archive', kind: 'tape', tape: 'archive', sealKeyFile: '/etc/kedge/data/secrets/seal.key' };
const list = (...entries: object[]) => uplinksSchemaFor(WITH_TAPE).parse(entries);

test('each sink names its endpoint normalised (scheme, host, default port) and the fields holding its credentials', () => {
  const [mqtt, http, tape] = boundSinks({ uplinks: list(regional, city, archive) as never, legacyUplinkKey: false }, WITH_TAPE);
  assert.equal(mqtt!.binding.endpoint.value, 'mqtts://ingest.example.ru:8883');
  assert.equal(http!.binding.endpoint.value, 'https://scada.city.example.ru:443', 'an HTTP receiver is its origin: the path does not count');
  assert.equal(tape!.binding.endpoint.value, 'archive');
  assert.deepEqual(
    http!.binding.fields.filter((f) => f.sent).map((f) => [f.segments.join('.'), f.file]),
    [
      ['tokenFile', true],
      ['headers.X-Api-Key', false],
    ],
  );
  assert.deepEqual(tape!.binding.fields.map((f) => [f.segments.join('.'), f.value]), [['sealKeyFile', archive.sealKeyFile]]);
  assert.deepEqual([mqtt!.path, mqtt!.restoredPrefix, tape!.path, tape!.restoredPrefix], ['uplinks[0]', 'uplinks[name=regional].', 'uplinks[2]', 'uplinks[name=archive].']);
});

test('a sink without a url is shown by its own endpoint field; the weaker certificate check counts as a move', () => {
  const [mqtt, http, tape] = list(regional, city, archive);
  assert.equal(sinkEndpointText(tape!, WITH_TAPE), 'archive');
  assert.equal(sinkEndpointText(http!, WITH_TAPE), city.url, 'as written, path included');
  assert.equal(sinkEndpointText(mqtt!, WITH_TAPE), regional.url);
  const before = boundSinks({ uplinks: list(regional) as never, legacyUplinkKey: false }, WITH_TAPE);
  const checkOff = boundSinks({ uplinks: list({ ...regional, tls: { rejectUnauthorized: false } }) as never, legacyUplinkKey: false }, WITH_TAPE)[0]!;
  assert.equal(moved(sameSink(before, checkOff), checkOff), true);
  const rewritten = boundSinks({ uplinks: list({ ...regional, url: 'mqtts://ingest.example.ru:8883' }) as never, legacyUplinkKey: false }, WITH_TAPE)[0]!;
  assert.equal(moved(sameSink(before, rewritten), rewritten), false);
});
