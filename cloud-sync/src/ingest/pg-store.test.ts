import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ReadingLog } from '@kedge/gateway/log/reading-log.ts';
import { startMosquitto } from '@kedge/scripts/testing/mosquitto.ts';
import { startPostgres, type PostgresHandle } from '@kedge/scripts/testing/postgres.ts';
import { waitFor } from '@kedge/scripts/testing/wait.ts';
import { jsonCodec } from '../codec/json.ts';
import type { Batch } from '../codec/index.ts';
import { Uplink } from '../uplink/uplink.ts';
import { IngestConsumer } from './consumer.ts';
import { PgIngestStore } from './pg-store.ts';

const logger = pino({ level: 'silent' });
const id = (gateway: string) => ({ prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway });

let pgServer: PostgresHandle;
test.before(async () => {
  pgServer = await startPostgres();
});
test.after(() => pgServer.stop());

function batch(gateway: string, first: number, last: number, evictedUpTo = 0): Batch {
  const readings = [];
  for (let seq = Math.max(first, evictedUpTo + 1); seq <= last; seq++) readings.push({ seq, point: 'm/p', ts: 1_700_000_000_000 + seq, value: seq / 2, quality: 'good' as const });
  return { gateway, first, last, evicted: evictedUpTo >= first ? [{ first, last: evictedUpTo }] : [], readings };
}

test('PostgreSQL store: a resent batch is stored once, gaps and evictions are told apart, values keep their kind', async (t) => {
  const store = await PgIngestStore.open(pgServer.url);
  t.after(() => store.close());
  assert.deepEqual(await store.storeBatch(id('pg1'), batch('pg1', 1, 10)), { inserted: 10, duplicates: 0, previousMax: 0 });
  assert.deepEqual(await store.storeBatch(id('pg1'), batch('pg1', 1, 10)), { inserted: 0, duplicates: 10, previousMax: 10 });
  await store.storeBatch(id('pg1'), batch('pg1', 21, 30));
  await store.storeBatch(id('pg1'), batch('pg1', 31, 45, 40));
  assert.deepEqual(await store.gaps('pg1'), [{ first: 11, last: 20 }]);
  await store.storeBatch(id('pg1'), batch('pg1', 11, 20));
  assert.deepEqual(await store.gaps('pg1'), []);
  // 1-30 and 41-45 stored; 31-40 were evicted on the gateway.
  assert.deepEqual(await store.counts('pg1'), { readings: 35, distinct: 35, duplicates: 10, maxSeq: 45 });
  await store.storeBatch(id('pg2'), {
    gateway: 'pg2',
    first: 1,
    last: 4,
    evicted: [],
    readings: [
      { seq: 1, point: 'a', ts: 1, value: true, quality: 'good' },
      { seq: 2, point: 'b', ts: 2, value: 'СЧ-4', quality: 'good' },
      { seq: 3, point: 'c', ts: 3, value: 18446744073709551615n, quality: 'good' },
      { seq: 4, point: 'd', ts: 4, value: null, quality: 'bad_no_response' },
    ],
  });
  assert.deepEqual(await store.counts('pg2'), { readings: 4, distinct: 4, duplicates: 0, maxSeq: 4 });
});

test('two ingest processes on an MQTT 5 shared subscription split 50 gateways without loss or duplicates', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-share-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // A center broker keeps sessions on disk and never drops what it queues for an ingest that is
  // away (mosquitto's default queue limit is 1000 messages per client): see README, "center".
  const broker = await startMosquitto({ persistence: true, extraConf: 'max_queued_messages 0\nmax_inflight_messages 0' });
  t.after(() => broker.stop());
  const stores = await Promise.all([PgIngestStore.open(pgServer.url), PgIngestStore.open(pgServer.url)]);
  t.after(() => Promise.all(stores.map((s) => s.close())));
  const consumers = stores.map(
    (store, i) => new IngestConsumer({ url: broker.url, clientId: `ingest-${i}`, prefix: 'kedge/v1', store, logger, shareGroup: 'ingest' }),
  );
  await Promise.all(consumers.map((c) => c.start()));
  t.after(() => Promise.all(consumers.map((c) => c.stop())));

  const gateways = Array.from({ length: 50 }, (_, i) => {
    const name = `share-gw-${String(i).padStart(2, '0')}`;
    const log = new ReadingLog(join(dir, `${name}.db`), { maxBytes: 8 * 1024 * 1024, flushMs: 20, flushRows: 100, synchronous: 'normal', retainAckedMs: 60_000 });
    const uplink = new Uplink({
      log,
      identity: id(name),
      url: broker.url,
      clientId: name,
      codec: jsonCodec,
      batchMaxReadings: 20,
      batchMaxDelayMs: 50,
      inflight: 2,
      keepaliveSec: 10,
      reconnectMinMs: 100,
      reconnectMaxMs: 500,
      logger,
    });
    return { name, log, uplink };
  });
  t.after(async () => {
    for (const g of gateways) {
      await g.uplink.stop();
      g.log.close();
    }
  });
  for (const g of gateways) g.uplink.start();
  let round = 0;
  // A fixed amount of data (60 rounds x 50 gateways x 10), however slow the machine is.
  const produce = setInterval(() => {
    if (round === 60) return;
    round++;
    for (const g of gateways) g.log.append(Array.from({ length: 10 }, (_, k) => ({ point: `m/p${k}`, ts: Date.now(), value: round * 10 + k, quality: 'good' as const })));
  }, 50);
  t.after(() => clearInterval(produce));

  await waitFor(() => consumers.every((c) => c.counters.batches > 20), { timeoutMs: 30_000, what: 'both ingests to take part' });
  await consumers[0]!.stop(); // one ingest goes away mid-stream; the other carries the feed
  await waitFor(() => round > 30, { what: 'more data while one ingest is down' });
  await consumers[0]!.start(); // and comes back with its session
  await waitFor(() => round === 60, { timeoutMs: 60_000, what: 'all data produced' });
  clearInterval(produce);
  for (const g of gateways) g.log.flush();

  await waitFor(() => gateways.every((g) => g.log.cursor('uplink') === g.log.lastSeq()), { timeoutMs: 120_000, what: 'every gateway drained' });
  const total = gateways.reduce((n, g) => n + g.log.lastSeq(), 0);
  await waitFor(async () => (await Promise.all(gateways.map((g) => stores[0]!.counts(g.name)))).reduce((n, c) => n + c.distinct, 0) === total, {
    timeoutMs: 120_000,
    what: `all ${total} readings in PostgreSQL`,
  });
  for (const g of gateways) {
    const c = await stores[0]!.counts(g.name);
    assert.equal(c.distinct, g.log.lastSeq(), `${g.name}: every sequence stored`);
    assert.equal(c.maxSeq, g.log.lastSeq());
    assert.deepEqual(await stores[0]!.gaps(g.name), [], `${g.name}: no gap`);
  }
  const inserted = consumers.reduce((n, c) => n + c.counters.inserted, 0);
  assert.equal(inserted, total, 'each reading inserted by exactly one ingest');
  assert.ok(consumers.every((c) => c.counters.inserted > 0), 'the feed was split');
});
