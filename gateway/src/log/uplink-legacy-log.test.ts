/**
 * Upgrading a box and its center from the time before log epochs: the box's log (readings
 * 1..12, cursor 12, no epoch) and the center's store (1..12 of that gateway, no epoch column,
 * no coverage table) are both opened by this version. The box continues its log where it is
 * and the center continues to confirm it: the cursor moves, nothing is reported missing or
 * evicted, and nothing is sent again forever.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { ReadingLog } from './reading-log.ts';
import { SCHEMA as LOG_SCHEMA } from './schema.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { startEmbeddedBroker } from '@kedge/cloud-sync/broker/embedded.ts';
import { jsonCodec } from '@kedge/cloud-sync/codec/json.ts';
import { IngestConsumer } from '@kedge/cloud-sync/ingest/consumer.ts';
import { IngestStore } from '@kedge/cloud-sync/ingest/store.ts';
import { Uplink } from '@kedge/cloud-sync/north/mqtt/uplink.ts';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const identity = { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'gw-legacy' };
const T0 = 1_700_000_000_000;
const OLD = 12;
const NEW = 30;

/** A box's log as the version before epochs left it: 1..12 delivered (cursor 12), closed cleanly. */
function oldLog(path: string): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(LOG_SCHEMA);
  db.prepare("INSERT INTO points (id, key) VALUES (1, 'm/p')").run();
  const insert = db.prepare('INSERT INTO readings (seq, ts, point, value, flags) VALUES (?, ?, 1, ?, 0)');
  for (let s = 1; s <= OLD; s++) insert.run(s, T0 + s, s);
  db.prepare("INSERT INTO cursors VALUES ('uplink', ?)").run(OLD);
  db.prepare("INSERT INTO meta VALUES ('state', 'closed')").run();
  db.close();
}

/** The center's store of that time: readings keyed on (gateway, seq), no epochs, no coverage. */
function oldCenter(path: string): void {
  const db = new Database(path);
  db.exec(`CREATE TABLE readings (gateway TEXT NOT NULL, seq INTEGER NOT NULL, point TEXT NOT NULL, ts INTEGER NOT NULL, value BLOB,
      flags INTEGER NOT NULL, received_at INTEGER NOT NULL, PRIMARY KEY (gateway, seq)) WITHOUT ROWID;
    CREATE INDEX readings_point_ts ON readings (gateway, point, ts);
    CREATE TABLE evicted (gateway TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL, PRIMARY KEY (gateway, first)) WITHOUT ROWID;
    CREATE TABLE gateways (gateway TEXT PRIMARY KEY, region TEXT NOT NULL, municipality TEXT NOT NULL, status TEXT, status_json TEXT,
      status_at INTEGER, last_seen INTEGER, max_seq INTEGER NOT NULL DEFAULT 0, readings INTEGER NOT NULL DEFAULT 0, duplicates INTEGER NOT NULL DEFAULT 0);`);
  db.prepare("INSERT INTO gateways (gateway, region, municipality, last_seen, max_seq, readings) VALUES (?, 'kuzbass', 'kemerovo', ?, ?, ?)").run(
    identity.gateway,
    T0,
    OLD,
    OLD,
  );
  const insert = db.prepare("INSERT INTO readings VALUES (?, ?, 'm/p', ?, ?, 0, ?)");
  for (let s = 1; s <= OLD; s++) insert.run(identity.gateway, s, T0 + s, s, T0);
  db.close();
}

test('after upgrading box and center, the old log continues under its legacy epoch and the center confirms it: no false gaps, no evictions', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-legacy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const logPath = join(dir, 'log.db');
  const centerPath = join(dir, 'center.db');
  oldLog(logPath);
  oldCenter(centerPath);

  const broker = await startEmbeddedBroker({ port: 0 });
  t.after(() => broker.close());
  const store = new IngestStore(centerPath);
  t.after(() => store.close());
  const ingest = new IngestConsumer({ url: broker.url, clientId: `ingest-${process.pid}-${Math.random()}`, prefix: 'kedge/v1', store, logger });
  await ingest.start();
  t.after(() => ingest.stop());

  const log = new ReadingLog(logPath, { maxBytes: 64 * 1024 * 1024, flushMs: 10, flushRows: 100, synchronous: 'normal', retainAckedMs: 3_600_000 });
  const uplink = new Uplink({
    log,
    identity,
    url: broker.url,
    clientId: `kedge-gw-legacy-${Math.random().toString(16).slice(2)}`,
    codec: jsonCodec,
    batchMaxReadings: 10,
    batchMaxDelayMs: 10,
    inflight: 4,
    keepaliveSec: 5,
    reconnectMinMs: 100,
    reconnectMaxMs: 500,
    logger,
    ackMode: 'center',
  });
  t.after(async () => {
    await uplink.stop();
    log.close();
  });
  assert.equal(log.lastSeq(), OLD);
  assert.equal(log.cursor('uplink'), OLD);

  uplink.start();
  log.append(Array.from({ length: NEW }, (_, i) => ({ point: 'm/p', ts: T0 + OLD + 1 + i, value: OLD + 1 + i, quality: 'good' as const })));
  await waitFor(() => log.cursor('uplink') === OLD + NEW, { what: 'the center to confirm the continued log' });

  assert.equal(store.confirmed(identity.gateway, log.epoch()), OLD + NEW);
  assert.deepEqual(store.gaps(identity.gateway), [], 'no false gap: 1..12 are held from before the upgrade');
  assert.deepEqual(store.evictedRanges(identity.gateway), []);
  assert.deepEqual(store.epochChanges(identity.gateway), [], 'the same log, not a new one');
  assert.deepEqual(
    store.sequences(identity.gateway),
    Array.from({ length: OLD + NEW }, (_, i) => i + 1),
  );
  assert.equal(log.stats().evictedTotal, 0);
  assert.equal(uplink.status().centerConfirmedSeq, OLD + NEW);
});
