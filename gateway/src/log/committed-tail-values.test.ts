/**
 * The committed tail and the newest-per-point table hold values as columns (row-columns.ts):
 * numbers in a typed array, everything else by reference. Whatever the kind of value (string,
 * boolean, bigint, null, NaN, -0) and however many points, what they answer from memory must be
 * what the file answers (issue 20 review, finding L5).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { LogRecord, Reading, Value } from '@kedge/cloud-sync/model.ts';
import { QUALITIES } from '@kedge/cloud-sync/model.ts';
import { runs } from '@kedge/testkit/fuzz.ts';
import { ReadingLog } from './reading-log.ts';

const MiB = 1024 * 1024;
const POINTS = ['pump/state', 'pump/name', 'meter/total', 'meter/flow', 'valve/open'];

const value: fc.Arbitrary<Value> = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom<Value>(Number.NaN, -0, Infinity, -Infinity, 2 ** 53),
  fc.boolean(),
  fc.string({ maxLength: 12 }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
  fc.constant(null),
);
const reading = fc.record({ point: fc.constantFrom(...POINTS), value, quality: fc.constantFrom(...QUALITIES) });

function assertSameAsFile(log: ReadingLog, what: string): void {
  const last = log.lastSeq();
  for (const after of [0, Math.max(0, log.firstSeq() - 1), Math.max(0, last - 3), Math.max(0, last - 40), last]) {
    for (const limit of [1, 7, 1000]) assert.deepEqual(log.readAfter(after, limit), log.readStored(after, limit), `${what}: readAfter(${after}, ${limit})`);
  }
  const newest = new Map<string, LogRecord>();
  for (const r of log.readStored(0, Number.MAX_SAFE_INTEGER)) newest.set(r.point, r);
  for (const after of [0, Math.max(0, last - 5)]) {
    const expected = [...newest.values()].filter((r) => r.seq > after).sort((a, b) => a.seq - b.seq);
    assert.deepEqual(log.latestAfter(after), expected, `${what}: latestAfter(${after})`);
  }
}

test('model: strings, booleans, bigints, null, NaN and -0 of several points read from memory exactly as from the file', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('commit' as const), rows: fc.array(reading, { maxLength: 40 }) }),
    fc.record({ kind: fc.constant('ack' as const), back: fc.integer({ min: 0, max: 60 }) }),
    fc.record({ kind: fc.constant('prune' as const) }),
    fc.record({ kind: fc.constant('reopen' as const) }),
  );
  fc.assert(
    fc.property(fc.array(op, { minLength: 1, maxLength: 15 }), fc.integer({ min: 0, max: 64 }), (ops, capacity) => {
      const dir = mkdtempSync(join(tmpdir(), 'kedge-tail-values-'));
      const open = () =>
        new ReadingLog(join(dir, 'log.db'), { maxBytes: 64 * MiB, flushMs: 60_000, flushRows: 1_000_000, synchronous: 'normal', retainAckedMs: 0, memoryTailRecords: capacity });
      let log = open();
      let ts = 1_700_000_000_000;
      try {
        for (const o of ops) {
          if (o.kind === 'commit') {
            log.append(o.rows.map((r): Reading => ({ ...r, ts: ts++ })));
            log.flush();
          } else if (o.kind === 'ack') log.advance('uplink', Math.max(0, log.lastSeq() - o.back));
          else if (o.kind === 'prune') log.maintain();
          else {
            log.close();
            log = open();
          }
          assertSameAsFile(log, JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)));
        }
      } finally {
        log.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: runs(30) },
  );
});
