import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { waitFor } from '@kedge/testkit/wait.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '../broker/embedded.ts';
import type { Batch } from '../codec/index.ts';
import { jsonCodec } from '../codec/json.ts';
import { compactCodec } from '../codec/compact.ts';
import { formatSummary } from './report.ts';
import type { LogRecord, SeqRange } from '../model.ts';
import type { GatewayIdentity } from '../topics.ts';
import { IngestConsumer, type IngestLogger } from './consumer.ts';
import { IngestStore, type StoreResult } from './store.ts';

const PREFIX = 'kedge/v1';
const DATA = 'kedge/v1/kuzbass/kemerovo/gw1/data';
const STATUS = 'kedge/v1/kuzbass/kemerovo/gw1/status';
const T0 = 1_700_000_000_000;

const quiet: IngestLogger = { info() {}, warn() {}, error() {} };

function batch(gateway: string, first: number, last: number, evictedUpTo?: number): Batch {
  const from = evictedUpTo === undefined ? first : evictedUpTo + 1;
  const readings: LogRecord[] = [];
  for (let seq = from; seq <= last; seq++) {
    readings.push({ seq, point: `счётчик/p${seq % 2}`, ts: T0 + seq, value: seq % 5 === 0 ? 2n ** 60n + BigInt(seq) : seq / 4, quality: 'good' });
  }
  return { gateway, first, last, evicted: evictedUpTo === undefined ? [] : [{ first, last: evictedUpTo }], readings };
}

interface Harness {
  broker: EmbeddedBroker;
  store: IngestStore;
  consumer: IngestConsumer;
  clientId: string;
  publisher: MqttClient;
  batches: Array<{ id: GatewayIdentity; batch: Batch; result: StoreResult }>;
  rejected: Array<{ topic: string; error: string }>;
  gaps: Array<{ gateway: string; gap: SeqRange }>;
  statuses: Array<{ gateway: string; status: Record<string, unknown> }>;
  publish(topic: string, payload: Buffer | string): Promise<void>;
}

let clientNo = 0;

/** Broker on a free port, a store, a started consumer and a raw mqtt.js publisher; all torn down after the test. */
async function harness(t: test.TestContext, storePath = ':memory:'): Promise<Harness> {
  const broker = await startEmbeddedBroker({ port: 0 });
  t.after(() => broker.close());
  const store = new IngestStore(storePath);
  t.after(() => store.close());
  const clientId = `ingest-test-${process.pid}-${++clientNo}`;
  const consumer = new IngestConsumer({
    url: broker.url,
    clientId,
    prefix: PREFIX,
    store,
    logger: quiet,
  });
  const h: Harness = {
    broker,
    store,
    consumer,
    clientId,
    publisher: undefined as unknown as MqttClient,
    batches: [],
    rejected: [],
    gaps: [],
    statuses: [],
    async publish(topic, payload) {
      await h.publisher.publishAsync(topic, payload, { qos: 1 });
    },
  };
  consumer.on('batch', (id, b, result) => h.batches.push({ id, batch: b, result }));
  consumer.on('rejected', (topic, error) => h.rejected.push({ topic, error }));
  consumer.on('gap', (gateway, gap) => h.gaps.push({ gateway, gap }));
  consumer.on('status', (id, status) => h.statuses.push({ gateway: id.gateway, status }));
  await consumer.start();
  t.after(() => consumer.stop());
  h.publisher = await mqtt.connectAsync(broker.url, { clientId: `pub-test-${process.pid}-${++clientNo}`, reconnectPeriod: 0 });
  t.after(() => h.publisher.endAsync());
  return h;
}

