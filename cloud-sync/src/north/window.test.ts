/**
 * The sink window on its own (no link): which batch goes next, what delivery proves, and what
 * live-first costs. Clocks are injected; nothing here waits.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { batchProblem } from '../codec/batch.ts';
import { MemoryLog } from './memory-log.ts';
import { SinkWindow, wireBatch, type InflightEntry, type PlannedBatch, type WindowOptions } from './window.ts';

const WALL = 1_800_000_000_000;

function setup(points: number, polls: number, opts: Partial<WindowOptions> = {}) {
  const log = new MemoryLog({ epoch: 'e1' });
  let wall = WALL;
  let mono = 0;
  const poll = () => {
    log.append(Array.from({ length: points }, (_, i) => ({ point: `d/p${i}`, ts: wall, value: wall + i, quality: 'good' as const })));
    wall += 1000;
  };
  for (let i = 0; i < polls; i++) poll();
  const window = new SinkWindow({
    log,
    batchMaxReadings: 10,
    batchMaxDelayMs: 0,
    inflight: 5,
    clock: () => mono,
    now: () => wall,
    ...opts,
  });
  return {
    log,
    window,
    poll,
    tick: (ms: number) => {
      mono += ms;
      wall += ms;
    },
  };
}

/** Takes every batch the window offers now (no waits), marking each sent. */
function drainNow(window: SinkWindow): InflightEntry[] {
  const out: InflightEntry[] = [];
  for (;;) {
    const step = window.next();
    if (!step || !('batch' in step)) return out;
    out.push(window.sent(step.batch, 100));
  }
}

function seqs(b: PlannedBatch): number[] {
  return b.records.map((r) => r.seq);
}

test('a sink that keeps up sends in sequence order, one lane, nothing twice', () => {
  const { log, window, poll } = setup(4, 2);
  window.reset(0, true);
  assert.equal(window.liveActive(), false, '8 readings behind is less than a batch: no live-first');
  const sent: number[] = [];
  for (let round = 0; round < 20; round++) {
    for (const e of drainNow(window)) {
      assert.equal(e.batch.live, false);
      assert.equal(batchProblem(wireBatch(e.batch, 'gw', 'e1')), null);
      sent.push(...seqs(e.batch));
      window.ack(e);
    }
    poll();
  }
  for (const e of drainNow(window)) sent.push(...seqs(e.batch));
  assert.deepEqual(sent, Array.from({ length: log.lastSeq() }, (_, i) => i + 1), 'every reading once, in order');
  assert.equal(window.status().liveExtraBytes, 0);
});

test('after a reconnect with a backlog the newest value of every point goes first, as a live batch with real sequences', () => {
  const { window } = setup(4, 100); // 400 readings, points d/p0..d/p3
  window.reset(0, true);
  assert.equal(window.liveActive(), true);
  const first = window.next();
  assert.ok(first && 'batch' in first);
  const b = first.batch;
  assert.equal(b.live, true);
  assert.equal(b.snapshot, true);
  assert.deepEqual(seqs(b), [397, 398, 399, 400], 'the newest reading of each point, ascending');
  assert.deepEqual(b.records.map((r) => r.point), ['d/p0', 'd/p1', 'd/p2', 'd/p3']);
  assert.equal(batchProblem(wireBatch(b, 'gw', 'e1')), null, 'a valid live batch on the wire');
  assert.equal(wireBatch(b, 'gw', 'e1').live, true);
  assert.equal(b.covers, null, 'a snapshot proves nothing contiguous');
});

test('a snapshot of more points than a batch goes out whole before the first backlog batch', () => {
  const { window } = setup(25, 20, { batchMaxReadings: 10, inflight: 5 }); // 500 readings of 25 points
  window.reset(0, true);
  const sent = drainNow(window);
  assert.deepEqual(sent.map((e) => (e.batch.snapshot ? 'snapshot' : e.batch.lane)), ['snapshot', 'snapshot', 'snapshot', 'backlog', 'backlog']);
  assert.deepEqual(sent.slice(0, 3).flatMap((e) => seqs(e.batch)), Array.from({ length: 25 }, (_, i) => 476 + i), 'every point once, ascending');
});

