/**
 * latestAfter (live-first at every reconnect) answers from memory for the points being polled
 * and reads SQLite only for points of the file not written since it was opened, at most
 * latestScanRows rows per call: a point removed from the config never makes a reconnect walk
 * the backlog on the event loop. Bounds are proven by the rows the call read, not by timings.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogRecord, Reading } from '@kedge/cloud-sync/model.ts';
import { ReadingLog, type ReadingLogOptions } from './reading-log.ts';

const BACKLOG_POLLS = 10_000;
const SCAN_ROWS = 1_000;

function rig(t: test.TestContext, o: Partial<ReadingLogOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-latest-'));
  const opened: ReadingLog[] = [];
  const open = () => {
    const log = new ReadingLog(join(dir, 'log.db'), {
      maxBytes: 256 * 1024 * 1024,
      flushMs: 60_000,
      flushRows: 1_000_000,
      synchronous: 'normal',
      retainAckedMs: 3_600_000,
      latestScanRows: SCAN_ROWS,
      ...o,
    });
    opened.push(log);
    return log;
  };
  t.after(() => {
    for (const log of opened) log.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { open };
}

function poll(points: string[], n: number, ts = 1_700_000_000_000): Reading[] {
  return points.map((point, i) => ({ point, ts: ts + n, value: n * 10 + i, quality: 'good' as const }));
}

/** A point that reported once, was removed from the config, then BACKLOG_POLLS polls of two live points. */
function backlogWithRemovedPoint(log: ReadingLog): void {
  log.append(poll(['pump/removed'], 0));
  for (let n = 1; n <= BACKLOG_POLLS; n++) log.append(poll(['pump/a', 'pump/b'], n));
  log.flush();
}

/** What latestAfter must answer, from every stored row. */
function reference(log: ReadingLog, after: number): Array<[number, string, unknown]> {
  const newest = new Map<string, LogRecord>();
  for (const r of log.readStored(after, Number.MAX_SAFE_INTEGER)) newest.set(r.point, r);
  return [...newest.values()].sort((a, b) => a.seq - b.seq).map((r) => [r.seq, r.point, r.value]);
}

const brief = (rs: LogRecord[]) => rs.map((r): [number, string, unknown] => [r.seq, r.point, r.value]);

test('after a restart, a removed point does not make latestAfter read the backlog: the live points come within the row bound', (t) => {
  const r = rig(t);
  backlogWithRemovedPoint(r.open());
  const log = r.open();
  const rows = 1 + 2 * BACKLOG_POLLS;
  const got = log.latestAfter(0);
  assert.deepEqual(brief(got), [
    [rows - 1, 'pump/a', BACKLOG_POLLS * 10],
    [rows, 'pump/b', BACKLOG_POLLS * 10 + 1],
  ]);
  assert.equal(log.latestAfterRowsRead, SCAN_ROWS, 'stopped at the bound, not at the removed point');
  assert.ok(log.latestAfterRowsRead < rows / 10);
});

test('each later call walks on below where the previous one stopped, and none walks again once the file is covered', (t) => {
  const r = rig(t);
  backlogWithRemovedPoint(r.open());
  const log = r.open();
  const rows = 1 + 2 * BACKLOG_POLLS;
  let read = 0;
  let calls = 0;
  let got: LogRecord[] = [];
  do {
    got = log.latestAfter(0);
    assert.ok(log.latestAfterRowsRead <= SCAN_ROWS, `call ${calls} read ${log.latestAfterRowsRead} rows`);
    read += log.latestAfterRowsRead;
    calls++;
  } while (!got.some((x) => x.point === 'pump/removed') && calls <= rows);
  assert.equal(read, rows, 'every row read once over all calls, never twice');
  assert.deepEqual(brief(got), reference(log, 0), 'the removed point found in the end, with its real sequence');
  assert.deepEqual(brief(log.latestAfter(0)), reference(log, 0));
  assert.equal(log.latestAfterRowsRead, 0);
});

test('points written since the log was opened are answered from memory: no row read, even with a removed point far down', (t) => {
  const r = rig(t);
  const log = r.open();
  backlogWithRemovedPoint(log);
  for (const after of [0, 1, 5_000, 2 * BACKLOG_POLLS, 2 * BACKLOG_POLLS + 1]) {
    assert.deepEqual(brief(log.latestAfter(after)), reference(log, after), `after ${after}`);
    assert.equal(log.latestAfterRowsRead, 0);
  }
});

test('after a restart and one poll, the polled points come from memory and only the removed one is looked for, within the bound', (t) => {
  const r = rig(t);
  backlogWithRemovedPoint(r.open());
  const log = r.open();
  log.append(poll(['pump/a', 'pump/b'], BACKLOG_POLLS + 1));
  log.flush();
  const got = log.latestAfter(0);
  assert.deepEqual(
    brief(got).map(([, p, v]) => [p, v]),
    [
      ['pump/a', (BACKLOG_POLLS + 1) * 10],
      ['pump/b', (BACKLOG_POLLS + 1) * 10 + 1],
    ],
  );
  assert.equal(log.latestAfterRowsRead, SCAN_ROWS);
});

test('records pruned or renumbered are never answered from memory', (t) => {
  let now = 1_700_000_000_000;
  const r = rig(t, { retainAckedMs: 0, now: () => now });
  const log = r.open();
  log.append(poll(['pump/removed'], 0));
  for (let n = 1; n <= 10; n++) log.append(poll(['pump/a', 'pump/b'], n));
  log.flush();
  log.advance('uplink', 5);
  now += 60_000;
  log.maintain();
  assert.ok(log.firstSeq() > 1, 'the removed point\'s only row was pruned');
  assert.deepEqual(brief(log.latestAfter(0)), reference(log, 0));
  assert.ok(!log.latestAfter(0).some((x) => x.point === 'pump/removed'));
  log.startNewEpoch('test');
  assert.deepEqual(brief(log.latestAfter(0)), reference(log, 0), 'renumbered sequences, read afresh');
});