test('a valid batch on kedge/v1/kuzbass/kemerovo/gw1/data is stored with the identity from the topic', async (t) => {
  const h = await harness(t);
  const b = batch('gw1', 1, 6);
  await h.publish(DATA, jsonCodec.encode(b));
  await waitFor(() => h.batches.length === 1, { what: 'the batch to be stored' });

  assert.deepStrictEqual(h.store.readings('gw1'), b.readings);
  assert.deepStrictEqual(h.batches[0]!.batch, b);
  assert.deepEqual(h.batches[0]!.id, { prefix: PREFIX, region: 'kuzbass', municipality: 'kemerovo', gateway: 'gw1', kind: 'data' });
  assert.deepEqual(h.batches[0]!.result, { inserted: 6, duplicates: 0, previousMax: 0, epoch: '', confirmed: 6 });
  const [summary] = h.store.summaries();
  assert.equal(summary!.gateway, 'gw1');
  assert.equal(summary!.region, 'kuzbass');
  assert.equal(summary!.municipality, 'kemerovo');
  assert.equal(summary!.maxSeq, 6);
  assert.deepEqual(h.consumer.counters, { batches: 1, inserted: 6, duplicates: 0, rejected: 0 });
  assert.deepEqual(h.gaps, []);
});

test('a batch delivered twice is stored once and counted as duplicates', async (t) => {
  const h = await harness(t);
  const payload = jsonCodec.encode(batch('gw1', 1, 4));
  await h.publish(DATA, payload);
  await h.publish(DATA, payload);
  await waitFor(() => h.batches.length === 2, { what: 'both deliveries' });
  assert.deepEqual(h.store.sequences('gw1'), [1, 2, 3, 4]);
  assert.deepEqual(h.consumer.counters, { batches: 2, inserted: 4, duplicates: 4, rejected: 0 });
});

test('garbage and a batch of another gateway are rejected into the rejected table, and later batches still get stored', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-consumer-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'ingest.db');
  const h = await harness(t, path);

  const garbage = Buffer.from('{"format": definitely not a batch');
  const foreign = jsonCodec.encode(batch('gw2', 1, 3));
  await h.publish(DATA, garbage);
  await h.publish(DATA, foreign);
  await h.publish(DATA, jsonCodec.encode(batch('gw1', 1, 3)));
  await waitFor(() => h.batches.length === 1, { what: 'the valid batch after the bad ones' });

  assert.equal(h.rejected.length, 2);
  assert.equal(h.rejected[0]!.topic, DATA);
  assert.match(h.rejected[0]!.error, /^json: not JSON: /);
  assert.deepEqual(h.rejected[1], { topic: DATA, error: 'payload gateway "gw2" does not match topic gateway "gw1"' });
  assert.equal(h.store.rejectedCount(), 2);
  assert.equal(h.consumer.counters.rejected, 2);
  assert.deepEqual(h.store.sequences('gw1'), [1, 2, 3]);
  assert.deepEqual(h.store.sequences('gw2'), [], 'nothing of the foreign batch is stored');
  assert.deepEqual(
    h.store.summaries().map((s) => s.gateway),
    ['gw1'],
  );

  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  const rows = db.prepare('SELECT topic, error, payload FROM rejected ORDER BY id').all() as Array<{ topic: string; error: string; payload: Buffer }>;
  assert.deepEqual(
    rows.map((r) => [r.topic, r.error, r.payload]),
    h.rejected.map((r, i) => [r.topic, r.error, [garbage, foreign][i]]),
  );
});

test('a status message updates the gateway status; a status without state is rejected; an empty one is ignored', async (t) => {
  const h = await harness(t);
  const online = { state: 'online', version: '0.1.0', ts: T0 };
  await h.publish(STATUS, JSON.stringify(online));
  await waitFor(() => h.statuses.length === 1, { what: 'the status' });
  assert.deepEqual(h.statuses[0], { gateway: 'gw1', status: online });
  const [s] = h.store.summaries();
  assert.equal(s!.gateway, 'gw1');
  assert.equal(s!.status, 'online');
  assert.equal(typeof s!.statusAt, 'number');

  await h.publish(STATUS, '');
  await h.publish(STATUS, JSON.stringify({ version: '0.1.0' }));
  await h.publish(STATUS, JSON.stringify({ state: 'offline' }));
  await waitFor(() => h.statuses.length === 2, { what: 'the offline status' });
  assert.deepEqual(h.rejected, [{ topic: STATUS, error: 'bad status message: no "state" field' }]);
  assert.equal(h.store.rejectedCount(), 1, 'the empty (cleared retained) status is not a rejection');
  assert.equal(h.store.summaries()[0]!.status, 'offline');
});

