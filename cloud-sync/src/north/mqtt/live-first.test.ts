/**
 * Live first against a real broker over a throttled link (testkit shaped relay): after an
 * outage the center gets the newest value of every point before the backlog, readings polled
 * meanwhile are not queued behind it, each reading is stored once, and the cursor never passes
 * what the center holds contiguously. Order and counts only: nothing here measures time.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { startMosquitto, type MosquittoHandle } from '@kedge/testkit/mosquitto.ts';
import { startShapedRelay, type ShapedRelay } from '@kedge/testkit/shaped-relay.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { jsonCodec } from '../../codec/json.ts';
import type { Batch } from '../../codec/index.ts';
import { IngestConsumer } from '../../ingest/consumer.ts';
import { IngestStore } from '../../ingest/store.ts';
import type { Reading } from '../../model.ts';
import { MemoryLog } from '../memory-log.ts';
import { Uplink, type UplinkOptions } from './uplink.ts';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const identity = { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'gw-live' };
const DATA = 'kedge/v1/kuzbass/kemerovo/gw-live/data';
const POINTS = 20;
/** Slow enough that a backlog of a few thousand readings takes dozens of round trips; no test waits on it. */
const LINK = { bytesPerSec: 128 * 1024, latencyMs: 20 };

let clock = 0;
function poll(log: MemoryLog, n = 1): void {
  for (let i = 0; i < n; i++) {
    clock++;
    log.append(Array.from({ length: POINTS }, (_, p): Reading => ({ point: `st/p${p}`, ts: Date.now(), value: clock * 100 + p, quality: 'good' })));
  }
}

interface Rig {
  broker: MosquittoHandle;
  relay: ShapedRelay;
  log: MemoryLog;
  uplink: Uplink;
  store: IngestStore;
  /** Every batch as the broker routed it to an independent subscriber, in order. */
  seen: Batch[];
}

async function rig(t: test.TestContext, extra: Partial<UplinkOptions> = {}): Promise<Rig> {
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  const relay = await startShapedRelay(broker.port, LINK);
  t.after(() => relay.close());
  const store = new IngestStore(':memory:');
  t.after(() => store.close());
  const ingest = new IngestConsumer({ url: broker.url, clientId: `ingest-${process.pid}-${Math.random()}`, prefix: 'kedge/v1', store, logger });
  await ingest.start();
  t.after(() => ingest.stop());
  const sub = await mqtt.connectAsync(broker.url, { clientId: `watch-${process.pid}-${Math.random()}`, reconnectPeriod: 0 });
  t.after(() => sub.endAsync(true));
  const seen: Batch[] = [];
  sub.on('message', (_topic, payload) => seen.push(jsonCodec.decode(payload)));
  await sub.subscribeAsync(DATA, { qos: 1 });
  const log = new MemoryLog();
  const uplink = new Uplink({
    log,
    identity,
    url: `mqtt://127.0.0.1:${relay.port}`,
    clientId: `kedge-gw-live-${Math.random().toString(16).slice(2)}`,
    codec: jsonCodec,
    batchMaxReadings: 50,
    batchMaxDelayMs: 20,
    inflight: 4,
    keepaliveSec: 5,
    reconnectMinMs: 50,
    reconnectMaxMs: 200,
    ackMode: 'center',
    backlogShare: 0.75,
    logger,
    ...extra,
  });
  t.after(() => uplink.stop());
  return { broker, relay, log, uplink, store, seen };
}

function seqsOf(batches: Batch[]): number[] {
  return batches.flatMap((b) => b.readings.map((r) => r.seq));
}

/** The longest prefix 1..n the center holds. */
function contiguous(seqs: number[]): number {
  const set = new Set(seqs);
  let n = 0;
  while (set.has(n + 1)) n++;
  return n;
}

