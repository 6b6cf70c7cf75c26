/**
 * The LogSource contract as a suite every implementation runs (as aedes-persistence's abstract
 * suite is run by every backend): memory-log.test.ts runs it on MemoryLog, the gateway's
 * log/reading-log.contract.test.ts on the SQLite ReadingLog. A sink written and tested against
 * MemoryLog may rely on exactly what this suite checks, and on nothing else of either log.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import type { Reading } from '../model.ts';
import type { LogSource } from './log-source.ts';

export interface LogUnderTest {
  log: LogSource;
  /** Logs `readings` and commits them: on return readAfter sees them and onAppend listeners ran. */
  write(readings: readonly Reading[]): void;
}

const CURSOR = 'uplink';

const reading = (point: string, value: Reading['value'], ts = 1_700_000_000_000, quality: Reading['quality'] = 'good'): Reading => ({ point, ts, value, quality });

/** One reading of every kind of value a log must hand back unchanged. */
const EVERY_KIND: Reading[] = [
  reading('water/flow', 12.5),
  reading('water/temp', -3.25, 1_700_000_000_001),
  reading('heat/energy', 2n ** 60n + 7n, 1_700_000_000_002),
  reading('river/door', true, 1_700_000_000_003),
  reading('river/door', false, 1_700_000_000_004),
  reading('meter/serial', 'SDM630-0042', 1_700_000_000_005),
  reading('river/level', null, 1_700_000_000_006, 'bad_no_response'),
  reading('water/flow', 0, 1_700_000_000_007, 'uncertain_clock'),
];

const series = (n: number, point = 'water/flow'): Reading[] => Array.from({ length: n }, (_, i) => reading(point, i, 1_700_000_000_000 + i));

export function logSourceContract(name: string, make: (t: test.TestContext) => LogUnderTest): void {
  test(`${name} (LogSource contract): an empty log has nothing to read, sequence 0 and cursors at 0`, (t) => {
    const { log } = make(t);
    assert.equal(log.lastSeq(), 0);
    assert.deepEqual(log.readAfter(0, 100), []);
    assert.equal(log.cursor(CURSOR), 0);
    assert.equal(log.cursor('never-used'), 0);
    if (log.firstSeq) assert.equal(log.firstSeq(), 0);
    if (log.evictedRanges) assert.deepEqual(log.evictedRanges(), []);
    if (log.latestAfter) assert.deepEqual(log.latestAfter(0), []);
  });

  test(`${name} (LogSource contract): readings get sequences 1, 2, 3... and read back unchanged, every kind of value`, (t) => {
    const { log, write } = make(t);
    write(EVERY_KIND);
    const back = log.readAfter(0, 100);
    assert.deepEqual(back, EVERY_KIND.map((r, i) => ({ ...r, seq: i + 1 })));
    assert.equal(typeof back[2]!.value, 'bigint', 'a 64-bit integer beyond 2^53 stays a bigint');
    assert.equal(log.lastSeq(), EVERY_KIND.length);
    if (log.firstSeq) assert.equal(log.firstSeq(), 1);
    write([reading('water/flow', 13)]);
    assert.deepEqual(log.readAfter(EVERY_KIND.length, 100).map((r) => r.seq), [EVERY_KIND.length + 1], 'sequences continue across commits');
  });

  test(`${name} (LogSource contract): readAfter returns at most limit records after the given sequence, in order`, (t) => {
    const { log, write } = make(t);
    write(series(10));
    assert.deepEqual(log.readAfter(0, 3).map((r) => r.seq), [1, 2, 3]);
    assert.deepEqual(log.readAfter(3, 4).map((r) => r.seq), [4, 5, 6, 7]);
    assert.deepEqual(log.readAfter(8, 100).map((r) => r.seq), [9, 10]);
    assert.deepEqual(log.readAfter(10, 100), []);
    assert.deepEqual(log.readAfter(99, 100), []);
    assert.deepEqual(log.readAfter(5, 1).map((r) => r.value), [5], 'the record is the one logged under that sequence');
  });

  test(`${name} (LogSource contract): a cursor only moves forward, and each name has its own`, (t) => {
    const { log, write } = make(t);
    write(series(5));
    log.advance(CURSOR, 3);
    assert.equal(log.cursor(CURSOR), 3);
    log.advance(CURSOR, 2);
    assert.equal(log.cursor(CURSOR), 3, 'a position behind the stored one is ignored');
    log.advance(CURSOR, 3);
    assert.equal(log.cursor(CURSOR), 3);
    log.advance('second-sink', 1);
    assert.equal(log.cursor('second-sink'), 1);
    assert.equal(log.cursor(CURSOR), 3, 'another name does not move it');
    log.advance(CURSOR, 5);
    assert.equal(log.cursor(CURSOR), 5);
  });

  test(`${name} (LogSource contract): onAppend runs after each commit that added records, with them readable, until unsubscribed`, (t) => {
    const { log, write } = make(t);
    const seen: number[][] = [];
    const off = log.onAppend(() => seen.push(log.readAfter(0, 100).map((r) => r.seq)));
    write(series(2));
    assert.deepEqual(seen.at(-1), [1, 2], 'the listener reads what was just committed');
    write(series(1));
    assert.deepEqual(seen.at(-1), [1, 2, 3]);
    const calls = seen.length;
    assert.ok(calls >= 2);
    off();
    write(series(1));
    assert.equal(seen.length, calls, 'no call after unsubscribing');
  });

  test(`${name} (LogSource contract): the epoch is a stable non-empty identity`, (t) => {
    const { log, write } = make(t);
    if (!log.epoch) return t.skip('no epoch()');
    const epoch = log.epoch();
    assert.equal(typeof epoch, 'string');
    assert.ok(epoch.length > 0);
    write(series(3));
    log.advance(CURSOR, 2);
    assert.equal(log.epoch(), epoch, 'writing and confirming do not change it');
  });

  test(`${name} (LogSource contract): a new epoch renumbers what was not confirmed from 1 and restarts the cursor`, (t) => {
    const { log, write } = make(t);
    if (!log.startNewEpoch || !log.epoch) return t.skip('no startNewEpoch()');
    write(series(5));
    log.advance(CURSOR, 2);
    const before = log.epoch();
    const epoch = log.startNewEpoch('contract test');
    assert.notEqual(epoch, before);
    assert.equal(log.epoch(), epoch);
    assert.equal(log.cursor(CURSOR), 0);
    assert.equal(log.lastSeq(), 3);
    assert.deepEqual(log.readAfter(0, 100).map((r) => [r.seq, r.value]), [[1, 2], [2, 3], [3, 4]], 'readings 3..5 are now 1..3, the confirmed ones are gone');
    write(series(1, 'water/next'));
    assert.deepEqual(log.readAfter(3, 100).map((r) => [r.seq, r.point]), [[4, 'water/next']]);
  });

  test(`${name} (LogSource contract): latestAfter gives the newest record of each point after a sequence, ascending`, (t) => {
    const { log, write } = make(t);
    if (!log.latestAfter) return t.skip('no latestAfter()');
    write([reading('a', 1), reading('b', 1), reading('a', 2), reading('c', 1), reading('b', 2), reading('a', 3)]);
    assert.deepEqual(log.latestAfter(0).map((r) => [r.seq, r.point, r.value]), [[4, 'c', 1], [5, 'b', 2], [6, 'a', 3]]);
    assert.deepEqual(log.latestAfter(4).map((r) => [r.seq, r.point]), [[5, 'b'], [6, 'a']], 'points with nothing after the sequence are left out');
    assert.deepEqual(log.latestAfter(6), []);
  });
}