test('a batch starting after the previous highest sequence + 1 emits a gap event with the exact range', async (t) => {
  const h = await harness(t);
  await h.publish(DATA, jsonCodec.encode(batch('gw1', 1, 10)));
  await h.publish(DATA, jsonCodec.encode(batch('gw1', 21, 30)));
  // 31-40 evicted on the gateway: reported, so not a gap
  await h.publish(DATA, jsonCodec.encode(batch('gw1', 31, 45, 40)));
  await h.publish(DATA, jsonCodec.encode(batch('gw1', 51, 52)));
  await waitFor(() => h.batches.length === 4, { what: 'four batches' });

  assert.deepEqual(h.gaps, [
    { gateway: 'gw1', gap: { first: 11, last: 20 } },
    { gateway: 'gw1', gap: { first: 46, last: 50 } },
  ]);
  assert.deepEqual(h.store.gaps('gw1'), [
    { first: 11, last: 20 },
    { first: 46, last: 50 },
  ]);

  // the late batch fills the first gap: no new gap event, and the store no longer lists it
  await h.publish(DATA, jsonCodec.encode(batch('gw1', 11, 20)));
  await waitFor(() => h.batches.length === 5, { what: 'the late batch' });
  assert.equal(h.gaps.length, 2);
  assert.deepEqual(h.store.gaps('gw1'), [{ first: 46, last: 50 }]);
});

test('a live batch ahead of the backlog is no gap; a backlog batch that skips sequences still is, live readings beyond it or not', async (t) => {
  const h = await harness(t);
  const live = (seqs: number[]): Batch => ({ ...batch('gw1', seqs[0]!, seqs[seqs.length - 1]!), live: true, readings: seqs.map((s) => batch('gw1', s, s).readings[0]!) });
  await h.publish(DATA, jsonCodec.encode(batch('gw1', 1, 10)));
  await h.publish(DATA, compactCodec.encode(live([55, 60, 70])));
  await waitFor(() => h.batches.length === 2, { what: 'the backlog and the live batch' });
  assert.deepEqual(h.gaps, [], 'sequences 11-54 are on their way by the backlog lane');
  assert.deepEqual(h.store.gaps('gw1'), []);
  assert.deepEqual(h.store.notYetReceived('gw1'), [
    { first: 11, last: 54 },
    { first: 56, last: 59 },
    { first: 61, last: 69 },
  ]);
  assert.match(formatSummary(h.store, h.consumer.counters), /confirmed=10 .* missing=0 not-yet-received=57/);

  // The backlog resumes at 21: 11-20 were lost on the way, although max_seq is already 70.
  await h.publish(DATA, jsonCodec.encode(batch('gw1', 21, 58)));
  await waitFor(() => h.batches.length === 3, { what: 'the backlog batch' });
  assert.deepEqual(h.gaps, [{ gateway: 'gw1', gap: { first: 11, last: 20 } }]);
  assert.deepEqual(h.store.gaps('gw1'), [{ first: 11, last: 20 }]);
  assert.deepEqual(h.store.notYetReceived('gw1'), [{ first: 59, last: 59 }, { first: 61, last: 69 }]);
  assert.equal(h.batches[2]!.result.duplicates, 0, 'sequence 55 came live first: its backlog copy is no duplicate');
  assert.equal(h.batches[2]!.result.confirmed, 10);
});

