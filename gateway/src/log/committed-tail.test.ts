/**
 * readAfter serves fresh readings from memory (the tail of the last commits) and the backlog
 * from SQLite. Whatever the mix of appends, failed commits, prunes, cap evictions and epoch
 * renumbering, it must answer exactly what the file holds: never a reading that is not
 * committed, never one the file no longer has, never one missing.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import type { LogRecord, Reading } from '@kedge/cloud-sync/model.ts';
import { CommittedTail } from './committed-tail.ts';
import { ReadingLog, type ReadingLogOptions } from './reading-log.ts';

const MiB = 1024 * 1024;

function tempLog(t: test.TestContext, opts: Partial<ReadingLogOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-tail-'));
  const path = join(dir, 'log.db');
  const log = new ReadingLog(path, { maxBytes: 64 * MiB, flushMs: 60_000, flushRows: 1_000_000, synchronous: 'normal', retainAckedMs: 0, ...opts });
  t.after(() => {
    log.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { log, path };
}

let n = 0;
function readings(count: number, point = 'meter/flow'): Reading[] {
  return Array.from({ length: count }, () => {
    n++;
    return { point, ts: 1_700_000_000_000 + n, value: n % 7 === 0 ? Number.NaN : n * 0.5, quality: 'good' as const };
  });
}

/** What readAfter answers must be what SQLite holds, for every position a reader might be at. */
function assertSameAsFile(log: ReadingLog, what: string): void {
  const last = log.lastSeq();
  for (const after of [0, Math.max(0, log.firstSeq() - 1), Math.max(0, last - 3), Math.max(0, last - 40), last]) {
    for (const limit of [1, 7, 1000]) {
      assert.deepEqual(log.readAfter(after, limit), log.readStored(after, limit), `${what}: readAfter(${after}, ${limit})`);
    }
  }
}

const rec = (seq: number): LogRecord => ({ seq, ts: seq, point: 'p', value: seq, quality: 'good' });

test('the tail answers for what it holds and sends older positions to SQLite', () => {
  const tail = new CommittedTail(4, 1);
  assert.deepEqual(tail.read(0, 10), [], 'an empty log has nothing after 0');
  tail.push([rec(1), rec(2), rec(3)]);
  assert.deepEqual(tail.read(1, 10)!.map((r) => r.seq), [2, 3]);
  tail.push([rec(4), rec(5), rec(6)]);
  assert.equal(tail.size(), 4);
  assert.equal(tail.read(1, 10), null, 'sequence 2 left the tail: SQLite must answer');
  assert.deepEqual(tail.read(2, 2)!.map((r) => r.seq), [3, 4]);
  tail.dropBelow(5);
  assert.deepEqual(tail.read(2, 10)!.map((r) => r.seq), [5, 6], 'rows deleted from the file are not handed out');
  tail.reset(100);
  assert.equal(tail.read(6, 10), null);
  assert.deepEqual(tail.read(99, 10), []);
});

test('a capacity of 0 keeps nothing and always sends readers to SQLite for committed rows', () => {
  const tail = new CommittedTail(0, 1);
  tail.push([rec(1), rec(2)]);
  assert.equal(tail.size(), 0);
  assert.equal(tail.read(0, 10), null);
  assert.deepEqual(tail.read(2, 10), []);
});

test('a capacity that is not an integer >= 0 is refused at construction, naming memoryTailRecords (NaN used to hang the first push)', () => {
  for (const bad of [Number.NaN, Infinity, -1, 2.5]) {
    assert.throws(() => new CommittedTail(bad, 1), (e: Error) => e instanceof RangeError && /memoryTailRecords\) must be an integer >= 0/.test(e.message));
  }
});

test('pending readings are not handed out; committed ones come from memory, identical to the file', (t) => {
  const { log } = tempLog(t);
  log.append(readings(5));
  assert.deepEqual(log.readAfter(0, 100), [], 'nothing committed yet');
  log.flush();
  assert.equal(log.readAfter(0, 100).length, 5);
  assertSameAsFile(log, 'after one commit');
  assert.deepEqual(
    log.readAfter(0, 100).filter((r) => r.value === null).map((r) => r.seq),
    log.readStored(0, 100).filter((r) => r.value === null).map((r) => r.seq),
    'NaN is stored as NULL and read back as null from memory too',
  );
});

