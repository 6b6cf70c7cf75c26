/**
 * The generic sink driver over a transport the test holds in its hand: every send waits until
 * the test answers it, so order, failures and late answers are chosen, not timed.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@kedge/testkit/wait.ts';
import type { Batch } from '../codec/index.ts';
import { batchProblem } from '../codec/batch.ts';
import { MemoryLog } from './memory-log.ts';
import type { SendResult, SinkTransport, TransportEvents } from './transport.ts';
import { TransportSink, type TransportSinkOptions } from './transport-sink.ts';

const quiet = { info() {}, warn() {}, debug() {} };

interface Sent {
  batch: Batch;
  done: (r: SendResult) => void;
  link: number;
}

class HandTransport implements SinkTransport {
  readonly label = 'hand transport';
  readonly target = 'hand://test';
  sent: Sent[] = [];
  connects = 0;
  disconnects = 0;
  events: TransportEvents | null = null;
  autoReady = true;
  connect(events: TransportEvents): void {
    this.connects++;
    this.events = events;
    if (this.autoReady) events.ready();
  }
  send(batch: Batch, done: (r: SendResult) => void): number {
    this.sent.push({ batch, done, link: this.connects });
    return JSON.stringify(batch).length;
  }
  disconnect(): void {
    this.disconnects++;
  }
  async close(): Promise<void> {}
}

function readings(n: number, points = 5) {
  return Array.from({ length: n }, (_, i) => ({ point: `d/p${i % points}`, ts: Date.now(), value: i, quality: 'good' as const }));
}

function sinkFor(t: test.TestContext, log: MemoryLog, transport: HandTransport, extra: Partial<TransportSinkOptions> = {}): TransportSink {
  const sink = new TransportSink(
    {
      log,
      cursorName: 'hand',
      gateway: 'gw-hand',
      batchMaxReadings: 10,
      batchMaxDelayMs: 0,
      inflight: 4,
      ackTimeoutMs: 600_000,
      reconnectMinMs: 1,
      reconnectMaxMs: 2,
      random: () => 0,
      logger: quiet,
      ...extra,
    },
    transport,
  );
  t.after(() => sink.stop());
  return sink;
}

test('after a connect with a backlog, the first batch on the wire is the newest value of every point, marked live', async (t) => {
  const log = new MemoryLog({ epoch: 'e1' });
  log.append(readings(100));
  const transport = new HandTransport();
  sinkFor(t, log, transport).start();
  await waitFor(() => transport.sent.length === 4, { what: 'the window full' });
  const first = transport.sent[0]!.batch;
  assert.equal(first.live, true);
  assert.deepEqual(first.readings.map((r) => r.seq), [96, 97, 98, 99, 100]);
  assert.equal(first.gateway, 'gw-hand');
  assert.equal(first.epoch, 'e1');
  for (const s of transport.sent) assert.equal(batchProblem(s.batch), null);
  assert.deepEqual(transport.sent.slice(1).map((s) => [s.batch.first, s.batch.last, s.batch.live ?? false]), [
    [1, 10, false],
    [11, 20, false],
    [21, 30, false],
  ]);
});

test('the cursor moves on delivery over the contiguous prefix only; a failed send drops the link and everything after the cursor goes again', async (t) => {
  const log = new MemoryLog();
  log.append(readings(30));
  const transport = new HandTransport();
  const sink = sinkFor(t, log, transport, { liveFirst: false });
  sink.start();
  await waitFor(() => transport.sent.length === 3, { what: 'three batches' });
  transport.sent[1]!.done({ ok: true }); // 11..20 before 1..10
  await waitFor(() => sink.status().batchesAcked === 1, { what: 'the second batch delivered' });
  assert.equal(log.cursor('hand'), 0, 'not past the undelivered first batch');
  transport.sent[0]!.done({ ok: true });
  await waitFor(() => log.cursor('hand') === 20, { what: 'cursor over 1..20' });
  transport.sent[2]!.done({ ok: false, error: 'HTTP 503' });
  await waitFor(() => transport.connects === 2 && transport.sent.length === 4, { what: 'a reconnect and the resend' });
  assert.equal(transport.disconnects, 1);
  assert.equal(sink.status().sendFailures, 1);
  assert.deepEqual([transport.sent[3]!.batch.first, transport.sent[3]!.batch.last], [21, 30], 'sent again from the cursor');
  transport.sent[3]!.done({ ok: true });
  await waitFor(() => log.cursor('hand') === 30, { what: 'everything delivered' });
});

test('an answer that comes for a link already dropped moves nothing', async (t) => {
  const log = new MemoryLog();
  log.append(readings(10));
  const transport = new HandTransport();
  const sink = sinkFor(t, log, transport, { liveFirst: false });
  sink.start();
  await waitFor(() => transport.sent.length === 1, { what: 'one batch' });
  transport.events!.down('socket closed');
  await waitFor(() => transport.connects === 2 && transport.sent.length === 2, { what: 'reconnected and sent again' });
  transport.sent[0]!.done({ ok: true }); // the old link's late 2xx
  transport.sent[1]!.done({ ok: false, error: 'timeout' }); // ... and then the new link fails
  await waitFor(() => transport.connects === 3 && transport.sent.length === 3, { what: 'the third link' });
  assert.equal(log.cursor('hand'), 0, 'the late answer of the first link counted for nothing');
  transport.sent[2]!.done({ ok: true });
  await waitFor(() => log.cursor('hand') === 10, { what: 'delivered on the third link' });
});

test('the first attempt after a drop waits the floor plus this box\'s fleet offset', async (t) => {
  const log = new MemoryLog();
  const transport = new HandTransport();
  transport.autoReady = false;
  // 1 s floor, 8 s cap, a 20 s fleet window, random draws of 0.5: offset 10 s.
  const sink = sinkFor(t, log, transport, { reconnectMinMs: 1000, reconnectMaxMs: 8000, reconnectSpreadMs: 20_000, random: () => 0.5 });
  sink.start();
  const before = Date.now();
  transport.events!.down('connection refused');
  const wait = sink.status().nextAttemptAt! - before;
  assert.ok(wait >= 11_000 && wait <= 11_000 + (Date.now() - before), `first attempt in ${wait} ms, expected 1 s + 10 s`);
  assert.equal(sink.status().reconnects, 1);
  assert.equal(transport.connects, 1, 'not yet');
});

test('in confirm mode only the far end confirmation moves the cursor, never beyond the log', async (t) => {
  const log = new MemoryLog();
  log.append(readings(10));
  const transport = new HandTransport();
  const sink = sinkFor(t, log, transport, { liveFirst: false, ackMode: 'confirm' });
  sink.start();
  await waitFor(() => transport.sent.length === 1, { what: 'one batch' });
  transport.sent[0]!.done({ ok: true });
  await waitFor(() => sink.status().batchesAcked === 1, { what: 'delivered' });
  assert.equal(log.cursor('hand'), 0, 'delivered is not confirmed');
  transport.events!.confirmed!(11);
  transport.events!.confirmed!(7);
  await waitFor(() => log.cursor('hand') === 7, { what: 'the confirmation' });
  assert.equal(log.cursor('hand'), 7, 'a confirmation beyond the log was ignored');
});

test('live readings are sent while the backlog is paced; the transport learns of each batch once', async (t) => {
  const log = new MemoryLog();
  log.append(readings(200));
  const transport = new HandTransport();
  let mono = 0;
  const sink = sinkFor(t, log, transport, { maxReadingsPerSec: 10, clock: () => mono, inflight: 2, backlogShare: 0.5 });
  sink.start();
  await waitFor(() => transport.sent.length === 2, { what: 'snapshot and one paced backlog batch' });
  for (const s of transport.sent) s.done({ ok: true });
  await waitFor(() => sink.status().window.pacedWaits > 0, { what: 'the backlog held back by the pace' });
  log.append(readings(5));
  await waitFor(() => transport.sent.length === 3, { what: 'the fresh poll' });
  const fresh = transport.sent[2]!.batch;
  assert.equal(fresh.live, true);
  assert.deepEqual(fresh.readings.map((r) => r.seq), [201, 202, 203, 204, 205]);
});

test('confirm mode: a far end that answers but stalls gets the data again from its position; one that only has stored confirmations gets nothing twice', async (t) => {
  for (const fresh of [true, false]) {
    const log = new MemoryLog();
    log.append(readings(30));
    const transport = new HandTransport();
    const warnings: string[] = [];
    const logger = { ...quiet, warn: (_o: object, msg?: string) => void warnings.push(msg ?? '') };
    const sink = sinkFor(t, log, transport, { liveFirst: false, ackMode: 'confirm', resendAfterSilenceMs: 1, logger, texts: { silent: 'far end silent' } });
    sink.start();
    await waitFor(() => transport.sent.length === 3, { what: 'three batches' });
    for (const s of transport.sent) s.done({ ok: true });
    await waitFor(() => sink.status().deliveredSeq === 30, { what: 'all delivered' });
    transport.events!.confirmed!(10, fresh);
    await waitFor(() => log.cursor('hand') === 10, { what: 'the confirmation' });
    if (fresh) {
      await waitFor(() => transport.sent.length > 3, { what: 'the resend from the far end position', timeoutMs: 30_000 });
      assert.equal(transport.sent[3]!.batch.first, 11, 'again from just after the confirmed position');
      assert.equal(transport.sent[3]!.link, 1, 'on the same link');
      assert.equal(sink.status().resends, 1);
    } else {
      // The warning comes from the same check that would send again: once it is there, that check ran.
      await waitFor(() => warnings.includes('far end silent'), { what: 'the silence warning', timeoutMs: 30_000 });
      assert.equal(transport.sent.length, 3, 'nothing sent twice into the queue of an absent far end');
      assert.equal(sink.status().resends, 0);
    }
    await sink.stop();
  }
});

test('canSend() false holds batches on an open link until the transport wakes the driver', async (t) => {
  const log = new MemoryLog();
  log.append(readings(5));
  const transport = new HandTransport();
  let may = false;
  Object.assign(transport, { canSend: () => may });
  const sink = sinkFor(t, log, transport, { liveFirst: false });
  sink.start();
  await waitFor(() => sink.status().state === 'online', { what: 'online' });
  // A positive event after the driver had its chance to pump: the log grows, which wakes it too.
  log.append(readings(1));
  await waitFor(() => sink.status().lastSeq === 6, { what: 'the append' });
  await new Promise((r) => setImmediate(r));
  assert.equal(transport.sent.length, 0, 'held');
  may = true;
  transport.events!.wake!();
  await waitFor(() => transport.sent.length === 1, { what: 'the batch after the wake' });
  assert.equal(transport.sent[0]!.batch.last, 6);
});

test('a full batch of fresh readings is on the wire when the log commits it, before the next commit; a short one waits for the turn', async (t) => {
  const log = new MemoryLog();
  const transport = new HandTransport();
  const sink = sinkFor(t, log, transport, { liveFirst: false, batchMaxReadings: 10, inflight: 4 });
  sink.start();
  await waitFor(() => sink.online(), { what: 'online' });
  // One poll cycle of a large box: several commits in one turn of the event loop.
  log.append(readings(10));
  assert.equal(transport.sent.length, 1, 'sent inside the first commit');
  log.append(readings(10));
  assert.deepEqual(transport.sent.map((s) => [s.batch.first, s.batch.last]), [[1, 10], [11, 20]], 'the second inside the second commit');
  log.append(readings(5));
  assert.equal(transport.sent.length, 2, 'a short batch is not sent inside the commit');
  await waitFor(() => transport.sent.length === 3, { what: 'the short batch after the turn' });
  assert.deepEqual([transport.sent[2]!.batch.first, transport.sent[2]!.batch.last], [21, 25]);
});

test('a resend the far end asks for runs beside live readings: the resend is paced as backlog, the fresh poll goes out during it unpaced', async (t) => {
  const log = new MemoryLog();
  const transport = new HandTransport();
  const mono = 0; // frozen: the pace of 1/s gives the resend one bucketful (one batch) and no more
  const sink = sinkFor(t, log, transport, { batchMaxReadings: 10, inflight: 4, maxReadingsPerSec: 1, clock: () => mono });
  sink.start();
  await waitFor(() => sink.online(), { what: 'online' });
  for (let i = 0; i < 6; i++) {
    log.append(readings(10)); // kept up with: 1..60, none of it backlog
    transport.sent.at(-1)!.done({ ok: true });
  }
  await waitFor(() => log.cursor('hand') === 60, { what: '1..60 delivered' });
  sink.resendAfter(0); // the far end lost 1..60
  await waitFor(() => transport.sent.length === 7, { what: 'the first resent batch' });
  await waitFor(() => sink.status().window.pacedWaits > 0, { what: 'the resend held by the pace' });
  log.append(readings(10));
  assert.equal(transport.sent.length, 8, 'the fresh poll goes at its commit, in the slot kept for the live lane');
  const resend = transport.sent.slice(6);
  assert.deepEqual(resend.map((s) => [s.batch.first, s.batch.last, s.batch.live ?? false]), [[1, 10, false], [61, 70, true]], 'the resend gets one bucketful; the fresh poll is on the live lane, not held by the pace');
});

test('a transport that throws when asked whether it can send, inside the commit, throws nothing into the append; the sink says it and retries', async (t) => {
  const log = new MemoryLog();
  const transport = new HandTransport();
  const warnings: string[] = [];
  const sink = sinkFor(t, log, transport, { logger: { ...quiet, warn: (_o: unknown, msg?: string) => void warnings.push(String(msg)) } });
  sink.start();
  await waitFor(() => sink.online(), { what: 'online' });
  let broken = true;
  (transport as SinkTransport).canSend = () => {
    if (broken) throw new Error('socket state unreadable');
    return true;
  };
  assert.doesNotThrow(() => log.append(readings(10)), 'the readings are committed: the append must not throw');
  assert.equal(log.lastSeq(), 10);
  assert.ok(warnings.some((w) => w.includes('failed; retrying')), `said: ${warnings.join(' | ')}`);
  broken = false;
  await waitFor(() => transport.sent.length === 1, { what: 'the batch sent on the retry' });
  assert.deepEqual([transport.sent[0]!.batch.first, transport.sent[0]!.batch.last], [1, 10]);
});