test('after an outage the center gets the newest value of every point first, then readings as polled ahead of the backlog; each stored once', async (t) => {
  const r = await rig(t);
  r.uplink.start();
  await waitFor(() => r.uplink.status().state === 'online', { what: 'the uplink online' });
  // A healthy link first: nothing twice, no live lane.
  for (let i = 0; i < 5; i++) poll(r.log);
  await waitFor(() => r.log.cursor('uplink') === 100, { what: 'the healthy phase confirmed by the center' });
  const healthy = seqsOf(r.seen);
  assert.deepEqual(healthy, Array.from({ length: 100 }, (_, i) => i + 1), 'a healthy link sends each reading once, in order');
  assert.ok(r.seen.every((b) => !b.live));
  assert.equal(r.uplink.status().window.liveStarts, 0);

  r.relay.cut();
  await waitFor(() => r.uplink.status().state !== 'online', { what: 'the uplink to notice the outage' });
  poll(r.log, 150); // 3,000 readings of backlog: 60 batches
  const liveStart = r.log.lastSeq();
  const before = r.seen.length;
  r.relay.restore();

  await waitFor(() => r.seen.length > before, { what: 'the first batch after the outage' });
  const first = r.seen[before]!;
  assert.equal(first.live, true, 'the first batch after the outage is a live batch');
  assert.deepEqual(first.readings.map((x) => x.seq), Array.from({ length: POINTS }, (_, p) => liveStart - POINTS + 1 + p), 'the newest value of every point');

  poll(r.log, 2); // polled while the backlog back-fills
  const fresh = r.log.lastSeq();
  await waitFor(() => seqsOf(r.seen.slice(before)).includes(fresh), { what: 'the fresh poll at the broker' });
  const backlogSoFar = r.seen.slice(before).filter((b) => !b.live);
  const backlogReached = Math.max(0, ...backlogSoFar.map((b) => b.last));
  assert.ok(backlogReached < liveStart - 1000, `the fresh poll arrived while the backlog was at ${backlogReached} of ${liveStart}: not behind it`);

  await waitFor(() => r.log.cursor('uplink') === r.log.lastSeq(), { timeoutMs: 60_000, what: 'everything confirmed by the center' });
  const stored = r.store.sequences('gw-live');
  assert.equal(stored.length, r.log.lastSeq(), 'each reading stored once');
  assert.equal(contiguous(stored), r.log.lastSeq());
  assert.deepEqual(r.store.gaps('gw-live'), []);
  // What went twice: the snapshot only (its readings also came with the backlog).
  const after = seqsOf(r.seen.slice(before));
  const twice = after.length - new Set(after).size;
  const w = r.uplink.status().window;
  assert.equal(twice, w.snapshotReadings, 'only the newest-per-point snapshot was sent twice');
  assert.equal(w.snapshotReadings, POINTS);
  assert.ok(w.liveExtraBytes > 0, 'and its bytes are counted');
  assert.equal(w.liveStart, null, 'the lanes merged');
});

test('a reconnect in the middle of the back-fill: the cursor never passes what the center holds contiguously, and nothing is lost', async (t) => {
  const r = await rig(t);
  poll(r.log, 150); // a backlog before the first connect
  r.uplink.start();
  await waitFor(() => r.seen.some((b) => b.live), { what: 'the live snapshot' });
  poll(r.log, 2);
  const fresh = r.log.lastSeq();
  await waitFor(() => r.store.liveSequences('gw-live').includes(fresh), { what: 'the fresh poll stored by the center' });
  r.relay.cut();
  await waitFor(() => r.uplink.status().state !== 'online', { what: 'the uplink to notice the cut' });
  const cursor = r.log.cursor('uplink');
  const held = contiguous(r.store.sequences('gw-live'));
  assert.ok(cursor <= held, `cursor ${cursor} beyond the center's contiguous ${held}`);
  assert.ok(cursor < fresh, 'the live readings the center holds beyond a hole did not move the cursor');
  assert.ok(r.store.notYetReceived('gw-live').length > 0, 'the hole is "not yet received", not lost');
  assert.deepEqual(r.store.gaps('gw-live'), [], 'no gap is reported lost meanwhile');
  poll(r.log, 10);
  r.relay.restore();
  await waitFor(() => r.log.cursor('uplink') === r.log.lastSeq(), { timeoutMs: 60_000, what: 'everything confirmed after the reconnect' });
  const stored = r.store.sequences('gw-live');
  assert.equal(stored.length, r.log.lastSeq());
  assert.equal(contiguous(stored), r.log.lastSeq());
  assert.deepEqual(r.store.gaps('gw-live'), []);
  assert.equal(r.uplink.status().window.liveStarts, 2, 'live-first again after the reconnect');
});

test('the pace holds the backlog back, never the readings polled meanwhile', async (t) => {
  let now = 0;
  let released = false;
  // 100 readings/s on a clock that only the test moves: after the first bucketful the backlog stands still.
  const r = await rig(t, { maxReadingsPerSec: 100, clock: () => (released ? (now += 1000) : now), ackMode: 'broker' });
  poll(r.log, 50); // 1,000 readings
  r.uplink.start();
  await waitFor(() => r.uplink.status().window.pacedWaits >= 2, { what: 'the backlog held back by the pace' });
  const backlogBefore = r.uplink.status().window.backlogSeq;
  assert.equal(backlogBefore, 100, 'one bucketful of backlog');
  for (let i = 0; i < 5; i++) poll(r.log); // 100 readings: as much as the pace allows per second, at once
  const fresh = r.log.lastSeq();
  await waitFor(() => seqsOf(r.seen).includes(fresh), { what: 'the fresh polls at the broker' });
  const live = r.seen.filter((b) => b.live).flatMap((b) => b.readings.map((x) => x.seq));
  for (let s = fresh - 99; s <= fresh; s++) assert.ok(live.includes(s), `polled reading ${s} went on the live lane`);
  const looks = r.uplink.status().window.pacedWaits;
  await waitFor(() => r.uplink.status().window.pacedWaits >= looks + 2, { what: 'two more looks at the paced backlog' });
  assert.equal(r.uplink.status().window.backlogSeq, backlogBefore, 'the backlog did not move while the clock stood still');
  released = true; // from now on every look at the pace finds a second gone by
  await waitFor(() => r.log.cursor('uplink') === r.log.lastSeq(), { timeoutMs: 60_000, what: 'the backlog once the clock moves' });
});
