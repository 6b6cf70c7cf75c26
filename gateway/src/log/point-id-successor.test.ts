/**
 * A commit guesses each row's point id from the point that followed the previous row's point
 * in earlier commits (a device's poll comes in the same order every time), and takes the guess
 * only when the id is the row's key's. Whatever the order from commit to commit, after commits
 * that failed mid-INSERT or on a new point's insert (rolling back the ids they created, which
 * later points may then get), and across reopens, every row must name its own point.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import type { Reading } from '@kedge/cloud-sync/model.ts';
import { runs } from '@kedge/testkit/fuzz.ts';
import { ReadingLog } from './reading-log.ts';

const MiB = 1024 * 1024;

function tempDir(t: test.TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-successor-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const open = (path: string, retry = 60_000) =>
  new ReadingLog(path, { maxBytes: 64 * MiB, flushMs: 60_000, flushRows: 1_000_000, synchronous: 'normal', retainAckedMs: 3_600_000, retryMinMs: retry, retryMaxMs: retry });

let n = 0;
const reading = (point: string): Reading => ({ point, ts: 1_700_000_000_000 + n, value: n++, quality: 'good' });

function orphans(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM readings WHERE point NOT IN (SELECT id FROM points)').pluck().get() as number;
  } finally {
    db.close();
  }
}

test('a point created in a commit that rolled back gets its row when the commit is retried, not a remembered id', (t) => {
  const path = join(tempDir(t), 'log.db');
  const log = open(path);
  t.after(() => log.close());
  const appended: Reading[] = [];
  const add = (points: string[]) => {
    const batch = points.map(reading);
    appended.push(...batch);
    log.append(batch);
  };
  add(['dev/a', 'dev/b', 'dev/c']);
  assert.equal(log.flush(), 3);
  const other = new Database(path);
  t.after(() => other.close());
  // dev/new follows dev/a (so its fresh id is remembered as dev/a's successor), then the commit fails.
  other.exec("CREATE TRIGGER refuse BEFORE INSERT ON readings WHEN NEW.seq = 7 BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END");
  add(['dev/a', 'dev/new', 'dev/b', 'dev/c']);
  assert.equal(log.flush(), 0, 'the commit failed');
  other.exec('DROP TRIGGER refuse');
  // Another new point first: it may take the id the rolled-back one had.
  add(['dev/other', 'dev/a', 'dev/new', 'dev/c']);
  assert.equal(log.flush(), 8, 'the retry commits both polls');
  assert.deepEqual(
    log.readStored(0, 100).map((r) => [r.point, r.value]),
    appended.map((r) => [r.point, r.value]),
  );
  log.close();
  assert.equal(orphans(path), 0, 'no row names a point id without a points row');
  const reopened = open(path);
  t.after(() => reopened.close());
  assert.deepEqual(
    reopened.readAfter(0, 100).map((r) => r.point),
    appended.map((r) => r.point),
  );
});

type Step =
  | { t: 'commit'; points: string[] }
  | { t: 'failRow'; points: string[]; at: number }
  | { t: 'failPoint'; points: string[] }
  | { t: 'reopen' };

const key = fc.constantFrom('a/1', 'a/2', 'a/3', 'b/1', 'b/2', 'b/3', 'c', 'd/x', 'd/x/y', 'e/1');
// Up to 130 rows: two chunked INSERTs and single-row ones after them, so a failure lands in either.
const poll = fc.array(key, { minLength: 1, maxLength: 130 });
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('commit' as const), points: poll }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('failRow' as const), points: poll, at: fc.nat({ max: 129 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('failPoint' as const), points: poll }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('reopen' as const) }) },
);

test('property: commits in any order, failed ones and reopens between them, store every row under its own point', (t) => {
  const dir = tempDir(t);
  let run = 0;
  let failed = 0;
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 12 }), (steps) => {
      const path = join(dir, `log-${run++}.db`);
      let log = open(path);
      // A second connection to the same file, for the triggers that make a commit fail.
      const other = new Database(path);
      const keyOf = new Map<number, string>();
      const appended: number[] = [];
      let fresh = 0;
      const add = (points: string[]) => {
        const batch = points.map(reading);
        for (const r of batch) {
          keyOf.set(r.value as number, r.point);
          appended.push(r.value as number);
        }
        log.append(batch);
      };
      const check = (l: ReadingLog, label: string) => {
        for (const r of l.readStored(0, 1_000_000)) {
          assert.equal(r.point, keyOf.get(r.value as number), `${label}: row ${r.seq} (value ${String(r.value)}) is stored under another point`);
        }
        const orphaned = other.prepare('SELECT count(*) FROM readings WHERE point NOT IN (SELECT id FROM points)').pluck().get();
        assert.equal(orphaned, 0, `${label}: a row names a point id without a points row`);
      };
      try {
        for (const [i, s] of steps.entries()) {
          switch (s.t) {
            case 'commit':
              add(s.points);
              log.flush();
              break;
            case 'failRow': {
              add(s.points);
              // From a row of this poll on (earlier polls that failed are still pending before it).
              const from = log.lastSeq() + 1 + Math.min(s.at, s.points.length - 1);
              other.exec(`CREATE TRIGGER refuse BEFORE INSERT ON readings WHEN NEW.seq >= ${from} BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`);
              try {
                assert.equal(log.flush(), 0, 'the commit failed');
                failed++;
              } finally {
                other.exec('DROP TRIGGER refuse');
              }
              break;
            }
            case 'failPoint': {
              // A point never seen, amid the poll and followed by another new one: its insert into points fails.
              const refused = `new-${fresh++}/p`;
              const points = [...s.points];
              points.splice(points.length >> 1, 0, refused, `new-${fresh++}/q`);
              add(points);
              other.exec(`CREATE TRIGGER refuse BEFORE INSERT ON points WHEN NEW.key = '${refused}' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`);
              try {
                assert.equal(log.flush(), 0, 'the commit failed');
                failed++;
              } finally {
                other.exec('DROP TRIGGER refuse');
              }
              break;
            }
            case 'reopen':
              log.close();
              log = open(path);
              break;
          }
          check(log, `step ${i} ${s.t}`);
        }
        log.flush();
        assert.deepEqual(
          log.readStored(0, 1_000_000).map((r) => r.value),
          appended,
          'every reading committed once the failures stop, in order',
        );
        log.close();
        const reopened = open(path);
        try {
          check(reopened, 'reopened');
          assert.equal(reopened.readStored(0, 1_000_000).length, appended.length);
        } finally {
          reopened.close();
        }
      } finally {
        log.close();
        other.close();
      }
    }),
    { numRuns: runs(30) },
  );
  assert.ok(failed > 0, 'some commits were made to fail');
});
