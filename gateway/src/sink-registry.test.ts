/**
 * A northbound sink is one folder plus one line in cloud-sync/src/north/registry.ts. Proven the
 * way drivers are (config/driver-registry.test.ts): a fourth sink from a fixture folder
 * (cloud-sync/src/north/fixtures/tape: schema, definition, implementation), added to a registry
 * composed from SINKS with one line, is accepted in `uplinks:`, built by the gateway through its
 * definition, fed batches from the log through the shared window, kept, rebuilt and stopped on
 * reload — with no line of the gateway knowing it. And the gateway's sources name no sink kind.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'node:test';
import pino from 'pino';
import type { Reading } from '@kedge/cloud-sync/model.ts';
import { SINKS, sinkBatchReadings } from '@kedge/cloud-sync/north/registry.ts';
import { defineSink, type BrokerConnection } from '@kedge/cloud-sync/north/sink.ts';
import { brokerShape, checkBroker } from '@kedge/cloud-sync/north/broker-link/shape.ts';
import { sinkNameSchema, strict, windowShape } from '@kedge/cloud-sync/north/schema-kit.ts';
import type { TapeSinkConfig } from '@kedge/cloud-sync/north/fixtures/tape/schema.ts';
import { z } from 'zod';
import { tapeSink } from '@kedge/cloud-sync/north/fixtures/tape/index.ts';
import { tape } from '@kedge/cloud-sync/north/fixtures/tape/tapes.ts';
import { parseConfig } from './config/load.ts';
import { ConfigService } from './config/config-service.ts';
import { ConfigStore } from './config/config-store.ts';
import { uplinksSchemaFor, type GatewayConfig } from './config/schema.ts';
import { Gateway } from './gateway.ts';
import { waitFor } from '@kedge/testkit/wait.ts';

/** The one registration line. */
const WITH_TAPE = [...SINKS, tapeSink] as const;

const SRC = fileURLToPath(new URL('./', import.meta.url));

// The center's link (at least one broker sink is required): towards a port nobody listens on.
const regional = { name: 'regional', kind: 'mqtt', url: 'mqtt://127.0.0.1:1', reconnectMinMs: 1000, reconnectMaxMs: 8000 };
const tapeEntry = (extra: object = {}) => ({ name: 'archive', kind: 'tape', tape: 'archive', batchMaxReadings: 10, batchMaxDelayMs: 0, liveFirst: false, ...extra });

function readings(n: number, from: number): Reading[] {
  return Array.from({ length: n }, (_, i) => ({ point: `pump-${(from + i) % 5}/flow`, ts: Date.now(), value: from + i, quality: 'good' as const }));
}

/** Generous: the loaded 2-core CI machine; delivery here takes milliseconds. */
const WAIT = { timeoutMs: 60_000 };

const range = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, i) => first + i);

test('a fourth sink handed to the registry builders is accepted in uplinks: with its defaults and checks; without the line it is refused', () => {
  const list = uplinksSchemaFor(WITH_TAPE).parse([regional, { name: 'archive', kind: 'tape', tape: 'a' }]);
  assert.deepEqual(
    list.map((u) => u.kind),
    ['mqtt', 'tape'],
  );
  const entry = list[1] as unknown as Record<string, unknown>;
  assert.equal(entry['batchMaxReadings'], 2000, 'the shared window defaults (schema-kit windowShape)');
  assert.equal(entry['inflight'], 8);

  const bad = uplinksSchemaFor(WITH_TAPE).safeParse([regional, { name: 'archive', kind: 'tape', tape: '' }, { name: 'x', kind: 'tape', tape: 'b', spool: 1 }]);
  assert.ok(!bad.success);
  assert.deepEqual(
    bad.error.issues.map((i) => [i.path.join('.'), i.message]),
    [
      ['1.tape', 'must name the tape the batches are recorded on'],
      ['2', 'unknown key "spool" (allowed: kind, name, tape, sealKeyFile, batchMaxReadings, batchMaxDelayMs, inflight, maxReadingsPerSec, liveFirst, liveFirstAfterMs, backlogShare, ackTimeoutMs, reconnectMinMs, reconnectMaxMs, reconnectSpreadMs)'],
    ],
  );
  // A tape alone has no broker link: the list's own rule, from the definitions (brokerLink).
  const alone = uplinksSchemaFor(WITH_TAPE).safeParse([tapeEntry()]);
  assert.ok(!alone.success);
  assert.match(alone.error.issues[0]!.message, /at least one uplink of kind mqtt or sparkplug is needed/);

  // Without the registry line the same entry is refused as an unknown kind, by the schema and by the config.
  const without = uplinksSchemaFor(SINKS).safeParse([regional, tapeEntry()]);
  assert.ok(!without.success);
  assert.deepEqual(without.error.issues[0]!.path, [1, 'kind']);
  assert.throws(
    () => parseConfig(JSON.stringify({ gateway: { id: 'gw-tape', region: 'kuzbass', municipality: 'kemerovo' }, uplinks: [regional, tapeEntry()] })),
    /uplinks\[1\]\.kind/,
  );
});

