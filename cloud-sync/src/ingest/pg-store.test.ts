import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { MemoryLog } from '../north/memory-log.ts';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { startPostgres, type PostgresHandle } from '@kedge/testkit/postgres.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { jsonCodec } from '../codec/json.ts';
import type { Batch } from '../codec/index.ts';
import { Uplink } from '../north/mqtt/uplink.ts';
import { IngestConsumer } from './consumer.ts';
import { PgIngestStore } from './pg-store.ts';
import { tempDir } from '@kedge/testkit/temp-dirs.ts';

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
  assert.deepEqual(await store.storeBatch(id('pg1'), batch('pg1', 1, 10)), { inserted: 10, duplicates: 0, previousMax: 0, epoch: '', confirmed: 10 });
  assert.deepEqual(await store.storeBatch(id('pg1'), batch('pg1', 1, 10)), { inserted: 0, duplicates: 10, previousMax: 10, epoch: '', confirmed: 10 });
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

test('PostgreSQL store: commits are durable per session even on a server whose default is synchronous_commit = off; fsync = off is said', async (t) => {
  // The test server runs with synchronous_commit = off and fsync = off (see postgres.ts).
  const server = new pg.Client(pgServer.url);
  await server.connect();
  t.after(() => server.end());
  assert.equal((await server.query('SHOW synchronous_commit')).rows[0].synchronous_commit, 'off', 'the server default is off');
  const warnings: string[] = [];
  const store = await PgIngestStore.open(pgServer.url, { onWarn: (m) => warnings.push(m) });
  t.after(() => store.close());
  assert.deepEqual(await store.durability(), { synchronousCommit: 'on', fsync: 'off' });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /fsync = off: commits are not durable/);
  // A session that still runs with it off (here: the URL's own options win) is refused.
  const refused = PgIngestStore.open(`${pgServer.url}${pgServer.url.includes('?') ? '&' : '?'}options=-c%20synchronous_commit%3Doff`);
  await assert.rejects(refused, /synchronous_commit is off for the ingest session/);
});

test('PostgreSQL store: a replaced log names its unsent tail: recorded missing and unrecoverable once, a late delivery clips it', async (t) => {
  const store = await PgIngestStore.open(pgServer.url);
  t.after(() => store.close());
  await store.storeBatch(id('pgu'), { ...batch('pgu', 1, 200), epoch: 'olda' });
  await store.storeBatch(id('pgu'), { ...batch('pgu', 301, 320), epoch: 'olda' });
  const fresh = await store.recordUnrecoverable('pgu', 'olda', 150, 500);
  assert.deepEqual(fresh, [{ first: 201, last: 300 }, { first: 321, last: 500 }]);
  assert.deepEqual(await store.gaps('pgu', 'olda'), fresh, 'a visible gap, not silence');
  assert.deepEqual(await store.recordUnrecoverable('pgu', 'olda', 150, 500), [], 'the birth repeated: recorded once');
  await store.storeBatch(id('pgu'), { ...batch('pgu', 401, 410), epoch: 'olda' });
  assert.deepEqual(await store.unrecoverableRanges('pgu', 'olda'), [{ first: 201, last: 300 }, { first: 321, last: 400 }, { first: 411, last: 500 }]);
  const r = await store.storeBatch(id('pgu'), { ...batch('pgu', 1, 10), epoch: 'newb' });
  assert.equal(r.epochChange?.previousLastSeq, 500);
});

test('PostgreSQL store: sequences past 2^31 (a busy box after months) are stored, covered and evicted like any other', async (t) => {
  const store = await PgIngestStore.open(pgServer.url);
  t.after(() => store.close());
  const base = 2 ** 31 - 3;
  // One batch across 2^31, then one ending in an evicted range: every range query takes 64-bit values.
  const across = await store.storeBatch(id('pgbig'), batch('pgbig', base, base + 5));
  assert.equal(across.inserted, 6);
  const evicted = await store.storeBatch(id('pgbig'), batch('pgbig', base + 6, base + 10, base + 8));
  assert.equal(evicted.inserted, 2);
  assert.deepEqual(await store.gaps('pgbig'), [{ first: 1, last: base - 1 }]);
});

