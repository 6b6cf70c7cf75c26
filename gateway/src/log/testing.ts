import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type test from 'node:test';
import { ReadingLog, type ReadingLogOptions } from './reading-log.ts';

/**
 * A reading log in a temporary folder (named from `prefix`), closed and removed after the test;
 * flushed every 10 ms, so what a test appends reaches a sink at once. `o` overrides options.
 */
export function tempLog(t: test.TestContext, prefix = 'kedge-log-', o: Partial<ReadingLogOptions> = {}): ReadingLog {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const log = new ReadingLog(join(dir, 'log.db'), { maxBytes: 64 * 1024 * 1024, flushMs: 10, flushRows: 500, synchronous: 'normal', retainAckedMs: 3_600_000, ...o });
  t.after(() => {
    log.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return log;
}