/** The config file of the tape tests: JSON, which is YAML. */
const fileText = (dir: string, uplinks: object[], devices: object[] = []) =>
  `${JSON.stringify({ gateway: { id: 'gw-tape', region: 'kuzbass', municipality: 'kemerovo' }, dataDir: join(dir, 'data'), log: { flushMs: 10, synchronous: 'normal' }, uplinks, devices }, null, 1)}\n`;

test('the gateway builds the fourth sink through its definition from the real config path (loader, config service, store), feeds it, keeps, rebuilds and stops it on reload', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-sink-registry-'));
  const path = join(dir, 'kedge.yaml');
  mkdirSync(join(dir, 'data', 'secrets'), { recursive: true });
  for (const k of ['archive.key', 'other.key']) writeFileSync(join(dir, 'data', 'secrets', k), 'seal\n', { mode: 0o600 });
  writeFileSync(path, fileText(dir, [regional, tapeEntry({ sealKeyFile: 'data/secrets/archive.key' })]));
  // The loader with the composed registry: the entry read by the tape's own schema, its secret
  // file made absolute and confined like any sink's (secretFiles), the first broker sink primary.
  const config = parseConfig(readFileSync(path, 'utf8'), 'kedge.yaml', dir, { sinks: WITH_TAPE });
  assert.deepEqual(config.uplinks.map((u) => u.kind), ['mqtt', 'tape']);
  assert.equal((config.uplinks[1] as unknown as TapeSinkConfig).sealKeyFile, join(dir, 'data', 'secrets', 'archive.key'));
  assert.equal(config.uplink.name, 'regional');
  // Without the line the same file is refused, by the loader and by a config service.
  assert.throws(() => parseConfig(readFileSync(path, 'utf8'), 'kedge.yaml', dir), /uplinks\[1\]\.kind/);
  assert.throws(() => new ConfigService({ path, apply: async () => undefined }).validate(readFileSync(path, 'utf8')), /uplinks\[1\]\.kind/);

  const archive = tape('archive');
  const gateway = new Gateway(config, pino({ level: 'silent' }), { sinks: WITH_TAPE });
  const service = new ConfigService({ path, apply: (c) => gateway.reload(c), dataDir: join(dir, 'data'), sinks: WITH_TAPE });
  const store = new ConfigStore(service, () => gateway.currentConfig());
  t.after(async () => {
    await gateway.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await gateway.start();
  assert.deepEqual(archive.events.slice(0, 1), ['built']);
  assert.deepEqual(
    gateway.uplinkStatuses().map((u) => [u.name, u.kind]),
    [
      ['regional', 'mqtt'],
      ['archive', 'tape'],
    ],
  );

  gateway.log.append(readings(25, 0));
  await waitFor(() => gateway.log.cursor('archive') === 25, { ...WAIT, what: 'the tape sink to deliver the first 25' });
  assert.deepEqual(archive.seqs(), range(1, 25), 'every reading once, in order');
  assert.ok(archive.batches.every((b) => b.readings.length <= 10) && archive.batches.length >= 3, 'batched by its own batchMaxReadings');
  assert.equal(gateway.uplinkStatuses().find((u) => u.name === 'archive')!.status.ackedSeq, 25);
  assert.equal(gateway.log.cursor('regional'), 0, 'the other uplink, down, is not held up by it nor holds it up');

  // The same settings, written through the store: the sink keeps running (no close, no new build).
  const events = archive.events.length;
  await store.replace(fileText(dir, [regional, tapeEntry({ sealKeyFile: 'data/secrets/archive.key' })]), { source: 'web', what: 'same settings' });
  assert.deepEqual(archive.events.slice(events), []);

  // The store holds the tape's credential to its endpoint (its credentialBinding): the seal key
  // does not follow the entry to another tape; nothing is written or applied.
  const before = readFileSync(path, 'utf8');
  await assert.rejects(
    store.edit((doc) => doc.setIn(['uplinks', 1, 'tape'], 'elsewhere'), { source: 'web', what: 'move the archive' }),
    (err: Error) => /seal key/.test(err.message) && /uplinks\[1\]\.sealKeyFile/.test(err.message),
  );
  assert.equal(readFileSync(path, 'utf8'), before);
  assert.deepEqual(archive.events.slice(events), [], 'the refused change was not applied');

  // New settings through the store: rebuilt, and it goes on from its cursor (nothing twice).
  await store.edit((doc) => doc.setIn(['uplinks', 1, 'batchMaxReadings'], 3), { source: 'web', what: 'smaller batches' });
  assert.deepEqual(archive.events.slice(events, events + 2), ['closed', 'built']);
  gateway.log.append(readings(7, 25));
  await waitFor(() => gateway.log.cursor('archive') === 32, { ...WAIT, what: 'the rebuilt tape sink to go on from its cursor' });
  assert.deepEqual(archive.seqs(), range(1, 32));
  assert.ok(archive.batches.slice(-3).every((b) => b.readings.length <= 3), 'the new entry\'s batch size');

  // Removed by a hand edit and SIGHUP (the service's reload of the file): stopped, and gone from the statuses.
  writeFileSync(path, fileText(dir, [regional]));
  await service.reloadFile();
  assert.equal(archive.events.at(-1), 'closed');
  assert.deepEqual(
    gateway.uplinkStatuses().map((u) => u.name),
    ['regional'],
  );
  assert.deepEqual(
    service.history().map((c) => [c.what, c.outcome]),
    [
      ['same settings', 'applied'],
      ['move the archive', 'refused'],
      ['smaller batches', 'applied'],
      ['SIGHUP', 'applied'],
    ],
  );
});

test('a new broker-linked sink needs no edit of a union: built on the shared broker fields it is the center\'s link, gets its connection and reports its status', async (t) => {
  // A fifth kind with a broker link that is neither mqtt nor sparkplug: its schema spreads the
  // shared broker fields (north/broker-link/shape.ts), so its entries are a BrokerSinkBase and
  // `ctx.brokerConnection(config)` type-checks with no list of kinds; it records on a tape.
  const connections: Array<{ connection: BrokerConnection; primary: boolean }> = [];
  const relay = defineSink({
    kind: 'relay',
    schema: strict({ kind: z.literal('relay'), name: sinkNameSchema, tape: z.string().min(1), ...brokerShape }).superRefine(checkBroker),
    brokerLink: true,
    secretFiles: (entry) => (typeof entry['passwordFile'] === 'string' ? [{ segments: ['passwordFile'], file: entry['passwordFile'], secret: true }] : []),
    create: async (c, ctx) => {
      connections.push({ connection: ctx.brokerConnection(c), primary: ctx.primary });
      return (await import('@kedge/cloud-sync/north/fixtures/tape/sink.ts')).createTapeSink({ ...c, kind: 'tape' }, ctx);
    },
  });
  const sinks = [relay, tapeSink] as const;
  const dir = mkdtempSync(join(tmpdir(), 'kedge-sink-registry-'));
  mkdirSync(join(dir, 'data', 'secrets'), { recursive: true });
  writeFileSync(join(dir, 'data', 'secrets', 'relay.pw'), 's3cret\n', { mode: 0o600 });
  const text = fileText(dir, [
    { name: 'relay', kind: 'relay', tape: 'relay', url: 'mqtts://broker.example.ru:8883', username: 'box', passwordFile: 'data/secrets/relay.pw', batchMaxDelayMs: 0, liveFirst: false },
    tapeEntry({ name: 'spare', tape: 'spare' }),
  ]);
  const config = parseConfig(text, 'kedge.yaml', dir, { sinks });
  assert.equal(config.uplink.passwordFile, join(dir, 'data', 'secrets', 'relay.pw'), 'its secret file resolved like any sink\'s');
  assert.equal(config.uplink.name, 'relay', 'the first broker-linked entry is the center\'s link');
  // The list's broker rule names the kinds of this registry.
  assert.throws(() => parseConfig(fileText(dir, [tapeEntry()]), 'kedge.yaml', dir, { sinks }), /at least one uplink of kind relay is needed/);

  const gateway = new Gateway(config, pino({ level: 'silent' }), { sinks });
  t.after(async () => {
    await gateway.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await gateway.start();
  assert.deepEqual(connections, [
    {
      primary: true,
      connection: { url: 'mqtts://broker.example.ru:8883', clientId: 'kedge-gw-tape', username: 'box', password: 's3cret', tls: undefined, keepaliveSec: 30, protocolVersion: 4 },
    },
  ]);
  gateway.log.append(readings(3, 0));
  await waitFor(() => gateway.log.cursor('relay') === 3, { ...WAIT, what: 'the relay to deliver' });
  // The primary's status is whatever the sink reports, read through the base fields: no cast, no kind.
  const primary = gateway.status().uplink;
  assert.ok(primary);
  assert.equal(primary.ackedSeq, 3);
  assert.equal(primary.url, 'tape:relay');
  assert.equal(primary.ackMode, undefined, 'a broker link\'s positions are optional to the reader');
  assert.deepEqual(tape('relay').seqs(), [1, 2, 3]);
});

test('a sink whose implementation cannot be loaded is logged with the reason; the others are built and deliver', async (t) => {
  // A fifth kind whose implementation module is missing (a broken release): create rejects.
  const missing = defineSink({
    kind: 'missing',
    schema: strict({ kind: z.literal('missing'), name: sinkNameSchema }),
    create: async () => ((await import(`./no-such-sink-${Date.now()}.ts`)) as { create(): never }).create(),
  });
  const sinks = [...SINKS, tapeSink, missing] as const;
  const dir = mkdtempSync(join(tmpdir(), 'kedge-sink-registry-'));
  const base = parseConfig(JSON.stringify({ gateway: { id: 'gw-tape', region: 'kuzbass', municipality: 'kemerovo' }, dataDir: join(dir, 'data'), log: { flushMs: 10 }, uplinks: [regional] }));
  const lines: Array<Record<string, unknown>> = [];
  const out = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const uplinks = uplinksSchemaFor(sinks).parse([regional, { name: 'gone', kind: 'missing' }, tapeEntry({ name: 'kept', tape: 'kept' })]);
  const gateway = new Gateway({ ...base, uplinks }, pino({ level: 'info' }, out), { sinks });
  t.after(async () => {
    await gateway.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await gateway.start();
  const failed = lines.find((l) => l['msg'] === 'uplink "gone" cannot start; the log keeps its readings');
  assert.ok(failed, `no line says the sink could not start: ${JSON.stringify(lines.map((l) => l['msg']))}`);
  assert.equal(failed['kind'], 'missing');
  assert.match(String(failed['err']), /no-such-sink/);
  assert.deepEqual(
    gateway.uplinkStatuses().map((u) => u.name),
    ['regional', 'kept'],
  );
  gateway.log.append(readings(4, 0));
  await waitFor(() => gateway.log.cursor('kept') === 4, { ...WAIT, what: 'the other sink to deliver' });
  assert.deepEqual(tape('kept').seqs(), range(1, 4));
  assert.equal(gateway.log.cursor('gone'), 0, 'its cursor holds its place: the log keeps its readings');
});

test('the log\'s memory tail is sized from the sink definitions: a sink without window fields counts 0, not NaN; batchReadings overrides', () => {
  const bare = defineSink({ kind: 'bare', schema: strict({ kind: z.literal('bare'), name: sinkNameSchema }), create: async () => assert.fail('not built') });
  const chunked = defineSink({
    kind: 'chunked',
    schema: strict({ kind: z.literal('chunked'), name: sinkNameSchema, chunk: z.number().int() }),
    batchReadings: (c) => c.chunk * 2,
    create: async () => assert.fail('not built'),
  });
  const sinks = [...SINKS, tapeSink, bare, chunked] as const;
  const [mqtt, tapeOne, bareOne, chunkedOne] = uplinksSchemaFor(sinks).parse([regional, tapeEntry({ batchMaxReadings: 77 }), { name: 'b', kind: 'bare' }, { name: 'c', kind: 'chunked', chunk: 300 }]);
  assert.equal(sinkBatchReadings(mqtt!, sinks), 2000, 'the window default');
  assert.equal(sinkBatchReadings(tapeOne!, sinks), 77);
  assert.equal(sinkBatchReadings(bareOne!, sinks), 0, 'no batchMaxReadings: nothing of NaN reaches the log');
  assert.equal(sinkBatchReadings(chunkedOne!, sinks), 600);
  assert.equal(sinkBatchReadings({ kind: 'chunked', chunk: Number.NaN } as never, sinks), 0, 'a non-finite answer is never handed on');
});

test('dependsOnDevices: a change of devices rebuilds the sinks whose definition says so, and only those', async (t) => {
  // A tape whose "births" would list the devices: the same implementation, the flag set.
  const birthsTape = defineSink({
    kind: 'births-tape',
    schema: strict({ kind: z.literal('births-tape'), name: sinkNameSchema, tape: z.string().min(1), ...windowShape }),
    dependsOnDevices: true,
    create: async (c, ctx) => (await import('@kedge/cloud-sync/north/fixtures/tape/sink.ts')).createTapeSink({ ...c, kind: 'tape' } satisfies TapeSinkConfig, ctx),
  });
  const sinks = [...SINKS, tapeSink, birthsTape] as const;
  const dir = mkdtempSync(join(tmpdir(), 'kedge-sink-registry-'));
  const configWith = (devices: object[]): GatewayConfig => {
    const base = parseConfig(JSON.stringify({ gateway: { id: 'gw-tape', region: 'kuzbass', municipality: 'kemerovo' }, dataDir: join(dir, 'data'), uplinks: [regional], devices }));
    return { ...base, uplinks: uplinksSchemaFor(sinks).parse([regional, tapeEntry({ name: 'plain', tape: 'plain' }), { name: 'births', kind: 'births-tape', tape: 'births' }]) };
  };
  const gateway = new Gateway(configWith([]), pino({ level: 'silent' }), { sinks });
  t.after(async () => {
    await gateway.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await gateway.start();
  const [plain, births] = [tape('plain'), tape('births')];
  const before = [plain.events.filter((e) => e === 'built').length, births.events.filter((e) => e === 'built').length];
  assert.deepEqual(before, [1, 1]);
  // A device added (disabled: nothing polls it), nothing else changed.
  await gateway.reload(configWith([{ id: 'pump', driver: 'modbus-tcp', host: '127.0.0.1', enabled: false, points: [{ id: 'flow', table: 'holding', address: 0 }] }]));
  assert.deepEqual([plain.events.filter((e) => e === 'built').length, births.events.filter((e) => e === 'built').length], [1, 2]);
  assert.equal(plain.events.includes('closed'), false, 'the sink that does not list devices kept running');
});

// ---------------------------------------------------------------------------------------
// Sink kinds in the gateway's sources: knowledge no import test sees

/** Product sources under src/ (the browser UI's .js included), tests and fixtures not. */
function productFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'fixtures' || e.name.startsWith('.') ? [] : productFiles(p);
    return /\.(ts|js)$/.test(e.name) && !/\.test\.ts$/.test(e.name) ? [relative(SRC, p)] : [];
  });
}

const withoutComments = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');

test('no gateway source compares with a sink kind, switches on one, or imports anything of a sink folder', () => {
  const kinds = SINKS.map((s) => s.kind).join('|');
  const decides = new RegExp(`(kind|codec)\\s*[!=]==?\\s*['"\`](${kinds})['"\`]|case\\s+['"\`](${kinds})['"\`]`);
  // A sink's implementation is loaded by its definition's create; what the gateway needs of the
  // sinks is the registry, the interface (north/sink.ts) and what they share (north/broker-link/,
  // north/legacy-uplink.ts): no import of a sink folder, types included.
  const imports = new RegExp(`^\\s*(import|export)\\s[^'"]*from\\s+'@kedge/cloud-sync/north/(${kinds})/|\\bimport\\(\\s*['"\`]@kedge/cloud-sync/north/(${kinds})/`, 'm');
  const offenders = productFiles(SRC).filter((f) => {
    const text = withoutComments(readFileSync(join(SRC, f), 'utf8'));
    return decides.test(text) || imports.test(text);
  });
  assert.deepEqual(offenders, []);
  // The checks can fail: the gateway's sink code before the registry built sinks.
  assert.match("const devices = u.kind === 'sparkplug' ? c.devices : null;", decides);
  assert.match("      case 'http':", decides);
  assert.match("import { createHttpSink } from '@kedge/cloud-sync/north/http/sink.ts';", imports);
  // The closed unions before issue 16: the primary's status and the broker entries named by kind.
  assert.match("import type { UplinkStatus } from '@kedge/cloud-sync/north/mqtt/log-publisher.ts';", imports);
  assert.match("import { legacyUplinkSchema, type BrokerSinkConfig } from '@kedge/cloud-sync/north/mqtt/schema.ts';", imports);
  assert.doesNotMatch("import type { BrokerLinkStatus } from '@kedge/cloud-sync/north/broker-link/link.ts';", imports);
  // A lazy load of a sink's implementation is an import of its folder too.
  assert.match("  const { createSparkplugSink } = await import('@kedge/cloud-sync/north/sparkplug/create.ts');", imports);
  assert.doesNotMatch("const m = await import('@kedge/cloud-sync/north/registry.ts');", imports);
});
