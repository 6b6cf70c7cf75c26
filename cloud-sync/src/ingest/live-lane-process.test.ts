import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { startProcess } from '@kedge/testkit/proc.ts';
import { nodeEntry } from '@kedge/testkit/entry.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { decodeAck, type CenterAck } from '../center-ack.ts';
import type { Batch } from '../codec/index.ts';
import { compactCodec } from '../codec/compact.ts';
import { jsonCodec } from '../codec/json.ts';
import type { LogRecord } from '../model.ts';
import { IngestStore } from './store.ts';
import { tempDir } from '@kedge/testkit/temp-dirs.ts';

/**
 * The live lane end to end: a real mosquitto, the real ingest process (main.ts, SQLite), and
 * a gateway's batches published as the north window sends them after an outage: the backlog
 * position, then a live batch far ahead of it, then the backlog catching up. What the center
 * confirms on .../ack never jumps over the hole, and the store ends with each reading once.
 */

const INGEST_MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const TOPIC = 'kedge/v1/kuzbass/kemerovo/gw-live';
const EPOCH = 'e7';

const reading = (seq: number): LogRecord => ({ seq, point: `plc-${seq % 4}/hr${seq % 7}`, ts: 1_764_064_800_000 + seq * 250, value: seq * 3, quality: 'good' });
const backlog = (first: number, last: number): Batch => ({
  gateway: 'gw-live',
  epoch: EPOCH,
  first,
  last,
  evicted: [],
  readings: Array.from({ length: last - first + 1 }, (_, i) => reading(first + i)),
});

test('through a broker and the ingest process: a live batch ahead of the backlog is stored once, marked, and never confirmed past the hole', async (t) => {
  const dir = tempDir(t, 'kedge-live-lane-');
  const db = join(dir, 'center.db');
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  const ingest = await startProcess(
    process.execPath,
    [...nodeEntry(INGEST_MAIN), '--url', broker.url, '--db', db, '--client-id', `ingest-live-${process.pid}`, '--report-every', '0'],
    { cwd: ROOT, name: 'ingest', readyLine: /ingest subscribed|ingest connected/, timeoutMs: 30_000 },
  );
  t.after(() => ingest.stop());

  const gateway = await mqtt.connectAsync(broker.url, { clientId: `gw-live-${process.pid}`, reconnectPeriod: 0 });
  t.after(() => gateway.endAsync(true));
  const acks: CenterAck[] = [];
  gateway.on('message', (_topic, payload) => acks.push(decodeAck(payload)));
  await gateway.subscribeAsync(`${TOPIC}/ack`, { qos: 1 });
  const send = async (b: Batch, codec = compactCodec) => {
    const before = acks.length;
    await gateway.publishAsync(`${TOPIC}/data`, codec.encode(b), { qos: 1 });
    // Every stored batch is answered by a confirmation: wait for the one that follows this batch.
    await waitFor(() => acks.length > before, { what: `the confirmation after batch ${b.first}-${b.last}`, timeoutMs: 30_000 });
    return acks[acks.length - 1]!.confirmed;
  };

  assert.equal(await send(backlog(1, 10)), 10);
  // After reconnect the window sends the newest value of every point first: sparse, far ahead.
  const live: Batch = { gateway: 'gw-live', epoch: EPOCH, live: true, first: 37, last: 60, evicted: [], readings: [37, 41, 58, 60].map(reading) };
  assert.equal(await send(live), 10, 'the live readings beyond the hole do not move the confirmation');
  // A second live batch, in JSON: the flag travels in both codecs.
  assert.equal(await send({ ...live, first: 61, last: 62, readings: [61, 62].map(reading) }, jsonCodec), 10);
  assert.equal(await send(backlog(11, 40)), 41, 'the backlog reaches 40, and 41 was stored live: confirmed up to 41');
  assert.equal(await send(backlog(41, 62)), 62);
  assert.ok(acks.every((a, i) => i === 0 || a.confirmed >= acks[i - 1]!.confirmed), `confirmations never go back: ${acks.map((a) => a.confirmed)}`);

  await ingest.stop();
  const store = new IngestStore(db);
  try {
    assert.deepEqual(store.sequences('gw-live', EPOCH), Array.from({ length: 62 }, (_, i) => i + 1), 'every sequence stored once');
    assert.deepEqual(store.liveSequences('gw-live', EPOCH), [37, 41, 58, 60, 61, 62]);
    assert.deepEqual(store.gaps('gw-live', EPOCH), []);
    assert.deepEqual(store.notYetReceived('gw-live', EPOCH), []);
    const [summary] = store.summaries();
    assert.equal(summary!.duplicates, 0, 'the backlog copies of live readings are not duplicates');
    assert.equal(summary!.readings, 62);
    assert.deepStrictEqual(store.readings('gw-live', 36, 2, EPOCH), [reading(37), reading(38)]);
  } finally {
    store.close();
  }
});
