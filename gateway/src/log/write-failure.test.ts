/**
 * A full disk is a state of the log, not an exception: on a real, small tmpfs that fills up,
 * commits and cursor moves fail without throwing, readings wait in a bounded memory buffer
 * (the overflow is counted and becomes an evicted range), and everything resumes by itself
 * when space returns, with every point id still naming the right point.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Reading } from '@kedge/cloud-sync/model.ts';
import { mountTmpfs, tmpfsUnavailable } from '@kedge/testkit/tmpfs.ts';
import { ReadingLog, type EvictionReport } from './reading-log.ts';

const skip = tmpfsUnavailable();
const BUFFER = 5000;

let counter = 0;
function readings(n: number, point: string): Reading[] {
  return Array.from({ length: n }, () => ({ point, ts: 1_700_000_000_000 + counter, value: counter++, quality: 'good' as const }));
}

test('on a full disk the log keeps running, buffers within its bound, and resumes with every sequence accounted', { skip: skip ?? false }, async (t) => {
  const fs = mountTmpfs(4 * 1024 * 1024, 'kedge-logfull');
  t.after(() => fs.unmount());
  const path = join(fs.dir, 'log.db');
  const warnings: string[] = [];
  let resumed: () => void = () => {};
  const resumedOnce = new Promise<void>((r) => (resumed = r));
  const evictions: EvictionReport[] = [];
  const log = new ReadingLog(path, {
    maxBytes: 64 * 1024 * 1024,
    flushMs: 10,
    flushRows: 1000,
    synchronous: 'full',
    retainAckedMs: 3_600_000,
    maxBufferedReadings: BUFFER,
    retryMinMs: 20,
    retryMaxMs: 200,
    onWarn: (m) => warnings.push(m),
    onInfo: (m) => {
      if (m.includes('writes resumed')) resumed();
    },
  });
  t.after(() => log.close());
  log.onEvict((e) => evictions.push(e));

  const appended: Reading[] = [];
  const add = (batch: Reading[]) => {
    appended.push(...batch);
    log.append(batch);
  };
  add(readings(1000, 'meter/a'));
  assert.equal(log.flush(), 0, 'flushRows reached: committed by append');
  assert.equal(log.lastSeq(), 1000);

  fs.fill();
  // A point the log has never seen arrives while the disk is full: its row is rolled back
  // with the transaction, and so must its cached id be. Every commit tried on the full disk
  // names it first (the disk may refuse the very first one), so the failing one inserts its row.
  let newPointCommitted = false;
  for (let i = 0; i < 40 && !log.writeState().failing; i++) {
    add([...readings(1, 'meter/new'), ...readings(999, 'meter/a')]);
    if (!log.writeState().failing) newPointCommitted = true;
  }
  assert.equal(newPointCommitted, false, 'the new point met the full disk in its first commit (the rollback is what this test is about)');
  const state = log.writeState();
  assert.equal(state.failing, true, 'the disk filled up');
  assert.equal(state.code, 'SQLITE_FULL');
  assert.match(warnings.find((w) => w.includes('writes failing')) ?? '', /disk full/);
  const committedBefore = log.lastSeq();
  assert.doesNotThrow(() => log.advance('uplink', 500), 'a cursor move from a PUBACK callback never throws');
  assert.equal(log.cursor('uplink'), 500, 'the position is kept in memory');

  // More than the buffer holds: the oldest pending readings are dropped and counted.
  for (let i = 0; i < 8; i++) add(readings(1000, 'meter/new'));
  assert.equal(log.stats().pending, BUFFER, 'the memory buffer holds its bound');
  const dropped = log.writeState().dropped;
  assert.ok(dropped > 0, 'overflow is counted');
  assert.equal(log.stats().write.failing, true);

  fs.free();
  await resumedOnce;
  assert.equal(log.writeState().failing, false);
  assert.equal(log.stats().pending, 0);

  // Every sequence is a stored reading or inside an evicted range, and the stored ones are
  // the appended readings in order, minus exactly the dropped (oldest pending) ones.
  const last = log.lastSeq();
  const rows = log.readAfter(0, 1_000_000);
  assert.equal(rows.length + log.evictedTotal(), last);
  assert.equal(log.evictedTotal(), dropped);
  assert.deepEqual(evictions.map((e) => ({ first: e.first, last: e.last, count: e.count })), [
    { first: committedBefore + 1, last: committedBefore + dropped, count: dropped },
  ]);
  const expected = [...appended.slice(0, committedBefore), ...appended.slice(committedBefore + dropped)];
  assert.equal(rows.length, expected.length);
  const differ = rows.filter((r, i) => r.point !== expected[i]!.point || r.value !== expected[i]!.value);
  assert.equal(differ.length, 0, `readings served under another point or value: ${JSON.stringify(differ.slice(0, 3))}`);
  assert.ok(rows.some((r) => r.point === 'meter/new'));

  log.close();
  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  assert.equal(db.prepare("SELECT seq FROM cursors WHERE name = 'uplink'").pluck().get(), 500, 'the cursor was saved once space returned');
  const orphans = db.prepare('SELECT count(*) FROM readings WHERE point NOT IN (SELECT id FROM points)').pluck().get();
  assert.equal(orphans, 0, 'no reading names a point id without a row');
  assert.equal(String(db.pragma('integrity_check', { simple: true })), 'ok');
  const reopened = new ReadingLog(path, { maxBytes: 64 * 1024 * 1024, flushMs: 10, flushRows: 1000, synchronous: 'full', retainAckedMs: 3_600_000 });
  t.after(() => reopened.close());
  assert.equal(reopened.readAfter(0, 1_000_000).length, expected.length, 'readable after a restart');
  assert.equal(reopened.evictedTotal(), dropped);
});