test('live readings logged after the live start are not behind the backlog', () => {
  const { window, poll } = setup(4, 100, { inflight: 5, backlogShare: 0.8 });
  window.reset(0, true);
  const first = drainNow(window);
  // 1 live slot (the snapshot), 4 backlog slots.
  assert.equal(first.filter((e) => e.batch.lane === 'live').length, 1);
  assert.equal(first.filter((e) => e.batch.lane === 'backlog').length, 4, 'backlog holds at most 80 % of the slots');
  poll(); // 401..404: polled now
  // The backlog's PUBACK frees a backlog slot only; the live slot frees with the snapshot's.
  window.ack(first[0]!);
  const next = window.next();
  assert.ok(next && 'batch' in next);
  assert.equal(next.batch.lane, 'live');
  assert.deepEqual(seqs(next.batch), [401, 402, 403, 404], 'the fresh poll goes out before the 360 readings of backlog still unsent');
  assert.equal(next.batch.live, true);
});

test('the cursor moves over the contiguous delivered prefix only, and jumps over the live readings once the backlog reaches them', () => {
  const { window, poll } = setup(2, 30, { batchMaxReadings: 20, inflight: 4, backlogShare: 0.5 }); // 60 readings
  window.reset(0, true);
  const entries: InflightEntry[] = [];
  poll(); // 61, 62 (live)
  const sendAll = () => {
    for (;;) {
      const all = drainNow(window);
      if (all.length === 0) return;
      entries.push(...all);
      // Deliver live batches at once, hold the backlog's until later.
      for (const e of all) if (e.batch.lane === 'live') assert.equal(window.ack(e), 0, 'live delivered ahead moves nothing');
      const backlog = all.filter((e) => e.batch.lane === 'backlog');
      if (backlog.length === 0) return;
      // Deliver the backlog out of order: the last first.
      for (const e of backlog.reverse()) window.ack(e);
    }
  };
  sendAll();
  assert.equal(window.delivered(), 62, 'backlog 1..60 delivered, then 61..62 from the live lane');
  assert.equal(window.liveActive(), false, 'lanes merged');
  // Nothing twice except the snapshot (59, 60).
  const sent = entries.flatMap((e) => seqs(e.batch));
  const counts = new Map<number, number>();
  for (const s of sent) counts.set(s, (counts.get(s) ?? 0) + 1);
  assert.deepEqual([...counts].filter(([, n]) => n > 1).map(([s]) => s), [59, 60]);
  assert.equal(counts.size, 62);
  assert.equal(window.status().snapshotReadings, 2);
  assert.equal(window.status().liveExtraBytes, 100, 'the snapshot batch is the extra cost');
});

test('pacing holds the backlog back and never the live lane', () => {
  let mono = 0;
  const { window, poll } = setup(2, 100, { maxReadingsPerSec: 10, inflight: 4, batchMaxReadings: 10, clock: () => mono });
  window.reset(0, true);
  const entries = drainNow(window);
  // The bucket holds one batch (capacity = max(rate, batch) = 10): one backlog batch, the snapshot.
  assert.deepEqual(entries.map((e) => e.batch.lane).sort(), ['backlog', 'live']);
  for (const e of entries) window.ack(e);
  const held = window.next();
  assert.ok(held && 'waitMs' in held && held.paced, 'the backlog waits for the pace');
  poll();
  const live = window.next();
  assert.ok(live && 'batch' in live, 'a fresh poll goes out although the backlog is paced');
  assert.equal(live.batch.lane, 'live');
  window.sent(live.batch, 1);
  mono += 1000;
  const after = window.next();
  assert.ok(after && 'batch' in after && after.batch.lane === 'backlog', 'the pace lets the backlog go on');
});

test('without live-first the readings logged after a reconnect are not paced once the backlog is out', () => {
  let mono = 0;
  const { window, poll } = setup(5, 4, { maxReadingsPerSec: 5, batchMaxReadings: 5, inflight: 10, liveFirst: false, clock: () => mono });
  window.reset(0, true); // 20 readings of backlog
  const sent: PlannedBatch[] = [];
  for (let i = 0; i < 10; i++) {
    for (const e of drainNow(window)) {
      sent.push(e.batch);
      window.ack(e);
    }
    mono += 1000;
  }
  assert.equal(sent.reduce((n, b) => n + b.records.length, 0), 20, 'the backlog went out at the pace');
  for (let i = 0; i < 8; i++) poll(); // 40 readings in no time: 8x the pace
  const fresh = drainNow(window);
  assert.equal(fresh.reduce((n, e) => n + e.batch.records.length, 0), 40, 'polled readings are never paced');
});

