import test from 'node:test';
import assert from 'node:assert/strict';
import type { Reading } from '@kedge/cloud-sync/model.ts';
import { ReadingLog } from './reading-log.ts';

const MiB = 1024 * 1024;

function readings(n: number): Reading[] {
  return Array.from({ length: n }, (_, i) => ({ point: 'meter/flow', ts: 1_700_000_000_000 + i, value: i, quality: 'good' as const }));
}

test('an append listener that throws neither throws out of the commit nor keeps the other listeners from hearing of it; it is said and counted', (t) => {
  const warnings: string[] = [];
  const log = new ReadingLog(':memory:', {
    maxBytes: 64 * MiB,
    flushMs: 60_000,
    flushRows: 1000,
    synchronous: 'normal',
    retainAckedMs: 3_600_000,
    onWarn: (msg) => warnings.push(msg),
  });
  t.after(() => log.close());
  const heard: string[] = [];
  log.onAppend(() => {
    heard.push('first');
    throw new Error('sink bug');
  });
  log.onAppend(() => heard.push('second'));
  log.append(readings(3));
  let committed = 0;
  assert.doesNotThrow(() => (committed = log.flush()), 'the readings are committed: the commit must not throw');
  assert.equal(committed, 3);
  assert.equal(log.lastSeq(), 3);
  assert.deepEqual(heard, ['first', 'second'], 'the listener after the failing one still runs');
  assert.equal(log.listenerFailures(), 1);
  assert.ok(warnings.some((w) => w.includes('an append listener failed')), `said: ${warnings.join(' | ')}`);
  assert.deepEqual(log.readAfter(0, 10).map((r) => r.seq), [1, 2, 3], 'and they are in the log');
});
