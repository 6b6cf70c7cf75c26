/**
 * The size cap at any outage length: with the uplink down for millions of readings, the file
 * (database plus WAL, every table included) stays under the cap, contiguous evictions stay one
 * row, the warning is rate-limited with counts, and every sequence is held or evicted.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Reading } from '@kedge/cloud-sync/model.ts';
import Database from 'better-sqlite3';
import { ReadingLog } from './reading-log.ts';

const MAX_BYTES = 1024 * 1024; // the smallest cap the config allows
const TOTAL = 3_000_000;
const BATCH = 10_000;
const POINTS = 40;

function fileBytes(path: string): number {
  const size = (p: string) => {
    try {
      return statSync(p).size;
    } catch {
      return 0;
    }
  };
  return size(path) + size(`${path}-wal`);
}

test(`with the uplink down for ${TOTAL.toLocaleString('en')} readings the 1 MiB cap holds for the whole file`, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-cap-'));
  const path = join(dir, 'log.db');
  let monotonic = 0;
  const warnings: Array<{ msg: string; details: Record<string, unknown> }> = [];
  const log = new ReadingLog(path, {
    maxBytes: MAX_BYTES,
    flushMs: 1000,
    flushRows: BATCH,
    synchronous: 'normal',
    retainAckedMs: 3_600_000,
    monotonic: () => monotonic,
    onWarn: (msg, details) => warnings.push({ msg, details }),
  });
  t.after(() => {
    log.close();
    rmSync(dir, { recursive: true, force: true });
  });
  let reports = 0;
  log.onEvict(() => reports++);

  const batch: Reading[] = Array.from({ length: BATCH }, (_, i) => ({
    point: `dev/p${i % POINTS}`,
    ts: 1_700_000_000_000 + Math.floor(i / POINTS) * 1000,
    value: i * 1.5,
    quality: 'good' as const,
  }));
  let largest = 0;
  for (let n = 0; n < TOTAL; n += BATCH) {
    log.append(batch); // flushRows reached: committed and capped at once
    largest = Math.max(largest, fileBytes(path));
    assert.ok(largest <= MAX_BYTES, `after ${n + BATCH} readings the file takes ${largest} bytes, over the cap of ${MAX_BYTES}`);
    // Ten minutes of outage pass between batches for the warning's rate limit.
    monotonic += 10 * 60_000 / 30;
  }
  const s = log.stats();
  t.diagnostic(`largest file ${largest} bytes; ${s.rows} readings held, ${s.evictedTotal} evicted, ${reports} evictions, ${warnings.length} warnings`);
  assert.equal(s.lastSeq, TOTAL);
  assert.equal(s.rows + s.evictedTotal, TOTAL, 'every sequence is held or evicted');
  assert.equal(s.firstSeq, s.evictedTotal + 1, 'the oldest went first');
  // Commits of 10,000 readings are large against a 1 MiB cap: room for two of them is kept free.
  assert.ok(s.usedBytes >= MAX_BYTES / 4 * 0.9, `the cap still holds a useful backlog (${s.rows} readings in ${s.usedBytes} bytes)`);
  assert.equal(s.evictionRows, 1, 'contiguous evictions are one row');
  assert.deepEqual(log.evictions(10).map((e) => [e.first, e.last, e.count]), [[1, s.evictedTotal, s.evictedTotal]]);
  // One warning per minute of (injected) monotonic time, each summing what it stands for.
  const capWarnings = warnings.filter((w) => w.msg.includes('size cap'));
  assert.ok(capWarnings.length < reports / 5, `${capWarnings.length} warnings for ${reports} evictions`);
  const summed = capWarnings.reduce((n, w) => n + Number(w.details.count), 0);
  assert.ok(summed <= s.evictedTotal && summed > s.evictedTotal * 0.8, `warnings count ${summed} of ${s.evictedTotal} evicted`);
  assert.ok(capWarnings.some((w) => Number(w.details.evictions) > 1), 'a warning says how many evictions it summarises');
});

test('a log of an older version with one eviction row per commit has them merged at open, with the same total', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-cap-legacy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'log.db');
  const options = { maxBytes: MAX_BYTES, flushMs: 1000, flushRows: BATCH, synchronous: 'normal' as const, retainAckedMs: 3_600_000 };
  const first = new ReadingLog(path, options);
  first.close();
  // What the old code wrote during a long outage: a row per eviction, never deleted.
  const db = new Database(path);
  const add = db.prepare('INSERT INTO evictions (first, last, count, at) VALUES (?, ?, ?, ?)');
  db.transaction(() => {
    for (let i = 0; i < 50_000; i++) add.run(i * 100 + 1, i * 100 + 100, 100, 1_700_000_000_000 + i);
  })();
  db.prepare("INSERT INTO meta (key, value) VALUES ('evicted_total', 5000000) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run();
  db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('readings', 5000000)").run();
  db.close();

  const infos: string[] = [];
  const log = new ReadingLog(path, { ...options, onInfo: (m) => infos.push(m) });
  t.after(() => log.close());
  assert.equal(log.stats().evictionRows, 1);
  assert.deepEqual(log.evictions(5).map((e) => [e.first, e.last, e.count]), [[1, 5_000_000, 5_000_000]]);
  assert.equal(log.evictedTotal(), 5_000_000);
  assert.equal(log.lastSeq(), 5_000_000, 'sequences continue after the evicted ones');
  assert.ok(infos.some((m) => m.includes('merged 50000 eviction rows into 1')));
});