test('a backlog grown older than liveFirstAfterMs starts live-first without a reconnect', () => {
  const { window, poll, tick } = setup(4, 1, { liveFirstAfterMs: 60_000, inflight: 2, batchMaxReadings: 4 });
  window.reset(0, true);
  // A link slower than the poll: only one batch in flight ever gets delivered per poll.
  for (let i = 0; i < 15; i++) {
    poll(); // a poll a second (2 s of wall time with the tick)
    tick(1000);
  }
  const entries = drainNow(window);
  assert.equal(window.liveActive(), false, 'the oldest unsent reading is 31 s old: not yet');
  for (const e of entries) window.ack(e);
  for (let i = 0; i < 20; i++) {
    poll();
    tick(1000);
  }
  const next = window.next();
  assert.ok(next && 'batch' in next);
  assert.equal(next.batch.snapshot, true, 'now 71 s behind: the newest values go first');
  assert.equal(window.status().liveStarts, 1);
});

test('a confirmation from the far end beyond the backlog lane moves it on, and merges the lanes once past the live start', () => {
  const { window, poll } = setup(2, 50, { batchMaxReadings: 10, inflight: 4 }); // 100 readings
  window.reset(0, true);
  window.ack(drainNow(window).find((e) => e.batch.snapshot)!); // the live slot is free again
  poll(); // 101, 102
  window.skipTo(60);
  assert.equal(window.status().backlogSeq, 60);
  assert.equal(window.liveActive(), true, 'the backlog has not reached the live start (100) yet');
  const live = drainNow(window).find((e) => e.batch.lane === 'live');
  assert.ok(live, 'the live lane goes on');
  window.skipTo(100);
  assert.equal(window.liveActive(), false, 'the center holds the backlog: one lane again');
  assert.equal(window.status().backlogSeq, 102, 'after what the live lane sent, not again');
});

test('readings polled before a confirmation that covers everything sent are still not paced', () => {
  const { window, poll } = setup(2, 50, { batchMaxReadings: 10, inflight: 4, maxReadingsPerSec: 10 }); // 100 readings
  window.reset(0, true);
  drainNow(window); // the snapshot and one bucketful of backlog; the pace holds the rest
  for (let i = 0; i < 5; i++) poll(); // 101..110, polled now
  window.skipTo(100); // the center holds 1..100 (another connection brought them)
  const next = window.next();
  assert.ok(next && 'batch' in next, 'not held back by the pace: these are not backlog');
  assert.deepEqual(seqs(next.batch), Array.from({ length: 10 }, (_, i) => 101 + i));
});

test('with a single in-flight slot live-first still gives the live lane its own slot', () => {
  const { window, poll } = setup(2, 50, { batchMaxReadings: 10, inflight: 1 });
  window.reset(0, true);
  const first = drainNow(window);
  assert.deepEqual(first.map((e) => e.batch.lane), ['live', 'backlog'], 'one each');
  window.ack(first[0]!);
  poll();
  const next = drainNow(window);
  assert.deepEqual(next.map((e) => [e.batch.lane, e.batch.records.length]), [['live', 2]], 'the fresh poll, while the backlog slot is busy');
});

test('an eviction reaching the live start is reported by the backlog lane, never inside a live batch', () => {
  const { log, window } = setup(2, 20, { batchMaxReadings: 10, inflight: 4 }); // 40 readings
  window.reset(0, true);
  log.evict(1, 40); // the cap took the whole backlog (snapshot included) before it went
  const entries = drainNow(window);
  const backlog = entries.filter((e) => e.batch.lane === 'backlog');
  assert.equal(backlog.length, 1);
  assert.deepEqual(backlog[0]!.batch.evicted, [{ first: 1, last: 40 }]);
  assert.equal(batchProblem(wireBatch(backlog[0]!.batch, 'gw', 'e1')), null);
  for (const e of entries) assert.equal(batchProblem(wireBatch(e.batch, 'gw', 'e1')), null);
});