// The window (north/window.ts) after live-first: the snapshot (newest per point, at most where
// live-first began: 100), live 101..125 as polled, the backlog up to 100, and after the lanes
// merge the backlog lane resumes after the last live reading: 126. Both arrival orders of the
// last backlog batch before the merge and the live run are seen at a center.
for (const order of ['live run before the last backlog batch', 'live run after the last backlog batch'] as const) {
  test(`after a live-first merge the next backlog batch is no gap (${order}); a real hole after it still is`, async (t) => {
    const h = await harness(t);
    const live = (seqs: number[]): Batch => ({ ...batch('gw1', seqs[0]!, seqs[seqs.length - 1]!), live: true, readings: seqs.map((s) => batch('gw1', s, s).readings[0]!) });
    const range = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, i) => first + i);
    const sent: Batch[] =
      order === 'live run before the last backlog batch'
        ? [live([99, 100]), batch('gw1', 1, 60), live(range(101, 115)), live(range(116, 125)), batch('gw1', 61, 100), batch('gw1', 126, 130)]
        : [live([99, 100]), batch('gw1', 1, 60), batch('gw1', 61, 100), live(range(101, 115)), live(range(116, 125)), batch('gw1', 126, 130)];
    for (const b of sent) await h.publish(DATA, compactCodec.encode(b));
    await waitFor(() => h.batches.length === sent.length, { what: 'every batch of the merge' });
    assert.deepEqual(h.gaps, [], 'nothing is missing: 101-125 came by the live lane');
    assert.deepEqual(h.store.gaps('gw1'), []);
    assert.equal(h.batches.at(-1)!.result.confirmed, 130);

    // 131-135 never arrive: that is a gap, reported once with its exact range.
    await h.publish(DATA, compactCodec.encode(batch('gw1', 136, 140)));
    await waitFor(() => h.batches.length === sent.length + 1, { what: 'the batch after the hole' });
    assert.deepEqual(h.gaps, [{ gateway: 'gw1', gap: { first: 131, last: 135 } }]);
    assert.deepEqual(h.store.gaps('gw1'), [{ first: 131, last: 135 }]);
  });
}

test('the consumer stops cleanly: it disconnects and handles nothing afterwards', async (t) => {
  const h = await harness(t);
  await h.publish(DATA, jsonCodec.encode(batch('gw1', 1, 2)));
  await waitFor(() => h.batches.length === 1, { what: 'the first batch' });
  assert.equal(h.broker.broker.connectedClients, 2);

  await h.consumer.stop();
  await waitFor(() => h.broker.broker.connectedClients === 1, { what: 'the consumer to disconnect' });
  // A probe subscribed to the same topic: once it has both messages, the broker has routed
  // them, and a consumer that still listened would have had them as well.
  const probe = await mqtt.connectAsync(h.broker.url, { clientId: `probe-${process.pid}-${++clientNo}`, reconnectPeriod: 0 });
  t.after(() => probe.endAsync());
  const seen: string[] = [];
  probe.on('message', (_topic, payload) => seen.push(payload.toString('utf8')));
  await probe.subscribeAsync(DATA, { qos: 1 });
  await h.publish(DATA, jsonCodec.encode(batch('gw1', 3, 4)));
  await h.publish(DATA, 'garbage');
  await waitFor(() => seen.includes('garbage'), { what: 'the probe to see both messages' });
  assert.equal(seen.length, 2);
  assert.equal(h.batches.length, 1);
  assert.deepEqual(h.store.sequences('gw1'), [1, 2]);
  assert.equal(h.store.rejectedCount(), 0);
  await h.consumer.stop(); // a second stop is harmless
});

test('batches published while the consumer is away are delivered when it comes back with the same client id', async (t) => {
  const h = await harness(t);
  await h.publish(DATA, jsonCodec.encode(batch('gw1', 1, 2)));
  await waitFor(() => h.batches.length === 1, { what: 'the first batch' });
  await h.consumer.stop();
  await waitFor(() => h.broker.broker.connectedClients === 1, { what: 'the consumer to disconnect' });

  await h.publish(DATA, jsonCodec.encode(batch('gw1', 3, 5)));
  const again = new IngestConsumer({
    url: h.broker.url,
    clientId: h.clientId,
    prefix: PREFIX,
    store: h.store,
    logger: quiet,
  });
  const stored: StoreResult[] = [];
  again.on('batch', (_id, _b, result) => stored.push(result));
  await again.start();
  t.after(() => again.stop());
  await waitFor(() => stored.length === 1, { what: 'the batch queued in the session' });
  assert.deepEqual(stored[0], { inserted: 3, duplicates: 0, previousMax: 2, epoch: '', confirmed: 5 });
  assert.deepEqual(h.store.sequences('gw1'), [1, 2, 3, 4, 5]);
});
