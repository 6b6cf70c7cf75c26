/**
 * The center keys everything on (gateway, epoch, seq): a gateway whose log was recreated
 * (new epoch, sequences from 1 again) sends new data, never duplicates; the change is
 * recorded with what the center held of the old epoch; and what the center confirms to the
 * gateway is the highest sequence it holds without a hole.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Batch } from '../codec/index.ts';
import type { LogRecord } from '../model.ts';
import { IngestStore } from './store.ts';

const T0 = 1_700_000_000_000;
const id = { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'gw1' };

function batch(first: number, last: number, epoch: string | undefined, point = 'm/p', evictedUpTo?: number): Batch {
  const readings: LogRecord[] = [];
  for (let s = evictedUpTo === undefined ? first : evictedUpTo + 1; s <= last; s++) readings.push({ seq: s, point, ts: T0 + s, value: s, quality: 'good' });
  return { gateway: 'gw1', ...(epoch ? { epoch } : {}), first, last, evicted: evictedUpTo === undefined ? [] : [{ first, last: evictedUpTo }], readings };
}

function memoryStore(t: test.TestContext): IngestStore {
  const store = new IngestStore(':memory:');
  t.after(() => store.close());
  return store;
}

test('a new epoch restarting at sequence 1 is stored as new data, and the change names the last sequence of the old one', (t) => {
  const store = memoryStore(t);
  store.storeBatch(id, batch(1, 900, 'aaaa'), T0);
  const r = store.storeBatch(id, batch(1, 400, 'bbbb', 'other/p'), T0 + 1);
  assert.equal(r.inserted, 400, 'not dropped as duplicates of the old epoch');
  assert.equal(r.duplicates, 0);
  assert.deepEqual(r.epochChange, { gateway: 'gw1', previousEpoch: 'aaaa', previousLastSeq: 900, previousConfirmed: 900, epoch: 'bbbb', at: T0 + 1 });
  assert.deepEqual(store.epochChanges('gw1'), [r.epochChange]);
  assert.equal(store.epochOf('gw1'), 'bbbb');
  assert.equal(store.sequences('gw1').length, 400, 'queries default to the current epoch');
  assert.equal(store.readings('gw1', 0, 1)[0]!.point, 'other/p');
  assert.equal(store.sequences('gw1', 'aaaa').length, 900, 'the old epoch is kept');
  assert.equal(store.readings('gw1', 0, 1, 'aaaa')[0]!.point, 'm/p');
  const [s] = store.summaries();
  assert.deepEqual({ epoch: s!.epoch, epochs: s!.epochs, maxSeq: s!.maxSeq, confirmed: s!.confirmed }, { epoch: 'bbbb', epochs: 2, maxSeq: 400, confirmed: 400 });
  assert.deepEqual(store.gaps('gw1'), []);
  assert.deepEqual(store.gaps('gw1', 'aaaa'), []);
});

test('a late batch of an old epoch is stored in it and does not switch the gateway back', (t) => {
  const store = memoryStore(t);
  store.storeBatch(id, batch(1, 10, 'aaaa'));
  store.storeBatch(id, batch(1, 5, 'bbbb'));
  const late = store.storeBatch(id, batch(11, 20, 'aaaa'));
  assert.equal(late.epochChange, undefined);
  assert.equal(late.confirmed, 20);
  assert.equal(store.epochOf('gw1'), 'bbbb');
  assert.equal(store.summaries()[0]!.maxSeq, 5);
  assert.equal(store.epochChanges('gw1').length, 1);
});

test('confirmed is the end of the run from 1 without a hole: evicted ranges count, an out-of-order batch waits for the hole to fill', (t) => {
  const store = memoryStore(t);
  assert.equal(store.storeBatch(id, batch(1, 10, 'e1')).confirmed, 10);
  assert.equal(store.storeBatch(id, batch(21, 30, 'e1')).confirmed, 10, 'a hole at 11-20');
  assert.equal(store.storeBatch(id, batch(31, 40, 'e1', 'm/p', 35)).confirmed, 10);
  assert.equal(store.storeBatch(id, batch(11, 20, 'e1')).confirmed, 40, 'filled: 1-40, with 31-35 evicted');
  assert.equal(store.storeBatch(id, batch(1, 40, 'e1')).confirmed, 40, 'a resent batch changes nothing');
  assert.equal(store.confirmed('gw1'), 40);
  assert.equal(store.confirmed('gw1', 'unknown'), 0);
});

test('a batch without an epoch (an older gateway) is epoch "", and its first epoch-carrying batch is an epoch change', (t) => {
  const store = memoryStore(t);
  store.storeBatch(id, batch(1, 50, undefined));
  assert.equal(store.epochOf('gw1'), '');
  const r = store.storeBatch(id, batch(1, 3, 'cafe'));
  assert.equal(r.inserted, 3);
  assert.deepEqual(r.epochChange && { previousEpoch: r.epochChange.previousEpoch, previousLastSeq: r.epochChange.previousLastSeq }, { previousEpoch: '', previousLastSeq: 50 });
  // A first gateway batch with an epoch is not a change.
  const other = store.storeBatch({ ...id, gateway: 'gw2' }, { ...batch(1, 2, 'f00d'), gateway: 'gw2' });
  assert.equal(other.epochChange, undefined);
});

test('a center store written before epochs is migrated: its data becomes epoch "" and stays readable', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-store-mig-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'center.db');
  const old = new Database(path);
  old.exec(`CREATE TABLE readings (gateway TEXT NOT NULL, seq INTEGER NOT NULL, point TEXT NOT NULL, ts INTEGER NOT NULL, value BLOB,
      flags INTEGER NOT NULL, received_at INTEGER NOT NULL, PRIMARY KEY (gateway, seq)) WITHOUT ROWID;
    CREATE INDEX readings_point_ts ON readings (gateway, point, ts);
    CREATE TABLE evicted (gateway TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL, PRIMARY KEY (gateway, first)) WITHOUT ROWID;
    CREATE TABLE gateways (gateway TEXT PRIMARY KEY, region TEXT NOT NULL, municipality TEXT NOT NULL, status TEXT, status_json TEXT,
      status_at INTEGER, last_seen INTEGER, max_seq INTEGER NOT NULL DEFAULT 0, readings INTEGER NOT NULL DEFAULT 0, duplicates INTEGER NOT NULL DEFAULT 0);
    INSERT INTO gateways (gateway, region, municipality, last_seen, max_seq, readings) VALUES ('gw1', 'kuzbass', 'kemerovo', 1, 12, 10);
    INSERT INTO evicted VALUES ('gw1', 1, 2);`);
  const insert = old.prepare('INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, ?)');
  for (let s = 3; s <= 12; s++) insert.run('gw1', s, 'm/p', T0 + s, s, 0, 1);
  old.close();

  const store = new IngestStore(path);
  t.after(() => store.close());
  assert.deepEqual(store.sequences('gw1'), [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.deepEqual(store.evictedRanges('gw1'), [{ first: 1, last: 2 }]);
  assert.deepEqual(store.gaps('gw1'), []);
  assert.equal(store.confirmed('gw1', ''), 12, 'coverage is built from what the old store holds (1-2 evicted, 3-12 stored)');
  const r = store.storeBatch(id, batch(1, 5, 'new0'));
  assert.equal(r.inserted, 5);
  assert.equal(r.epochChange?.previousLastSeq, 12);
});

test('a migrated store confirms a gateway that continues its old log (no epoch) from where it is', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-store-mig-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'center.db');
  const old = new Database(path);
  old.exec(`CREATE TABLE readings (gateway TEXT NOT NULL, seq INTEGER NOT NULL, point TEXT NOT NULL, ts INTEGER NOT NULL, value BLOB,
      flags INTEGER NOT NULL, received_at INTEGER NOT NULL, PRIMARY KEY (gateway, seq)) WITHOUT ROWID;
    CREATE TABLE evicted (gateway TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL, PRIMARY KEY (gateway, first)) WITHOUT ROWID;
    CREATE TABLE gateways (gateway TEXT PRIMARY KEY, region TEXT NOT NULL, municipality TEXT NOT NULL, status TEXT, status_json TEXT,
      status_at INTEGER, last_seen INTEGER, max_seq INTEGER NOT NULL DEFAULT 0, readings INTEGER NOT NULL DEFAULT 0, duplicates INTEGER NOT NULL DEFAULT 0);
    INSERT INTO gateways (gateway, region, municipality, last_seen, max_seq, readings) VALUES ('gw1', 'kuzbass', 'kemerovo', 1, 30, 25);
    INSERT INTO evicted VALUES ('gw1', 11, 15);`);
  const insert = old.prepare('INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, ?)');
  // 1-10 stored, 11-15 evicted, 16-25 stored, 26-30 lost on the way (a real hole).
  for (const s of [...Array.from({ length: 10 }, (_, i) => i + 1), ...Array.from({ length: 10 }, (_, i) => i + 16)]) insert.run('gw1', s, 'm/p', T0 + s, s, 0, 1);
  old.close();

  const store = new IngestStore(path);
  t.after(() => store.close());
  assert.equal(store.confirmed('gw1', ''), 25);
  assert.deepEqual(store.gaps('gw1', ''), [{ first: 26, last: 30 }]);
  const r = store.storeBatch(id, batch(26, 40, undefined));
  assert.equal(r.confirmed, 40, 'the old log continued: everything up to 40 held');
  assert.equal(r.epochChange, undefined);
  assert.deepEqual(store.gaps('gw1'), []);
});

test('a replaced log names its unsent tail: the center records it missing and unrecoverable, a late delivery clips it', (t) => {
  const store = memoryStore(t);
  store.storeBatch(id, batch(1, 200, 'aaaa'), T0);
  store.storeBatch(id, batch(301, 320, 'aaaa'), T0);
  // The box's old file ended at 500, the center had confirmed 150 to it: 201-300 and 321-500 never arrived.
  const fresh = store.recordUnrecoverable('gw1', 'aaaa', 150, 500, T0 + 1);
  assert.deepEqual(fresh, [{ first: 201, last: 300 }, { first: 321, last: 500 }]);
  assert.deepEqual(store.gaps('gw1', 'aaaa'), fresh, 'a visible gap, not silence');
  assert.deepEqual(store.recordUnrecoverable('gw1', 'aaaa', 150, 500, T0 + 2), [], 'the birth repeated: recorded once');
  // A broker still held 401-410 of the old epoch and delivers it late.
  store.storeBatch(id, batch(401, 410, 'aaaa'), T0 + 3);
  assert.deepEqual(store.unrecoverableRanges('gw1', 'aaaa'), [{ first: 201, last: 300 }, { first: 321, last: 400 }, { first: 411, last: 500 }]);
  // The new epoch's first batch: the change names where the old one ended on the box.
  const r = store.storeBatch(id, batch(1, 10, 'bbbb'), T0 + 4);
  assert.equal(r.epochChange?.previousLastSeq, 500);
});
