/**
 * One poll cycle of a large box (100 devices x 100 registers) commits ten times in one turn of
 * the event loop. A sink that keeps up sends each full batch at its commit, so it reads every
 * reading from the log's memory tail, never back from SQLite (issue 19: reading them back was
 * half of the north path's CPU at 40,000 readings/s).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@kedge/testkit/wait.ts';
import type { Batch } from '@kedge/cloud-sync/codec/index.ts';
import type { Reading } from '@kedge/cloud-sync/model.ts';
import type { SendResult, SinkTransport, TransportEvents } from '@kedge/cloud-sync/north/transport.ts';
import { TransportSink } from '@kedge/cloud-sync/north/transport-sink.ts';
import { ReadingLog } from './reading-log.ts';

/** Delivers every batch at once (a broker answering faster than the next commit). */
class InstantTransport implements SinkTransport {
  readonly label = 'instant transport';
  readonly target = 'instant://test';
  batches: Batch[] = [];
  connect(events: TransportEvents): void {
    events.ready();
  }
  send(batch: Batch, done: (r: SendResult) => void): number {
    this.batches.push(batch);
    done({ ok: true });
    return 1;
  }
  disconnect(): void {}
  async close(): Promise<void> {}
}

const DEVICES = 100;
const REGISTERS = 100;

function devicePoll(device: number, ts: number): Reading[] {
  return Array.from({ length: REGISTERS }, (_, r) => ({ point: `dev-${device}/r${r}`, ts, value: r, quality: 'good' as const }));
}

test('a poll cycle committed in ten chunks in one turn is sent from the memory tail, none of it read back from SQLite', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-tail-sink-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // The shipped log defaults: a commit per 1000 readings, a tail of 4096.
  const log = new ReadingLog(join(dir, 'log.db'), { maxBytes: 256 * 2 ** 20, flushRows: 1000, flushMs: 100, synchronous: 'normal', retainAckedMs: 0 });
  log.setSinks(['uplink']);
  let storedReads = 0;
  const readStored = log.readStored.bind(log);
  log.readStored = (after, limit) => {
    storedReads++;
    return readStored(after, limit);
  };
  const transport = new InstantTransport();
  const quiet = { info() {}, warn() {}, debug() {} };
  // The shipped window: 2000 x 8.
  const sink = new TransportSink(
    { log, cursorName: 'uplink', gateway: 'gw', batchMaxReadings: 2000, batchMaxDelayMs: 1000, inflight: 8, ackTimeoutMs: 30_000, reconnectMinMs: 1000, reconnectMaxMs: 8000, logger: quiet },
    transport,
  );
  t.after(async () => {
    await sink.stop();
    log.close();
  });
  sink.start();
  await waitFor(() => sink.online(), { what: 'online' });
  for (let cycle = 0; cycle < 3; cycle++) {
    const ts = Date.now();
    // Every device answers in the same turn: 10,000 readings, ten commits of 1000.
    for (let d = 0; d < DEVICES; d++) log.append(devicePoll(d, ts));
    assert.equal(log.lastSeq(), (cycle + 1) * DEVICES * REGISTERS);
    assert.equal(transport.batches.at(-1)?.last, log.lastSeq(), 'the cycle is on the wire by the end of its turn: 5 full batches');
  }
  await waitFor(() => log.cursor('uplink') === log.lastSeq(), { what: 'everything delivered' });
  assert.equal(storedReads, 0, 'no reading was read back from SQLite');
  const seqs = transport.batches.flatMap((b) => b.readings.map((r) => r.seq));
  assert.deepEqual(seqs, Array.from({ length: 3 * DEVICES * REGISTERS }, (_, i) => i + 1), 'every reading once, in order');
});
