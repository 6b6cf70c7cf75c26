/**
 * `uplinks:` is a list of sinks, each checked by its own sink's schema through the registry
 * (cloud-sync/src/north/registry.ts); the deprecated single `uplink:` still loads, as a list of
 * one named "uplink" (the name of its log cursor), with a note.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SINKS } from '@kedge/cloud-sync/north/registry.ts';
import { tapeSink } from '@kedge/cloud-sync/north/fixtures/tape/index.ts';
import { uplinksSchemaFor } from './schema.ts';
import { LOG_COUNTERS } from '../gateway.ts';
import { ConfigError, parseConfig, parseConfigWithWarnings } from './load.ts';

const HEAD = `gateway: { id: gw1, region: kuzbass, municipality: kemerovo }\n`;

function problems(text: string, baseDir?: string): string[] {
  try {
    parseConfig(text, 'box.yaml', baseDir);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  assert.fail('the config was accepted');
}

test('the single uplink: of older configs is read as a list of one named "uplink", with a deprecation note', () => {
  const { config, warnings } = parseConfigWithWarnings(`${HEAD}uplink:\n  url: mqtts://broker.example.ru:8883\n  codec: json\n`, 'box.yaml');
  assert.equal(config.uplinks.length, 1);
  const [u] = config.uplinks;
  assert.equal(u!.name, 'uplink', 'the cursor name boxes have used since the beginning');
  assert.equal(u!.kind, 'mqtt');
  assert.equal(config.uplink, u, 'config.uplink is that entry');
  assert.equal(config.uplink.codec, 'json');
  assert.equal(config.uplink.ackMode, 'center');
  assert.equal(config.legacyUplinkKey, true);
  assert.deepEqual(
    warnings.map((w) => [w.path, w.code]),
    [['uplink', 'legacy_uplink']],
  );
  const sp = parseConfig(`${HEAD}uplink:\n  url: mqtt://scada.local\n  codec: sparkplug\n  sparkplug: { ddataQos: 1 }\n`);
  const entry = sp.uplinks[0]!;
  assert.ok(entry.kind === 'sparkplug', 'codec sparkplug is the Sparkplug sink');
  assert.equal(entry.sparkplug.ddataQos, 1);
  assert.equal(sp.uplink, entry, 'and the center\'s link');
});

test('uplinks: takes every registered kind, each with its own name, codec, pacing and TLS', () => {
  const { config, warnings } = parseConfigWithWarnings(
    `${HEAD}uplinks:
  - name: regional
    kind: mqtt
    url: mqtts://broker.kuzbass.example.ru:8883
    codec: compact
    maxReadingsPerSec: 5000
  - name: scada
    kind: sparkplug
    url: mqtt://10.0.0.20:1883
    sparkplug: { primaryHostId: scada-1 }
  - name: city
    kind: http
    url: https://city.example.ru/kedge/batches
    codec: compact
    maxReadingsPerSec: 0
`,
    'box.yaml',
  );
  assert.deepEqual(warnings, [], 'no deprecation note for the list');
  assert.equal(config.legacyUplinkKey, false);
  assert.deepEqual(
    config.uplinks.map((u) => [u.name, u.kind, 'codec' in u ? u.codec : undefined, u.maxReadingsPerSec]),
    [
      ['regional', 'mqtt', 'compact', 5000],
      ['scada', 'sparkplug', 'sparkplug', 10_000],
      ['city', 'http', 'compact', 0],
    ],
  );
  assert.equal(config.uplink.name, 'regional', 'the first MQTT-family uplink carries commands and updates');
  const city = config.uplinks[2]!;
  assert.ok(city.kind === 'http');
  assert.equal(city.inflight, 2, "the HTTP sink's own default");
  assert.equal(city.timeoutMs, 30_000);
  const scada = config.uplinks[1]!;
  assert.ok(scada.kind === 'sparkplug');
  assert.equal(scada.sparkplug.primaryHostId, 'scada-1');
  assert.equal(scada.ackMode, 'broker', 'Sparkplug hosts do not confirm');
});

test('the kinds uplinks: accepts are exactly the registered sinks', () => {
  const [p] = problems(`${HEAD}uplinks:\n  - { name: a, kind: carrier-pigeon, url: "mqtt://x" }\n`);
  for (const s of SINKS) assert.ok(p!.includes(`'${s.kind}'`), `${s.kind} is offered: ${p}`);
  assert.match(p!, /^uplinks\[0\]\.kind/);
});

test('uplink names are unique and well-formed; both keys or neither is refused', () => {
  assert.deepEqual(problems(`${HEAD}uplinks:\n  - { name: a, kind: mqtt, url: "mqtt://x" }\n  - { name: a, kind: http, url: "https://y/z" }\n`), [
    'uplinks[1].name: duplicate uplink name "a" (also uplinks[0]): the name is the uplink\'s log cursor',
  ]);
  assert.match(problems(`${HEAD}uplinks:\n  - { name: Regional, kind: mqtt, url: "mqtt://x" }\n`)[0]!, /^uplinks\[0\]\.name: must match/);
  assert.match(problems(`${HEAD}uplink: { url: "mqtt://x" }\nuplinks:\n  - { name: a, kind: mqtt, url: "mqtt://x" }\n`)[0]!, /either `uplinks:` \(the list\) or the deprecated `uplink:`, not both/);
  assert.match(problems(HEAD)[0]!, /^uplinks: is missing/);
  assert.match(problems(`${HEAD}uplinks: []\n`)[0]!, /at least one uplink is needed/);
});

test('an HTTP-only box is refused with the reason: commands and updates arrive over MQTT', () => {
  assert.match(problems(`${HEAD}uplinks:\n  - { name: city, kind: http, url: "https://y/z" }\n`)[0]!, /at least one uplink of kind mqtt or sparkplug is needed/);
});

test('HTTP sink settings are checked where they are written', () => {
  const p = (entry: string) => problems(`${HEAD}uplinks:\n  - { name: r, kind: mqtt, url: "mqtt://x" }\n  - { name: city, kind: http, ${entry} }\n`);
  assert.match(p('url: "ftp://y/z"')[0]!, /^uplinks\[1\]\.url: protocol must be http: or https:/);
  assert.match(p('url: "https://user:pw@y/z"')[0]!, /credentials do not belong in the URL/);
  assert.match(p('url: "https://y/z", headers: { Authorization: "Bearer x" }')[0]!, /Authorization is set by the sink itself \(for a token use tokenFile\)/);
  assert.match(p('url: "https://y/z", codec: sparkplug')[0]!, /^uplinks\[1\]\.codec/);
  assert.match(p('url: "https://y/z", tls: { cert: a.pem }')[0]!, /key is required when cert is given/);
  assert.match(p('url: "https://y/z", batchSize: 5')[0]!, /unknown key "batchSize"/);
});

test('codec compact-v2 (for a center not yet upgraded) is accepted by the MQTT and HTTP sinks and turns live first off', () => {
  const { config } = parseConfigWithWarnings(
    `${HEAD}uplinks:
  - { name: regional, kind: mqtt, url: "mqtts://broker.example.ru:8883", codec: compact-v2 }
  - { name: city, kind: http, url: "https://city.example.ru/kedge", codec: compact-v2, liveFirst: false }
  - { name: new-center, kind: mqtt, url: "mqtts://broker2.example.ru:8883" }
`,
    'box.yaml',
  );
  assert.deepEqual(
    config.uplinks.map((u) => [u.name, 'codec' in u ? u.codec : undefined, u.liveFirst]),
    [
      ['regional', 'compact-v2', false],
      ['city', 'compact-v2', false],
      ['new-center', 'compact', true],
    ],
    'live first stays on by default for codecs that mark live batches',
  );
  const legacy = parseConfig(`${HEAD}uplink:\n  url: mqtts://broker.example.ru:8883\n  codec: compact-v2\n`);
  assert.equal(legacy.uplink.codec, 'compact-v2');
  assert.equal(legacy.uplink.liveFirst, false, 'the deprecated uplink: key likewise');

  // Asking for live first with it is a config error naming the reason, not a sink failing on its first live batch.
  const mqtt = problems(`${HEAD}uplinks:\n  - { name: r, kind: mqtt, url: "mqtt://x", codec: compact-v2, liveFirst: true }\n`);
  assert.match(mqtt[0]!, /^uplinks\[0\]\.liveFirst: codec compact-v2 .*center not yet upgraded.* cannot mark a live batch/);
  const http = problems(`${HEAD}uplinks:\n  - { name: r, kind: mqtt, url: "mqtt://x" }\n  - { name: c, kind: http, url: "https://y/z", codec: compact-v2, liveFirst: true }\n`);
  assert.match(http[0]!, /^uplinks\[1\]\.liveFirst: codec compact-v2/);
  assert.match(problems(`${HEAD}uplink:\n  url: mqtt://x\n  codec: compact-v2\n  liveFirst: true\n`)[0]!, /liveFirst: codec compact-v2/);
});

test("every uplink's secret files are resolved against the config's folder and must lie in the secrets folders", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-uplinks-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = parseConfig(
    `${HEAD}dataDir: data\nuplinks:\n  - { name: r, kind: mqtt, url: "mqtt://x", passwordFile: data/secrets/broker }\n  - { name: city, kind: http, url: "https://y/z", tokenFile: data/secrets/city-token, tls: { ca: data/tls/ca.pem } }\n`,
    'box.yaml',
    dir,
  );
  const city = config.uplinks[1]!;
  assert.ok(city.kind === 'http');
  assert.equal(city.tokenFile, join(dir, 'data/secrets/city-token'));
  assert.equal(city.tls?.ca, join(dir, 'data/tls/ca.pem'));
  assert.deepEqual(
    problems(`${HEAD}dataDir: data\nuplinks:\n  - { name: r, kind: mqtt, url: "mqtt://x" }\n  - { name: city, kind: http, url: "https://y/z", tokenFile: /etc/hostname }\n`, dir).map((p) => p.split(':')[0]),
    ['uplinks[1].tokenFile'],
  );
});

test("no uplink may take the name of a counter the log keeps among its cursors (Sparkplug's bdSeq)", () => {
  assert.ok(LOG_COUNTERS.includes('sparkplug-bdseq'), 'the Sparkplug sink declares its bdSeq counter');
  for (const counter of LOG_COUNTERS) {
    assert.match(problems(`${HEAD}uplinks:\n  - { name: ${counter}, kind: mqtt, url: "mqtt://x" }\n`)[0]!, new RegExp(`^uplinks\\[0\\]\\.name: "${counter}" is reserved`));
  }
  // A sink's counters come from its own definition: a new sink that keeps one needs no edit elsewhere.
  const withReel = uplinksSchemaFor([...SINKS, { ...tapeSink, logCounters: ['tape-reel'] }] as never);
  const entry = { kind: 'mqtt', url: 'mqtt://x' };
  assert.equal(withReel.safeParse([{ ...entry, name: 'tape-reel' }]).success, false);
  assert.equal(withReel.safeParse([{ ...entry, name: 'regional' }]).success, true);
  assert.equal(uplinksSchemaFor(SINKS).safeParse([{ ...entry, name: 'tape-reel' }]).success, true);
});
