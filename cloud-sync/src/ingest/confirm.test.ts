/**
 * What the ingest tells gateways: after each durable commit, the highest sequence of the
 * batch's epoch it holds without a hole, retained on <prefix>/.../<gateway>/ack; the same when
 * a gateway comes online; and an epoch change as an event naming where the old epoch ended.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { waitFor } from '@kedge/testkit/wait.ts';
import { startEmbeddedBroker } from '../broker/embedded.ts';
import { decodeAck, type CenterAck } from '../center-ack.ts';
import type { Batch } from '../codec/index.ts';
import { jsonCodec } from '../codec/json.ts';
import type { LogRecord } from '../model.ts';
import { IngestConsumer } from './consumer.ts';
import type { EpochChange } from './sink.ts';
import { IngestStore } from './store.ts';

const quiet = { info() {}, warn() {}, error() {} };
const DATA = 'kedge/v1/kuzbass/kemerovo/gw1/data';
const STATUS = 'kedge/v1/kuzbass/kemerovo/gw1/status';
const ACK = 'kedge/v1/kuzbass/kemerovo/gw1/ack';

function batch(first: number, last: number, epoch: string): Batch {
  const readings: LogRecord[] = [];
  for (let seq = first; seq <= last; seq++) readings.push({ seq, point: 'm/p', ts: 1_700_000_000_000 + seq, value: seq, quality: 'good' });
  return { gateway: 'gw1', epoch, first, last, evicted: [], readings };
}

test('the ingest confirms, retained and per epoch, what it holds without a hole; on a birth too; and reports an epoch change', async (t) => {
  const broker = await startEmbeddedBroker({ port: 0 });
  t.after(() => broker.close());
  const store = new IngestStore(':memory:');
  t.after(() => store.close());
  const consumer = new IngestConsumer({ url: broker.url, clientId: `ingest-${process.pid}`, prefix: 'kedge/v1', store, logger: quiet });
  const changes: EpochChange[] = [];
  consumer.on('epoch', (c) => changes.push(c));
  await consumer.start();
  t.after(() => consumer.stop());
  const gateway = await mqtt.connectAsync(broker.url, { clientId: `gw-${process.pid}`, reconnectPeriod: 0 });
  t.after(() => gateway.endAsync());
  const acks: CenterAck[] = [];
  gateway.on('message', (topic, payload) => {
    if (topic === ACK) acks.push(decodeAck(payload));
  });
  await gateway.subscribeAsync(ACK, { qos: 1 });

  await gateway.publishAsync(DATA, jsonCodec.encode(batch(1, 10, 'e1')), { qos: 1 });
  await waitFor(() => acks.length === 1, { what: 'the first confirmation' });
  assert.deepEqual(acks[0], { gateway: 'gw1', epoch: 'e1', confirmed: 10 });

  await gateway.publishAsync(DATA, jsonCodec.encode(batch(21, 30, 'e1')), { qos: 1 });
  await waitFor(() => acks.length === 2, { what: 'the confirmation after a batch beyond a hole' });
  assert.equal(acks[1]!.confirmed, 10, 'a hole at 11-20: nothing past it is confirmed');

  await gateway.publishAsync(STATUS, JSON.stringify({ state: 'online', gateway: 'gw1', epoch: 'e1' }), { qos: 1 });
  await waitFor(() => acks.length === 3, { what: 'the confirmation answering the birth' });
  assert.deepEqual(acks[2], { gateway: 'gw1', epoch: 'e1', confirmed: 10 });

  // Retained: a gateway that connects later (the ingest away) still learns the position.
  const late = await mqtt.connectAsync(broker.url, { clientId: `late-${process.pid}`, reconnectPeriod: 0 });
  t.after(() => late.endAsync());
  const retained: CenterAck[] = [];
  late.on('message', (_topic, payload, packet) => {
    if (packet.retain) retained.push(decodeAck(payload));
  });
  await late.subscribeAsync(ACK, { qos: 1 });
  await waitFor(() => retained.length === 1, { what: 'the retained confirmation' });
  assert.equal(retained[0]!.confirmed, 10);

  await gateway.publishAsync(DATA, jsonCodec.encode(batch(1, 5, 'e2')), { qos: 1 });
  await waitFor(() => acks.length === 4, { what: 'the first confirmation of the new epoch' });
  assert.deepEqual(acks[3], { gateway: 'gw1', epoch: 'e2', confirmed: 5 });
  assert.deepEqual(
    changes.map((c) => ({ previousEpoch: c.previousEpoch, previousLastSeq: c.previousLastSeq, previousConfirmed: c.previousConfirmed, epoch: c.epoch })),
    [{ previousEpoch: 'e1', previousLastSeq: 30, previousConfirmed: 10, epoch: 'e2' }],
  );
});