test('whatever the order of polls, deliveries and reconnects: every reading reaches the far end, the cursor never passes an undelivered one, only snapshots repeat', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.constant('poll' as const), fc.constant('send' as const), fc.constant('ack' as const), fc.constant('drop' as const)), { maxLength: 80 }),
      fc.integer({ min: 1, max: 6 }),
      fc.boolean(),
      (ops, inflight, liveFirst) => {
        const { log, window, poll } = setup(3, 5, { batchMaxReadings: 4, inflight, liveFirst });
        const received = new Set<number>();
        const sentOnce = new Set<number>();
        let repeated = 0;
        let cursor = 0;
        let pending: InflightEntry[] = [];
        window.reset(0, true);
        const send = () => {
          for (const e of drainNow(window)) {
            pending.push(e);
            if (e.batch.snapshot) continue;
            for (const r of e.batch.records) {
              if (sentOnce.has(r.seq)) repeated++;
              sentOnce.add(r.seq);
            }
          }
        };
        const run = (op: (typeof ops)[number]) => {
          if (op === 'poll') poll();
          if (op === 'send') send();
          if (op === 'ack' && pending.length) {
            const e = pending.splice(pending.length > 1 ? 1 : 0, 1)[0]!; // out of order when possible
            for (const r of e.batch.records) received.add(r.seq);
            const moved = window.ack(e);
            if (moved) cursor = moved;
            for (let s = 1; s <= cursor; s++) assert.ok(received.has(s), `cursor ${cursor} passed ${s}, never delivered`);
          }
          if (op === 'drop') {
            pending = [];
            window.reset(cursor, true);
          }
        };
        for (const op of ops) run(op);
        if (!ops.includes('drop')) assert.equal(repeated, 0, 'a link that never dropped sent nothing twice but snapshots');
        // Heal: deliver everything.
        for (let i = 0; i < 1000 && window.delivered() < log.lastSeq(); i++) {
          send();
          const e = pending.shift();
          if (!e) break;
          for (const r of e.batch.records) received.add(r.seq);
          const moved = window.ack(e);
          if (moved) cursor = moved;
        }
        assert.equal(window.delivered(), log.lastSeq());
        for (let s = 1; s <= log.lastSeq(); s++) assert.ok(received.has(s), `reading ${s} never arrived`);
      },
    ),
    { numRuns: 300 },
  );
});

test("a link's own limit (MQTT 5 Receive Maximum) caps the in-flight batches below the configured inflight, and null lifts it", () => {
  const { window } = setup(4, 20, { inflight: 5, liveFirst: false });
  window.limitInflight(2);
  window.reset(0, true);
  const first = drainNow(window);
  assert.equal(first.length, 2, 'min(inflight 5, limit 2)');
  window.ack(first[0]!);
  assert.equal(drainNow(window).length, 1, 'one delivered frees one slot');
  window.limitInflight(8);
  assert.equal(window.inflightCount() + drainNow(window).length, 5, 'a limit above inflight leaves the configured 5');
  window.limitInflight(null);
  assert.equal(window.inflightCount(), 5);
});

test('a full batch of fresh readings is ready to go at the commit; a short one and the paced backlog are not', () => {
  const { window, poll } = setup(5, 0, { batchMaxReadings: 10, liveFirst: false, maxReadingsPerSec: 5 });
  window.reset(0, true);
  poll();
  assert.equal(window.freshBatchReady(), false, '5 fresh readings: a short batch waits for the turn');
  poll();
  assert.equal(window.freshBatchReady(), true, '10 fresh readings: a full batch');
  drainNow(window);
  assert.equal(window.freshBatchReady(), false, 'sent: nothing waits');

  const behind = setup(5, 10, { batchMaxReadings: 10, liveFirst: false, maxReadingsPerSec: 5 });
  behind.window.reset(0, true);
  assert.equal(behind.window.freshBatchReady(), false, '50 readings of backlog: paced, never pumped per commit');
  behind.poll();
  assert.equal(behind.window.freshBatchReady(), false, 'still behind the backlog');
});

test('with live-first the live lane is ready at the commit once a batch was polled after the snapshot went', () => {
  const { window, poll } = setup(5, 10, { batchMaxReadings: 10, inflight: 5 });
  window.reset(0, true);
  assert.equal(window.liveActive(), true);
  assert.equal(window.freshBatchReady(), false, 'the snapshot goes first, in the turn');
  drainNow(window);
  poll();
  assert.equal(window.freshBatchReady(), false, '5 live readings: short');
  poll();
  assert.equal(window.freshBatchReady(), true, '10 live readings after the live start');
});

