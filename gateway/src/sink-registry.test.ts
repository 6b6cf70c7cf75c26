/**
 * A northbound sink is one folder plus one line in cloud-sync/src/north/registry.ts. Proven the
 * way drivers are (config/driver-registry.test.ts): a fourth sink from a fixture folder
 * (cloud-sync/src/north/fixtures/tape: schema, definition, implementation), added to a registry
 * composed from SINKS with one line, is accepted in `uplinks:`, built by the gateway through its
 * definition, fed batches from the log through the shared window, kept, rebuilt and stopped on
 * reload — with no line of the gateway knowing it. And the gateway's sources name no sink kind.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'node:test';
import pino from 'pino';
import type { Reading } from '@kedge/cloud-sync/model.ts';
import { SINKS } from '@kedge/cloud-sync/north/registry.ts';
import { defineSink } from '@kedge/cloud-sync/north/sink.ts';
import { sinkNameSchema, strict, windowShape } from '@kedge/cloud-sync/north/schema-kit.ts';
import type { TapeSinkConfig } from '@kedge/cloud-sync/north/fixtures/tape/schema.ts';
import { z } from 'zod';
import { tapeSink } from '@kedge/cloud-sync/north/fixtures/tape/index.ts';
import { tape } from '@kedge/cloud-sync/north/fixtures/tape/tapes.ts';
import { parseConfig } from './config/load.ts';
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

test('the gateway builds the fourth sink through its definition, feeds it from the log through the window, keeps, rebuilds and stops it on reload', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-sink-registry-'));
  const base = parseConfig(
    JSON.stringify({
      gateway: { id: 'gw-tape', region: 'kuzbass', municipality: 'kemerovo' },
      dataDir: join(dir, 'data'),
      log: { flushMs: 10, synchronous: 'normal' },
      uplinks: [regional],
    }),
  );
  // The whole config as the loader makes it, with `uplinks:` read by the composed registry's schema.
  const configWith = (uplinks: object[]): GatewayConfig => ({ ...base, uplinks: uplinksSchemaFor(WITH_TAPE).parse(uplinks) });
  const archive = tape('archive');
  const gateway = new Gateway(configWith([regional, tapeEntry()]), pino({ level: 'silent' }), { sinks: WITH_TAPE });
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

  // The same settings: the sink keeps running (no close, no new build).
  const events = archive.events.length;
  await gateway.reload(configWith([regional, tapeEntry()]));
  assert.deepEqual(archive.events.slice(events), []);

  // New settings: rebuilt, and it goes on from its cursor (nothing twice).
  await gateway.reload(configWith([regional, tapeEntry({ batchMaxReadings: 3 })]));
  assert.deepEqual(archive.events.slice(events, events + 2), ['closed', 'built']);
  gateway.log.append(readings(7, 25));
  await waitFor(() => gateway.log.cursor('archive') === 32, { ...WAIT, what: 'the rebuilt tape sink to go on from its cursor' });
  assert.deepEqual(archive.seqs(), range(1, 32));
  assert.ok(archive.batches.slice(-3).every((b) => b.readings.length <= 3), 'the new entry\'s batch size');

  // Removed: stopped, and gone from the statuses.
  await gateway.reload(configWith([regional]));
  assert.equal(archive.events.at(-1), 'closed');
  assert.deepEqual(
    gateway.uplinkStatuses().map((u) => u.name),
    ['regional'],
  );
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

test('no gateway source compares with a sink kind, switches on one, or imports a sink implementation', () => {
  const kinds = SINKS.map((s) => s.kind).join('|');
  const decides = new RegExp(`(kind|codec)\\s*[!=]==?\\s*['"\`](${kinds})['"\`]|case\\s+['"\`](${kinds})['"\`]`);
  // A sink's implementation is loaded by its definition's create, never imported by the gateway (type-only imports are erased).
  const imports = /^\s*import\s+(?!type\b)[^'"]*from\s+'@kedge\/cloud-sync\/north\/(mqtt|sparkplug|http)\/(?!schema\.ts|broker-url\.ts)/m;
  const offenders = productFiles(SRC).filter((f) => {
    const text = withoutComments(readFileSync(join(SRC, f), 'utf8'));
    return decides.test(text) || imports.test(text);
  });
  assert.deepEqual(offenders, []);
  // The checks can fail: the gateway's sink code before the registry built sinks.
  assert.match("const devices = u.kind === 'sparkplug' ? c.devices : null;", decides);
  assert.match("      case 'http':", decides);
  assert.match("import { createHttpSink } from '@kedge/cloud-sync/north/http/sink.ts';", imports);
  assert.doesNotMatch("import { legacyUplinkSchema } from '@kedge/cloud-sync/north/mqtt/schema.ts';", imports);
});
