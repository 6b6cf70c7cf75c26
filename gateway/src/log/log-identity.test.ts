/**
 * A log's identity (epoch) and what happens to a log file that is missing or broken: it is
 * never silently replaced or reused. The damaged file is moved aside under a timestamped
 * name, a new epoch starts, and one line says which file and what was done.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync, copyFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Reading } from '@kedge/cloud-sync/model.ts';
import { ReadingLog, type ReadingLogOptions } from './reading-log.ts';

function rig(t: test.TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-logid-'));
  const path = join(dir, 'log.db');
  const warnings: string[] = [];
  const infos: string[] = [];
  const options: ReadingLogOptions = {
    maxBytes: 64 * 1024 * 1024,
    flushMs: 20,
    flushRows: 1000,
    synchronous: 'normal',
    retainAckedMs: 3_600_000,
    // As the gateway tells its log (gateway.ts LOG_COUNTERS, from the sinks' definitions).
    counters: ['sparkplug-bdseq'],
    onWarn: (m) => warnings.push(m),
    onInfo: (m) => infos.push(m),
  };
  const opened: ReadingLog[] = [];
  const open = () => {
    const log = new ReadingLog(path, options);
    opened.push(log);
    return log;
  };
  t.after(() => {
    for (const log of opened) log.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const aside = () => readdirSync(dir).filter((f) => f.startsWith('log.db.damaged-') && !f.endsWith('-wal') && !f.endsWith('-shm'));
  return { dir, path, open, warnings, infos, aside };
}

function readings(n: number, point = 'meter/flow'): Reading[] {
  return Array.from({ length: n }, (_, i) => ({ point, ts: 1_700_000_000_000 + i, value: i, quality: 'good' as const }));
}

/** A log with 50 committed readings, closed cleanly; returns its epoch. */
function written(r: ReturnType<typeof rig>, n = 50): string {
  const log = r.open();
  log.append(readings(n));
  log.flush();
  const epoch = log.epoch();
  log.close();
  return epoch;
}

test('a new log gets a random epoch that stays the same across restarts', (t) => {
  const r = rig(t);
  const epoch = written(r);
  assert.match(epoch, /^[0-9a-f]{16}$/);
  const again = r.open();
  assert.equal(again.epoch(), epoch);
  assert.equal(again.identity.origin, 'opened');
  assert.equal(again.lastSeq(), 50);
  assert.deepEqual(r.warnings, []);
  assert.match(r.infos[0]!, /created, epoch/);
  const other = rig(t);
  assert.notEqual(written(other), epoch, 'two logs never share an epoch');
});

for (const [what, damage, reason] of [
  ['a zero-length file', (p: string) => writeFileSync(p, ''), /is empty \(zero length\)/],
  ['a garbage-filled file', (p: string) => writeFileSync(p, Buffer.alloc(64 * 1024, 0xa7)), /is not an SQLite database/],
  ['a file truncated to half', (p: string) => truncateSync(p, Math.floor(statSync(p).size / 2 / 4096) * 4096), /is truncated/],
  ['a file cut inside its header', (p: string) => truncateSync(p, 40), /is truncated: 40 bytes/],
] as const) {
  test(`${what} is moved aside, a new epoch starts at sequence 1, and one line says so`, (t) => {
    const r = rig(t);
    const before = written(r, 2000);
    const original = readFileSync(r.path);
    damage(r.path);
    const damagedBytes = readFileSync(r.path);
    const log = r.open();
    assert.equal(log.identity.origin, 'reset');
    assert.notEqual(log.epoch(), before);
    assert.equal(log.identity.previousEpoch, before);
    assert.equal(log.lastSeq(), 0, 'a new log');
    log.append(readings(3));
    log.flush();
    assert.deepEqual(log.readAfter(0, 10).map((x) => x.seq), [1, 2, 3]);
    const moved = r.aside();
    assert.equal(moved.length, 1, 'the damaged file is kept');
    assert.deepEqual(readFileSync(join(r.dir, moved[0]!)), damagedBytes, 'moved unchanged');
    assert.notDeepEqual(damagedBytes, original);
    assert.equal(r.warnings.length, 1);
    const line = r.warnings[0]!;
    assert.match(line, reason);
    assert.ok(line.includes(r.path) && line.includes(moved[0]!) && line.includes(log.epoch()), line);
    assert.doesNotMatch(line, /\n|    at /, 'one line, no stack trace');
  });
}

test('a log killed without closing whose WAL was deleted starts a new epoch instead of reusing sequences', (t) => {
  const r = rig(t);
  // A clean run first: its close left "closed" in the database file itself.
  written(r, 500);
  const crashed = r.open();
  crashed.append(readings(100));
  crashed.flush();
  assert.equal(crashed.lastSeq(), 600);
  const epoch = crashed.epoch();
  // A copy of the files of a process that died (the WAL holds the newest commits), minus its WAL.
  const copy = join(r.dir, 'copy');
  copyFileSync(r.path, `${copy}.db`);
  assert.ok(existsSync(`${r.path}-wal`));
  const other = rig(t);
  copyFileSync(`${copy}.db`, other.path);
  writeFileSync(`${other.path}.id`, readFileSync(`${r.path}.id`));
  const log = other.open();
  assert.equal(log.identity.origin, 'reset');
  assert.equal(log.identity.previousEpoch, epoch);
  assert.notEqual(log.epoch(), epoch);
  assert.match(other.warnings[0]!, /not closed cleanly and its write-ahead log \(-wal\) is gone/);
  assert.equal(other.aside().length, 1);
});

