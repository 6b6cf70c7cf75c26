import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Reading } from '@kedge/cloud-sync/model.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { ReadingLog, type ReadingLogOptions } from './reading-log.ts';

const MiB = 1024 * 1024;

function tempLog(t: test.TestContext, opts: Partial<ReadingLogOptions> = {}, dir = mkdtempSync(join(tmpdir(), 'kedge-log-'))) {
  const path = join(dir, 'log.db');
  const options: ReadingLogOptions = {
    maxBytes: 64 * MiB,
    flushMs: 20,
    flushRows: 1000,
    synchronous: 'normal',
    retainAckedMs: 3_600_000,
    ...opts,
  };
  const open = () => new ReadingLog(path, options);
  const log = open();
  t.after(() => {
    log.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { log, path, dir, open, options };
}

function readings(n: number, point = 'meter/flow', t0 = 1_700_000_000_000): Reading[] {
  return Array.from({ length: n }, (_, i) => ({ point, ts: t0 + i, value: i * 0.5, quality: 'good' as const }));
}

test('every committed reading gets the next sequence number, starting at 1, without holes', (t) => {
  const { log } = tempLog(t);
  log.append(readings(3));
  log.append(readings(2, 'meter/volume'));
  assert.equal(log.flush(), 5);
  const rows = log.readAfter(0, 100);
  assert.deepEqual(rows.map((r) => r.seq), [1, 2, 3, 4, 5]);
  assert.deepEqual(rows.map((r) => r.point), ['meter/flow', 'meter/flow', 'meter/flow', 'meter/volume', 'meter/volume']);
  assert.equal(log.lastSeq(), 5);
});

test('appends are batched: nothing is committed until the flush window or the row limit', async (t) => {
  const { log } = tempLog(t, { flushMs: 50, flushRows: 10 });
  let commits = 0;
  log.onAppend(() => commits++);
  log.append(readings(3));
  assert.equal(log.readAfter(0, 100).length, 0, 'not yet committed');
  assert.equal(log.stats().pending, 3);
  await waitFor(() => commits === 1, { what: 'the flush timer to commit' });
  assert.equal(log.readAfter(0, 100).length, 3, 'committed by the flush timer');
  log.append(readings(10));
  assert.equal(log.readAfter(0, 100).length, 13, 'committed at once when flushRows is reached');
  assert.equal(commits, 2);
});

test('values of every kind and bad-quality nulls come back as they went in', (t) => {
  const { log } = tempLog(t);
  const input: Reading[] = [
    { point: 'd/f', ts: 1, value: 12.375, quality: 'good' },
    { point: 'd/i', ts: 2, value: -7, quality: 'good' },
    { point: 'd/b', ts: 3, value: true, quality: 'good' },
    { point: 'd/b', ts: 4, value: false, quality: 'uncertain' },
    { point: 'd/s', ts: 5, value: '0042', quality: 'good' },
    { point: 'd/big', ts: 6, value: 18446744073709551615n, quality: 'good' },
    { point: 'd/f', ts: 7, value: null, quality: 'bad_no_response' },
  ];
  log.append(input);
  log.flush();
  const out = log.readAfter(0, 100).map(({ seq: _seq, ...r }) => r);
  assert.deepEqual(out, input);
});

test('sequence numbers continue after reopening and are never reused, even when every row was deleted', (t) => {
  const { log, open } = tempLog(t, { retainAckedMs: 0, now: () => 2_000_000_000_000 });
  log.append(readings(4));
  log.flush();
  log.advance('uplink', 4);
  log.maintain(); // acked and past retention: all four rows pruned
  assert.equal(log.stats().rows, 0);
  log.close();
  const again = open();
  t.after(() => again.close());
  again.append(readings(1));
  again.flush();
  assert.deepEqual(again.readAfter(0, 10).map((r) => r.seq), [5]);
});

test('the cursor only moves forward and survives a restart', (t) => {
  const { log, open } = tempLog(t);
  log.append(readings(10));
  log.flush();
  assert.equal(log.cursor('uplink'), 0);
  log.advance('uplink', 7);
  log.advance('uplink', 3);
  assert.equal(log.cursor('uplink'), 7);
  log.close();
  const again = open();
  t.after(() => again.close());
  assert.equal(again.cursor('uplink'), 7);
  assert.deepEqual(again.readAfter(7, 10).map((r) => r.seq), [8, 9, 10]);
});

test('over the size cap, acknowledged rows are dropped first and nothing is counted as lost', (t) => {
  const { log } = tempLog(t, { maxBytes: 1 * MiB, flushRows: 5000 });
  let evictions = 0;
  log.onEvict(() => evictions++);
  for (let i = 0; i < 40; i++) {
    log.append(readings(5000, `dev/p${i % 7}`));
    log.flush();
    log.advance('uplink', log.lastSeq());
  }
  const s = log.stats();
  assert.equal(s.evictedTotal, 0);
  assert.equal(evictions, 0);
  assert.ok(s.usedBytes <= 1 * MiB, `used ${s.usedBytes} bytes`);
  assert.equal(s.lastSeq, 200_000);
});

test('over the size cap with nothing acknowledged, the oldest readings are evicted, counted and reported', (t) => {
  const warnings: string[] = [];
  const { log, open } = tempLog(t, { maxBytes: 1 * MiB, flushRows: 5000, onWarn: (m) => warnings.push(m) });
  const reports: Array<{ first: number; last: number; count: number }> = [];
  log.onEvict((e) => reports.push(e));
  for (let i = 0; i < 40; i++) {
    log.append(readings(5000));
    log.flush();
  }
  const s = log.stats();
  assert.ok(s.evictedTotal > 0, 'something was evicted');
  assert.ok(s.usedBytes <= 1 * MiB, `used ${s.usedBytes} bytes`);
  // Everything is accounted for: evicted + still in the log = everything ever written.
  assert.equal(s.evictedTotal + s.rows, 200_000);
  assert.equal(s.firstSeq, s.evictedTotal + 1, 'the oldest went first');
  assert.equal(reports.reduce((n, r) => n + r.count, 0), s.evictedTotal);
  assert.equal(reports[0]?.first, 1);
  for (let i = 1; i < reports.length; i++) assert.equal(reports[i]!.first, reports[i - 1]!.last + 1, 'ranges are contiguous');
  assert.ok(warnings.length > 0 && warnings[0]!.includes('evicted'));
  assert.deepEqual(log.readAfter(0, 1).map((r) => r.seq), [s.firstSeq], 'the uplink resumes after the evicted range');
  log.close();
  const again = open();
  t.after(() => again.close());
  assert.equal(again.evictedTotal(), s.evictedTotal, 'the count is persistent');
  assert.ok(reports.length > 1, 'several evictions happened');
  assert.deepEqual(
    again.evictions(1000).map((e) => ({ first: e.first, last: e.last, count: e.count })),
    [{ first: 1, last: s.evictedTotal, count: s.evictedTotal }],
    'contiguous evictions are one range row',
  );
  assert.equal(warnings.filter((w) => w.includes('evicted')).length, 1, 'the warning is rate-limited (one per minute)');
});

test('acknowledged readings are kept for the retention period, then pruned; unacknowledged ones never are', (t) => {
  let now = 1_700_000_000_000;
  const { log } = tempLog(t, { retainAckedMs: 60_000, now: () => now });
  log.append(readings(10, 'd/p', now));
  log.flush();
  log.advance('uplink', 6);
  log.maintain();
  assert.equal(log.stats().rows, 10, 'inside retention');
  now += 61_000;
  log.maintain();
  assert.deepEqual(log.readAfter(0, 100).map((r) => r.seq), [7, 8, 9, 10]);
  assert.equal(log.evictedTotal(), 0);
});

test('a log that was not closed is detected on the next open and checked', (t) => {
  const { log, open } = tempLog(t);
  log.append(readings(3));
  log.flush();
  // A second handle while the first is still open stands in for a process that died.
  const after = open();
  t.after(() => after.close());
  assert.equal(after.recoveredFromCrash, true);
  assert.equal(after.lastSeq(), 3);
  assert.equal(log.recoveredFromCrash, false);
});

test('stats report the depth and age of what is unsent', (t) => {
  const { log } = tempLog(t);
  log.append(readings(10, 'd/p', 1_000));
  log.flush();
  log.advance('uplink', 4);
  const s = log.stats();
  assert.equal(s.unacked, 6);
  assert.equal(s.ackedSeq, 4);
  assert.equal(s.oldestUnackedTs, 1_004);
  assert.ok(s.fileBytes >= s.usedBytes);
});

test('readings are never accepted after close', (t) => {
  const { log } = tempLog(t);
  log.close();
  assert.throws(() => log.append(readings(1)), /closed/);
});