test('PostgreSQL store: a new log epoch restarting at 1 is new data, the change is recorded, confirmations are per epoch, evicted never overlaps stored', async (t) => {
  const store = await PgIngestStore.open(pgServer.url);
  t.after(() => store.close());
  const e = (first: number, last: number, epoch: string, evictedUpTo = 0): Batch => ({ ...batch('pge', first, last, evictedUpTo), epoch });
  assert.equal((await store.storeBatch(id('pge'), e(1, 900, 'aaaa'))).confirmed, 900);
  const next = await store.storeBatch(id('pge'), e(1, 400, 'bbbb'));
  assert.equal(next.inserted, 400, 'not dropped as duplicates of the old epoch');
  assert.deepEqual(
    next.epochChange && { previousEpoch: next.epochChange.previousEpoch, previousLastSeq: next.epochChange.previousLastSeq, previousConfirmed: next.epochChange.previousConfirmed },
    { previousEpoch: 'aaaa', previousLastSeq: 900, previousConfirmed: 900 },
  );
  assert.equal((await store.epochChanges('pge')).length, 1);
  assert.equal(await store.epochOf('pge'), 'bbbb');
  assert.equal(await store.confirmed('pge'), 400);
  assert.equal(await store.confirmed('pge', 'aaaa'), 900);
  assert.equal((await store.storeBatch(id('pge'), e(501, 600, 'bbbb'))).confirmed, 400, 'a hole at 401-500');
  // 401-450 were stored; the gateway then reports 401-500 evicted (it never got the confirmation).
  await store.storeBatch(id('pge'), e(401, 450, 'bbbb'));
  assert.equal((await store.storeBatch(id('pge'), e(401, 500, 'bbbb', 500))).confirmed, 600);
  assert.deepEqual(await store.gaps('pge'), []);
  assert.deepEqual(await store.gaps('pge', 'aaaa'), []);
  const db = new pg.Client(pgServer.url);
  await db.connect();
  t.after(() => db.end());
  const evicted = await db.query<{ first: string; last: string }>("SELECT first, last FROM kedge_evicted WHERE gateway = 'pge' ORDER BY first");
  assert.deepEqual(evicted.rows.map((r) => [Number(r.first), Number(r.last)]), [[451, 500]]);
});

test('PostgreSQL store: a database written before epochs is migrated; its data becomes epoch "" and stays accounted', async (t) => {
  const admin = new pg.Client(pgServer.url);
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS kedge_before_epochs');
  await admin.query('CREATE DATABASE kedge_before_epochs');
  await admin.end();
  const url = pgServer.url.replace(/\/postgres$/, '/kedge_before_epochs');
  const old = new pg.Client(url);
  await old.connect();
  await old.query(`CREATE TABLE kedge_readings (gateway TEXT NOT NULL, seq BIGINT NOT NULL, point TEXT NOT NULL, ts TIMESTAMPTZ NOT NULL,
      num DOUBLE PRECISION, txt TEXT, bool BOOLEAN, quality TEXT NOT NULL, received_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (gateway, seq));
    CREATE TABLE kedge_evicted (gateway TEXT NOT NULL, first BIGINT NOT NULL, last BIGINT NOT NULL, PRIMARY KEY (gateway, first, last));
    CREATE TABLE kedge_gateways (gateway TEXT PRIMARY KEY, region TEXT NOT NULL, municipality TEXT NOT NULL, status TEXT, status_json JSONB,
      status_at TIMESTAMPTZ, last_seen TIMESTAMPTZ, max_seq BIGINT NOT NULL DEFAULT 0, readings BIGINT NOT NULL DEFAULT 0, duplicates BIGINT NOT NULL DEFAULT 0);
    INSERT INTO kedge_gateways (gateway, region, municipality, max_seq, readings) VALUES ('old1', 'kuzbass', 'kemerovo', 12, 10);
    INSERT INTO kedge_evicted VALUES ('old1', 1, 2);
    INSERT INTO kedge_readings (gateway, seq, point, ts, num, quality) SELECT 'old1', s, 'm/p', now(), s, 'good' FROM generate_series(3, 12) s;`);
  await old.end();

  const store = await PgIngestStore.open(url);
  t.after(() => store.close());
  assert.deepEqual(await store.gaps('old1'), [], 'the old data is whole: 1-2 evicted, 3-12 stored');
  assert.equal(await store.confirmed('old1', ''), 12, 'coverage is built from what the old store holds');
  // The gateway continues its old log (no epoch, the legacy epoch ''): confirmed from where it is.
  const legacy = await store.storeBatch(id('old1'), { ...batch('old1', 13, 14) });
  assert.equal(legacy.confirmed, 14);
  assert.equal(legacy.epochChange, undefined);
  const r = await store.storeBatch(id('old1'), { ...batch('old1', 1, 5), epoch: 'new0' });
  assert.equal(r.inserted, 5, 'a new epoch restarting at 1 is new data');
  assert.equal(r.epochChange?.previousLastSeq, 14);
  assert.deepEqual(await store.gaps('old1', ''), []);
  assert.deepEqual(await store.counts('old1'), { readings: 17, distinct: 17, duplicates: 0, maxSeq: 5 });
});

test('two ingest processes on an MQTT 5 shared subscription split 50 gateways without loss or duplicates', async (t) => {
  const dir = tempDir(t, 'kedge-share-');
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
    const log = new MemoryLog();
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
  // The ingests' own counters first (no queries): polling 50 counts from PostgreSQL every 50 ms
  // while the last batches arrive costs more CPU than the ingest itself. Then PostgreSQL is asked.
  await waitFor(() => consumers.reduce((n, c) => n + c.counters.inserted, 0) >= total, { timeoutMs: 120_000, what: `all ${total} readings inserted by the ingests` });
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