test('a log replaced after a lost WAL names what it could still read: epoch, last sequence, and the unconfirmed backlog', (t) => {
  const r = rig(t);
  // An outage: 500 readings committed, 200 of them confirmed by the center, closed cleanly
  // (so all of it is in the database file itself).
  const first = r.open();
  first.append(readings(500));
  first.flush();
  first.advance('uplink', 200);
  first.close();
  const crashed = r.open();
  const epoch = crashed.epoch();
  crashed.append(readings(100));
  crashed.flush();
  const copy = join(r.dir, 'copy.db');
  copyFileSync(r.path, copy);
  const other = rig(t);
  copyFileSync(copy, other.path);
  writeFileSync(`${other.path}.id`, readFileSync(`${r.path}.id`));
  const log = other.open();
  assert.equal(log.identity.origin, 'reset');
  // 501-600 lived only in the lost WAL; 201-500 are readable in the moved file but unsent.
  assert.deepEqual(log.identity.previous, { epoch, lastSeq: 500, confirmed: 200 });
  assert.match(other.warnings[0]!, /its readings 201-500 were never confirmed by the center and stay only in the moved file/);
});

test('the confirmed position of a replaced log is the lowest sink cursor, not the Sparkplug bdSeq counter kept beside them', (t) => {
  const r = rig(t);
  const first = r.open();
  first.append(readings(500));
  first.flush();
  first.advance('uplink', 200);
  // A bdSeq of 3 taken for a sequence would tell the center 4-200 were never confirmed.
  first.advance('sparkplug-bdseq', 3);
  first.close();
  const crashed = r.open();
  const epoch = crashed.epoch();
  crashed.append(readings(100));
  crashed.flush();
  const copy = join(r.dir, 'copy.db');
  copyFileSync(r.path, copy);
  const other = rig(t);
  copyFileSync(copy, other.path);
  writeFileSync(`${other.path}.id`, readFileSync(`${r.path}.id`));
  const log = other.open();
  assert.deepEqual(log.identity.previous, { epoch, lastSeq: 500, confirmed: 200 });
});

test('an SQLite file that is not a reading log (another schema) is moved aside, not written into', (t) => {
  const r = rig(t);
  const before = written(r);
  const other = new Database(r.path);
  other.exec('DROP TABLE readings; CREATE TABLE readings (id INTEGER PRIMARY KEY, payload TEXT)');
  other.close();
  const log = r.open();
  assert.equal(log.identity.origin, 'reset');
  assert.notEqual(log.epoch(), before);
  assert.match(r.warnings[0]!, /is not a kedge reading log \(table readings lacks seq, ts, point, value, flags\): moved it to /);
  assert.equal(r.aside().length, 1);
});

test('a log file that vanished is reported as missing, with the epoch it held', (t) => {
  const r = rig(t);
  const epoch = written(r);
  unlinkSync(r.path);
  const log = r.open();
  assert.equal(log.identity.origin, 'reset');
  assert.equal(log.identity.previousEpoch, epoch);
  assert.match(r.warnings[0]!, new RegExp(`is missing \\(it held epoch ${epoch}\\).*started a new log, epoch ${log.epoch()}`));
});

test('a log written by an older version (no epoch) keeps its sequences and the legacy epoch "" the center holds them under', (t) => {
  const r = rig(t);
  written(r, 10);
  const db = new Database(r.path);
  db.prepare("DELETE FROM meta WHERE key = 'epoch'").run();
  db.close();
  unlinkSync(`${r.path}.id`);
  const log = r.open();
  assert.equal(log.lastSeq(), 10);
  assert.equal(log.readAfter(0, 100).length, 10);
  // A new random epoch would make sequence 11 the first of an epoch whose 1..10 the center
  // never sees: it would confirm nothing, ever.
  assert.equal(log.epoch(), '');
  assert.deepEqual(r.warnings, []);
  assert.match(r.infos.at(-1)!, /had no epoch \(written by an older version\): it keeps the legacy epoch '' and continues at sequence 11/);
  log.append(readings(2));
  log.flush();
  log.close();
  const again = r.open();
  assert.equal(again.epoch(), '', 'and keeps it across restarts');
  assert.equal(again.lastSeq(), 12);
  assert.equal(again.identity.origin, 'opened');
  assert.deepEqual(r.warnings, [], 'not mistaken for a lost log');
});

test('a crash with its WAL in place is recovered in the same epoch, after a quick_check', (t) => {
  const r = rig(t);
  const first = r.open();
  first.append(readings(5));
  first.flush();
  // A second handle while the first is still open stands in for a process that died.
  const after = r.open();
  assert.equal(after.recoveredFromCrash, true);
  assert.equal(after.epoch(), first.epoch());
  assert.equal(after.lastSeq(), 5);
  assert.deepEqual(r.warnings, []);
});
