/**
 * What a commit does after SQLite said yes (issue 20 review, finding L2): the in-memory copies
 * (the committed tail, the newest row per point) are bookkeeping. Point ids of any size from a
 * file made elsewhere must index them correctly and cheaply, and a fault while filling them
 * must neither lose the committed rows nor leave them pending to be committed again under new
 * sequences.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { LogRecord, Reading } from '@kedge/cloud-sync/model.ts';
import { ReadingLog, type ReadingLogOptions } from './reading-log.ts';

function rig(t: test.TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-bookkeeping-'));
  const path = join(dir, 'log.db');
  const warnings: string[] = [];
  const opened: ReadingLog[] = [];
  const open = (o: Partial<ReadingLogOptions> = {}) => {
    const log = new ReadingLog(path, {
      maxBytes: 64 * 1024 * 1024,
      flushMs: 60_000,
      flushRows: 1_000_000,
      synchronous: 'normal',
      retainAckedMs: 3_600_000,
      onWarn: (m) => warnings.push(m),
      ...o,
    });
    opened.push(log);
    return log;
  };
  t.after(() => {
    for (const log of opened) log.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { path, open, warnings };
}

const poll = (points: string[], n: number): Reading[] =>
  points.map((point, i) => ({ point, ts: 1_700_000_000_000 + n, value: n * 10 + i, quality: 'good' as const }));
const brief = (rs: LogRecord[]) => rs.map((r): [number, string, unknown] => [r.seq, r.point, r.value]);

/** What latestAfter must answer, from every stored row. */
function newestStored(log: ReadingLog): Array<[number, string, unknown]> {
  const newest = new Map<string, LogRecord>();
  for (const r of log.readStored(0, Number.MAX_SAFE_INTEGER)) newest.set(r.point, r);
  return brief([...newest.values()].sort((a, b) => a.seq - b.seq));
}

test('a log file with huge, sparse point ids (past 2^31, near 2^42) opens and serves its newest values and new rows correctly', (t) => {
  const r = rig(t);
  const first = r.open();
  for (let n = 1; n <= 3; n++) first.append(poll(['p/a', 'p/b'], n));
  first.flush();
  first.close();
  // Made by hand, as another tool (or a file merged from elsewhere) might number its points.
  const HUGE_A = 2 ** 31 + 5; // truncated by an Int32Array to a negative id
  const HUGE_B = 3_000_000_000_000; // a table indexed by it would need terabytes
  const db = new Database(r.path);
  const ids = new Map((db.prepare('SELECT key, id FROM points').all() as Array<{ key: string; id: number }>).map((p) => [p.key, p.id]));
  db.transaction(() => {
    for (const [key, to] of [['p/a', HUGE_A], ['p/b', HUGE_B]] as const) {
      db.prepare('UPDATE points SET id = ? WHERE key = ?').run(to, key);
      db.prepare('UPDATE readings SET point = ? WHERE point = ?').run(to, ids.get(key));
    }
  })();
  db.close();

  const log = r.open();
  assert.deepEqual(brief(log.latestAfter(0)), [[5, 'p/a', 30], [6, 'p/b', 31]], 'from the file');
  log.append(poll(['p/a', 'p/b', 'p/c'], 4));
  assert.equal(log.flush(), 3);
  assert.deepEqual(brief(log.latestAfter(0)), [[7, 'p/a', 40], [8, 'p/b', 41], [9, 'p/c', 42]], 'from memory');
  assert.deepEqual(brief(log.latestAfter(0)), newestStored(log));
  assert.deepEqual(brief(log.readAfter(6, 10)), [[7, 'p/a', 40], [8, 'p/b', 41], [9, 'p/c', 42]]);
  assert.deepEqual(r.warnings, [], 'no fallback was needed: the sparse ids have their own slots');
  log.close();

  const check = new Database(r.path, { readonly: true });
  t.after(() => check.close());
  const points = check.prepare('SELECT r.seq AS seq, p.key AS key, r.point AS id FROM readings r JOIN points p ON p.id = r.point WHERE r.seq > 6 ORDER BY r.seq').all();
  assert.deepEqual(points, [
    { seq: 7, key: 'p/a', id: HUGE_A },
    { seq: 8, key: 'p/b', id: HUGE_B },
    { seq: 9, key: 'p/c', id: HUGE_B + 1 },
  ]);
});

test('a fault in the in-memory copy after a commit neither duplicates nor loses the committed rows', (t) => {
  for (const part of ['tail', 'newest'] as const) {
    const r = rig(t);
    const log = r.open();
    log.append(poll(['p/a', 'p/b'], 1));
    log.flush();
    assert.deepEqual(brief(log.latestAfter(0)), [[1, 'p/a', 10], [2, 'p/b', 11]]);
    // The allocation failure the review names (a column that cannot grow), once, mid-copy.
    const target = (log as unknown as Record<string, { add?: unknown; set?: unknown }>)[part]!;
    const method = part === 'tail' ? 'add' : 'set';
    const original = target[method] as (...a: unknown[]) => unknown;
    let calls = 0;
    target[method] = function (this: unknown, ...a: unknown[]) {
      if (++calls === 2) throw new RangeError('Array buffer allocation failed (injected)');
      return original.apply(this, a);
    };
    log.append(poll(['p/a', 'p/b', 'p/c'], 2));
    let committed: number | Error;
    try {
      committed = log.flush();
    } catch (err) {
      committed = err as Error;
    }
    target[method] = original;
    assert.equal(committed, 3, `${part}: the commit counts, the copy failing is not the readings failing`);
    assert.equal(log.flush(), 0, `${part}: nothing is left pending to commit again`);
    log.append(poll(['p/a'], 3));
    assert.equal(log.flush(), 1);

    const stored = brief(log.readStored(0, 100));
    assert.deepEqual(stored, [[1, 'p/a', 10], [2, 'p/b', 11], [3, 'p/a', 20], [4, 'p/b', 21], [5, 'p/c', 22], [6, 'p/a', 30]], `${part}: each reading once`);
    assert.deepEqual(brief(log.readAfter(0, 100)), stored, `${part}: readAfter answers what the file holds`);
    assert.deepEqual(brief(log.latestAfter(0)), newestStored(log), `${part}: the newest values are rebuilt from the file`);
    assert.ok(r.warnings.some((w) => w.includes('in-memory copy of a commit failed')), `${part}: said so: ${r.warnings.join('; ')}`);
  }
});