test('a resend on the same link is paced as backlog, while readings polled after it flow unpaced on the live lane', () => {
  let mono = 0;
  const { window, poll } = setup(5, 0, { batchMaxReadings: 10, inflight: 5, maxReadingsPerSec: 10, clock: () => mono });
  window.reset(0, true);
  // The sink keeps up: 100 readings polled and delivered as they come, none of them backlog.
  for (let i = 0; i < 20; i++) {
    poll();
    for (const e of drainNow(window)) window.ack(e);
  }
  assert.equal(window.delivered(), 100);
  assert.equal(window.status().pacedWaits, 0);
  const liveStarts = window.status().liveStarts;
  // The far end lost everything after 0 (its broker crashed): send it all again.
  window.rewind(0);
  assert.equal(window.liveActive(), true, '100 behind: the live lane opens beside the resend');
  assert.equal(window.status().liveStarts, liveStarts, 'a rewind is not a live-first start');
  const first = drainNow(window);
  assert.ok(
    first.every((e) => e.batch.lane === 'backlog' && !e.batch.snapshot),
    'no snapshot: this link carried the newest values already',
  );
  assert.ok(first.length < 4, `the resend is held by the pace of 10/s, not sent at wire speed into its slots (sent ${first.length} batches at once)`);
  assert.ok(window.status().pacedWaits > 0, 'the resent range waits for the pace');
  poll();
  poll(); // 101..110, polled during the resend
  const next = window.next();
  assert.ok(next && 'batch' in next);
  assert.equal(next.batch.lane, 'live');
  assert.deepEqual(seqs(next.batch), Array.from({ length: 10 }, (_, i) => 101 + i), 'fresh readings do not queue behind the resend, nor wait for its pace');
  window.sent(next.batch, 100);
  mono += 1000;
  const later = drainNow(window);
  assert.ok(later.some((e) => e.batch.lane === 'backlog'), 'a second later the resend goes on at its pace');
});

test('a resend of a real backlog stays paced, on its lane only', () => {
  let mono = 0;
  const { window, poll } = setup(5, 20, { batchMaxReadings: 10, inflight: 5, maxReadingsPerSec: 10, clock: () => mono });
  window.reset(0, true); // 100 readings logged before the connect: backlog
  for (const e of drainNow(window)) window.ack(e);
  window.rewind(0);
  const waitsBefore = window.status().pacedWaits;
  assert.deepEqual(drainNow(window), [], 'the first connect took the bucketful');
  assert.ok(window.status().pacedWaits > waitsBefore, 'the resent backlog waits for the pace');
  mono += 1000;
  assert.deepEqual(drainNow(window).map((e) => e.batch.lane), ['backlog'], 'one bucketful a second');
  poll();
  poll();
  const live = window.next();
  assert.ok(live && 'batch' in live && live.batch.lane === 'live', 'live readings are not held by the pace');
});

test('the live lane borrows the slots the paced backlog cannot use, and the backlog gets them back as they free up', () => {
  let mono = 0;
  const { window, poll } = setup(5, 20, { batchMaxReadings: 10, inflight: 5, backlogShare: 0.8, maxReadingsPerSec: 10, clock: () => mono });
  window.reset(0, true); // 100 readings of backlog; 4 backlog slots, 1 live slot
  const first = drainNow(window);
  assert.deepEqual(first.map((e) => e.batch.lane), ['live', 'backlog'], 'the snapshot and one bucketful; the pace holds the rest');
  window.ack(first[0]!);
  for (let i = 0; i < 8; i++) poll(); // 101..140: four full live batches
  const live = drainNow(window);
  assert.deepEqual(live.map((e) => e.batch.lane), ['live', 'live', 'live', 'live'], 'its own slot and three the paced backlog left idle');
  assert.deepEqual(live.map((e) => e.batch.first), [101, 111, 121, 131]);
  assert.equal(window.inflightCount(), 5, 'never more than inflight');
  window.ack(first[1]!); // the backlog batch delivered; a second passes: a bucketful again
  mono += 1000;
  poll();
  poll(); // 141..150, a full live batch waits too
  const next = window.next();
  assert.ok(next && 'batch' in next);
  assert.equal(next.batch.lane, 'backlog', 'the freed slot goes to the backlog, which is asked first');
});
