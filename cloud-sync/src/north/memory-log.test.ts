import assert from 'node:assert/strict';
import test from 'node:test';
import { logSourceContract } from './log-source-contract.ts';
import { MemoryLog } from './memory-log.ts';

logSourceContract('MemoryLog', (t) => {
  const log = new MemoryLog();
  t.after(() => log.close());
  return { log, write: (readings) => log.append(readings) };
});

const r = (value: number) => ({ point: 'water/flow', ts: 1_700_000_000_000, value, quality: 'good' as const });

test('MemoryLog: an eviction drops the range, is remembered merged with its neighbours, and moves firstSeq', () => {
  const log = new MemoryLog();
  log.append([1, 2, 3, 4, 5, 6].map(r));
  log.evict(1, 2);
  log.evict(3, 3);
  assert.deepEqual(log.evictedRanges(), [{ first: 1, last: 3 }]);
  assert.equal(log.firstSeq(), 4);
  assert.deepEqual(log.readAfter(0, 10).map((x) => x.seq), [4, 5, 6]);
  assert.equal(log.lastSeq(), 6, 'eviction never reuses a sequence');
  assert.throws(() => log.evict(5, 4), /empty range/);
});

test('MemoryLog: prune drops what every cursor passed, the default cursor included', () => {
  const log = new MemoryLog();
  log.append([1, 2, 3, 4].map(r));
  log.advance('second', 3);
  log.prune();
  assert.equal(log.firstSeq(), 1, 'the default cursor is still at 0');
  log.advance('uplink', 2);
  log.prune();
  assert.deepEqual(log.readAfter(0, 10).map((x) => x.seq), [3, 4]);
});

test('MemoryLog: NaN is logged as null and -0 as 0, as the SQLite log stores them; append after close is refused', () => {
  const log = new MemoryLog();
  log.append([r(Number.NaN), r(-0)]);
  assert.deepEqual(log.readAfter(0, 10).map((x) => x.value), [null, 0]);
  assert.ok(Object.is(log.readAfter(1, 1)[0]!.value, 0));
  log.close();
  assert.throws(() => log.append([r(1)]), /append after close/);
});

test('MemoryLog: a new epoch records the one it replaced and why', () => {
  const log = new MemoryLog({ epoch: 'e1' });
  const next = log.startNewEpoch('the center holds more than this log wrote');
  assert.deepEqual(log.identity, { epoch: next, previousEpoch: 'e1', reason: 'the center holds more than this log wrote' });
});