test('a commit that fails is rolled back and never reaches the tail; the retry commits each reading once', async (t) => {
  const { log, path } = tempLog(t, { retryMinMs: 10, retryMaxMs: 20 });
  log.append(readings(3));
  log.flush();
  const other = new Database(path);
  t.after(() => other.close());
  // The fault: the file refuses the second reading of the next commit (after the first was written).
  other.exec("CREATE TRIGGER refuse BEFORE INSERT ON readings WHEN NEW.seq = 5 BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END");
  log.append(readings(4, 'meter/volume'));
  assert.equal(log.flush(), 0, 'the commit failed');
  assert.equal(log.writeState().failing, true);
  assert.deepEqual(log.readAfter(3, 100), [], 'not a single reading of the rolled back commit is handed out');
  assert.deepEqual(log.readAfter(0, 100).map((r) => r.seq), [1, 2, 3]);
  other.exec('DROP TRIGGER refuse');
  const seqs = await new Promise<number[]>((resolve) => {
    const off = log.onAppend(() => {
      off();
      resolve(log.readAfter(0, 100).map((r) => r.seq));
    });
  });
  assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6, 7]);
  assertSameAsFile(log, 'after the retry');
});

test('cap evictions and prunes remove rows from memory too: evicted readings are never sent as data', (t) => {
  const { log } = tempLog(t, { maxBytes: 1 * MiB, memoryTailRecords: 1_000_000 });
  const evicted: Array<{ first: number; last: number }> = [];
  log.onEvict((e) => evicted.push(e));
  for (let i = 0; i < 60 && evicted.length === 0; i++) {
    log.append(readings(2000));
    log.flush();
  }
  assert.ok(evicted.length > 0, 'the cap evicted');
  const first = log.firstSeq();
  assert.ok(first > evicted[0]!.last);
  assert.equal(log.readAfter(0, 10)[0]!.seq, first, 'the first reading handed out is the first the file holds');
  assertSameAsFile(log, 'after eviction');
  log.advance('uplink', log.lastSeq() - 100);
  log.maintain();
  assertSameAsFile(log, 'after a prune');
});

test('a renumbered epoch is read from its new numbers, never from the tail of the old ones', (t) => {
  const { log } = tempLog(t);
  log.append(readings(10));
  log.flush();
  log.advance('uplink', 4);
  log.startNewEpoch('test: the center holds more');
  assert.deepEqual(log.readAfter(0, 100).map((r) => r.seq), [1, 2, 3, 4, 5, 6]);
  assertSameAsFile(log, 'after the new epoch');
  log.append(readings(2));
  log.flush();
  assertSameAsFile(log, 'after a commit in the new epoch');
});

test('model: any mix of commits, acknowledgements, prunes and a small tail reads exactly what the file holds', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('commit' as const), count: fc.integer({ min: 0, max: 300 }) }),
    fc.record({ kind: fc.constant('ack' as const), back: fc.integer({ min: 0, max: 400 }) }),
    fc.record({ kind: fc.constant('prune' as const) }),
  );
  fc.assert(
    fc.property(fc.array(op, { minLength: 1, maxLength: 25 }), fc.integer({ min: 0, max: 500 }), (ops, capacity) => {
      const dir = mkdtempSync(join(tmpdir(), 'kedge-tail-model-'));
      const log = new ReadingLog(join(dir, 'log.db'), { maxBytes: 64 * MiB, flushMs: 60_000, flushRows: 1_000_000, synchronous: 'normal', retainAckedMs: 0, memoryTailRecords: capacity });
      try {
        for (const o of ops) {
          if (o.kind === 'commit') {
            log.append(readings(o.count));
            log.flush();
          } else if (o.kind === 'ack') log.advance('uplink', Math.max(0, log.lastSeq() - o.back));
          else log.maintain();
          assertSameAsFile(log, JSON.stringify(o));
        }
      } finally {
        log.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: 40 },
  );
});

test('fresh readings are served from memory and the backlog from SQLite', (t) => {
  const { log } = tempLog(t, { memoryTailRecords: 10 });
  log.append(readings(30));
  log.flush();
  const stored = t.mock.method(log, 'readStored');
  const fresh = log.readAfter(25, 100);
  assert.deepEqual(fresh.map((r) => r.seq), [26, 27, 28, 29, 30]);
  assert.equal(stored.mock.callCount(), 0, 'fresh rows were read from SQLite');
  const want = fresh[0]!.value;
  fresh[0]!.value = -1;
  assert.equal(log.readAfter(25, 1)[0]!.value, want, 'a caller changing a record it was given changed what the tail holds');
  const backlog = log.readAfter(5, 3);
  assert.deepEqual(backlog.map((r) => r.seq), [6, 7, 8]);
  assert.equal(stored.mock.callCount(), 1, 'rows behind the tail come from the file');
});
