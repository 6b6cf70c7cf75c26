import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { MemoryLog } from '../memory-log.ts';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { startEmbeddedBroker } from '../../broker/embedded.ts';
import { jsonCodec } from '../../codec/json.ts';
import { IngestConsumer } from '../../ingest/consumer.ts';
import { IngestStore } from '../../ingest/store.ts';
import type { Reading } from '../../model.ts';
import { Uplink, type UplinkOptions } from './uplink.ts';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const identity = { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'gw-up' };

function tempDir(t: test.TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-uplink-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function openLog(t: test.TestContext, dir: string): MemoryLog {
  const log = new MemoryLog();
  t.after(() => log.close());
  return log;
}

function uplinkFor(t: test.TestContext, log: MemoryLog, url: string, extra: Partial<UplinkOptions> = {}): Uplink {
  const uplink = new Uplink({
    log,
    identity,
    url,
    clientId: `kedge-${identity.gateway}-${Math.random().toString(16).slice(2)}`,
    codec: jsonCodec,
    batchMaxReadings: 50,
    batchMaxDelayMs: 20,
    inflight: 4,
    keepaliveSec: 5,
    reconnectMinMs: 100,
    reconnectMaxMs: 500,
    logger,
    ...extra,
  });
  t.after(() => uplink.stop());
  return uplink;
}

function readings(n: number, from = 0): Reading[] {
  return Array.from({ length: n }, (_, i) => ({ point: `meter/p${(from + i) % 5}`, ts: Date.now(), value: from + i, quality: 'good' as const }));
}

test('batches go to kedge/v1/<region>/<municipality>/<gateway>/data at QoS 1 with gateway, first/last and every reading', async (t) => {
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  const log = openLog(t, tempDir(t));
  log.append(readings(120));
  log.flush();

  const sub = await mqtt.connectAsync(broker.url, { clientId: 'sub-1' });
  t.after(() => sub.endAsync());
  const got: Array<{ topic: string; qos: number; payload: Buffer }> = [];
  sub.on('message', (topic, payload, packet) => got.push({ topic, qos: packet.qos, payload }));
  await sub.subscribeAsync('kedge/#', { qos: 1 });

  // In sequence order (live-first would send the newest values first: window.test.ts, live-first.test.ts).
  const uplink = uplinkFor(t, log, broker.url, { liveFirst: false });
  uplink.start();
  await waitFor(() => log.cursor('uplink') === 120, { what: 'all 120 readings acknowledged' });

  const data = got.filter((m) => m.topic === 'kedge/v1/kuzbass/kemerovo/gw-up/data');
  assert.ok(data.every((m) => m.qos === 1));
  const batches = data.map((m) => jsonCodec.decode(m.payload));
  assert.deepEqual(
    batches.map((b) => [b.first, b.last]),
    [
      [1, 50],
      [51, 100],
      [101, 120],
    ],
  );
  assert.ok(batches.every((b) => b.gateway === 'gw-up'));
  const r = batches[0]!.readings[3]!;
  assert.deepEqual(Object.keys(r).sort(), ['point', 'quality', 'seq', 'ts', 'value']);
  assert.equal(r.seq, 4);
  assert.equal(r.value, 3);
  assert.equal(uplink.status().readingsAcked, 120);
});

test('the cursor moves only when the broker acknowledges, in order', async (t) => {
  // aedes sends PUBACK only after authorizePublish answers, so the test holds the acks.
  const held: Array<() => void> = [];
  let hold = true;
  const broker = await startEmbeddedBroker({
    port: 0,
    aedes: {
      authorizePublish: (_client, packet, done) => {
        if (hold && packet.topic.endsWith('/data')) held.push(() => done(null));
        else done(null);
      },
    },
  });
  t.after(() => broker.close());
  const log = openLog(t, tempDir(t));
  log.append(readings(200));
  log.flush();
  const uplink = uplinkFor(t, log, broker.url, { liveFirst: false });
  uplink.start();

  await waitFor(() => held.length === 4, { what: 'four batches in flight' });
  assert.equal(uplink.status().sentSeq, 200, 'all four batches sent');
  assert.equal(log.cursor('uplink'), 0, 'nothing acknowledged yet, cursor unmoved');
  held[1]!(); // the second batch's PUBACK arrives first
  await waitFor(() => uplink.status().pubacks === 1, { what: 'the uplink to receive the out-of-order PUBACK' });
  assert.equal(log.cursor('uplink'), 0, 'the cursor never skips an unacknowledged batch');
  held[0]!();
  await waitFor(() => log.cursor('uplink') === 100, { what: 'cursor after batches 1 and 2' });
  hold = false;
  held[2]!();
  held[3]!();
  await waitFor(() => log.cursor('uplink') === 200, { what: 'cursor at the end' });
});

test('a link that swallows publishes without PUBACK is dropped and the batch resent from the cursor', async (t) => {
  let swallow = true;
  const broker = await startEmbeddedBroker({
    port: 0,
    aedes: { authorizePublish: (_c, packet, done) => (swallow && packet.topic.endsWith('/data') ? undefined : done(null)) },
  });
  t.after(() => broker.close());
  const log = openLog(t, tempDir(t));
  log.append(readings(30));
  log.flush();
  const uplink = uplinkFor(t, log, broker.url, { ackTimeoutMs: 300 });
  uplink.start();
  await waitFor(() => uplink.status().reconnects >= 1, { what: 'the uplink to give up on the silent link' });
  assert.equal(log.cursor('uplink'), 0);
  assert.equal(uplink.status().lastError, 'acknowledgement timeout');
  swallow = false;
  await waitFor(() => log.cursor('uplink') === 30, { what: 'the resent batch to be acknowledged' });
});

test('readings stamped in the future by a device clock running ahead still leave within batchMaxDelayMs', async (t) => {
  const broker = await startEmbeddedBroker({ port: 0 });
  t.after(() => broker.close());
  const log = openLog(t, tempDir(t));
  const uplink = uplinkFor(t, log, broker.url, { batchMaxReadings: 100, batchMaxDelayMs: 200 });
  uplink.start();
  await waitFor(() => uplink.status().state === 'online', { what: 'online' });
  log.append([{ point: 'm/clock-ahead', ts: Date.now() + 3_600_000, value: 1, quality: 'good' }]);
  log.flush();
  await waitFor(() => log.cursor('uplink') === 1, { timeoutMs: 5000, what: 'the short batch to leave' });
});

test('a retained birth message says online with the version fields; a clean stop leaves a retained offline', async (t) => {
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  const log = openLog(t, tempDir(t));
  const uplink = uplinkFor(t, log, broker.url, { birth: () => ({ version: '9.9.9', points: [{ point: 'meter/flow', unit: 'm3/h' }] }) });
  uplink.start();
  await waitFor(() => uplink.status().state === 'online', { what: 'online' });

  const retained = async () => {
    const c = await mqtt.connectAsync(broker.url);
    try {
      const msg = new Promise<Record<string, unknown>>((resolve) => c.on('message', (_t, p) => resolve(JSON.parse(p.toString()))));
      await c.subscribeAsync(uplink.statusTopic, { qos: 1 });
      return await msg;
    } finally {
      await c.endAsync();
    }
  };
  const online = await retained();
  assert.equal(online.state, 'online');
  assert.equal(online.version, '9.9.9');
  assert.equal(online.gateway, 'gw-up');
  await uplink.stop();
  const offline = await retained();
  assert.equal(offline.state, 'offline');
  assert.equal(offline.reason, 'shutdown');
});

test('a broker outage mid-stream loses nothing: every sequence reaches the ingest exactly once', async (t) => {
  const dir = tempDir(t);
  // The center's broker keeps sessions on disk: a restart must not drop what it acknowledged.
  const broker = await startMosquitto({ persistence: true });
  t.after(() => broker.stop());
  const log = openLog(t, dir);
  const store = new IngestStore(join(dir, 'center.db'));
  t.after(() => store.close());
  const ingest = new IngestConsumer({ url: broker.url, clientId: 'ingest-outage', prefix: 'kedge/v1', store, logger });
  await ingest.start();
  t.after(() => ingest.stop());
  const uplink = uplinkFor(t, log, broker.url);
  uplink.start();

  // A poller appending 20 readings every 10 ms throughout.
  let produced = 0;
  const producer = setInterval(() => {
    log.append(readings(20, produced));
    produced += 20;
  }, 10);
  t.after(() => clearInterval(producer));

  await waitFor(() => (store.summaries()[0]?.maxSeq ?? 0) > 500, { what: 'the stream to flow' });
  await broker.restart(); // broker gone for the time it takes to stop and start it
  await waitFor(() => uplink.status().reconnects >= 1 && uplink.status().state === 'online', { what: 'the uplink to reconnect' });
  await broker.restart(); // and once more, while the backlog is draining
  const mark = produced;
  await waitFor(() => produced >= mark + 200, { what: 'the poller to go on appending after the second restart' });
  clearInterval(producer);
  log.flush();
  const last = log.lastSeq();
  await waitFor(() => log.cursor('uplink') === last && (store.summaries()[0]?.maxSeq ?? 0) === last, {
    timeoutMs: 30_000,
    what: `all ${last} readings acknowledged and stored (${JSON.stringify({ cursor: log.cursor('uplink'), center: store.summaries()[0], up: uplink.status(), ingest: ingest.counters })})`,
  });
  const seqs = store.sequences('gw-up');
  assert.equal(seqs.length, last, 'each sequence stored once');
  assert.ok(seqs.every((s, i) => s === i + 1), 'sequences 1..N without a hole');
  assert.deepEqual(store.gaps('gw-up'), []);
  assert.equal(store.summaries()[0]?.readings, last);
});

test('after an outage the backlog is flushed at the configured pace, not all at once', async (t) => {
  const broker = await startEmbeddedBroker({ port: 0 });
  t.after(() => broker.close());
  const log = openLog(t, tempDir(t));
  log.append(readings(400));
  log.flush();
  let now = 1_000_000;
  // 100 readings/s with a 100-reading bucket, on a clock that only the test moves.
  // Everything logged before the connect is backlog: paced (live-first off: one lane, in order).
  const uplink = uplinkFor(t, log, broker.url, { maxReadingsPerSec: 100, batchMaxReadings: 50, clock: () => now, liveFirst: false });
  uplink.start();
  // The pump keeps looking while the pace holds it back: after two more looks with the clock
  // standing still, nothing more may have gone out.
  const heldBackTwice = async () => {
    const looks = uplink.status().pacedWaits;
    await waitFor(() => uplink.status().pacedWaits >= looks + 2, { what: 'the uplink to look twice more and be held back' });
  };
  await waitFor(() => log.cursor('uplink') === 100, { what: 'the first bucketful' });
  await heldBackTwice();
  assert.equal(log.cursor('uplink'), 100, 'no more while the clock stands still');
  assert.equal(uplink.status().sentSeq, 100);
  now += 1000;
  await waitFor(() => log.cursor('uplink') === 200, { what: 'one more second worth of readings' });
  await heldBackTwice();
  assert.equal(log.cursor('uplink'), 200);
  assert.equal(uplink.status().sentSeq, 200);
  now += 60_000; // a long pause refills the bucket only up to its capacity
  await waitFor(() => log.cursor('uplink') === 300, { what: 'one bucketful after a long pause' });
  now += 1000;
  await waitFor(() => log.cursor('uplink') === 400, { what: 'the rest' });
});
