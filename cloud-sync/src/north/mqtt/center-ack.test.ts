/**
 * Center ack mode: a broker's PUBACK only opens the send window; the log's cursor (what may
 * be pruned, evicted first, counted as delivered) moves only on the center's kedge-ack/1 for
 * this gateway and this log epoch, and data the center stays silent about is sent again from
 * the center's position.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { MemoryLog } from '../memory-log.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../broker/embedded.ts';
import { encodeAck } from '../../center-ack.ts';
import { jsonCodec } from '../../codec/json.ts';
import { IngestConsumer } from '../../ingest/consumer.ts';
import { IngestStore } from '../../ingest/store.ts';
import type { Reading } from '../../model.ts';
import { Uplink, type UplinkOptions } from './uplink.ts';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const identity = { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'gw-ack' };
const DATA = 'kedge/v1/kuzbass/kemerovo/gw-ack/data';
const ACK = 'kedge/v1/kuzbass/kemerovo/gw-ack/ack';

interface Rig {
  broker: EmbeddedBroker;
  log: MemoryLog;
  uplink: Uplink;
  /** first..last of every batch the broker routed, in order. */
  seen: Array<{ first: number; last: number; epoch: string | undefined }>;
  center: MqttClient;
}

async function rig(t: test.TestContext, extra: Partial<UplinkOptions> = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-ack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await startEmbeddedBroker({ port: 0 });
  t.after(() => broker.close());
  const log = new MemoryLog();
  const center = await mqtt.connectAsync(broker.url, { clientId: `center-${process.pid}-${Math.random()}`, reconnectPeriod: 0 });
  // Forced: the broker closes first (hooks run in the order they were added), and a graceful
  // end would wait for the PUBACK of a confirmation still in flight, forever.
  t.after(() => center.endAsync(true));
  const seen: Rig['seen'] = [];
  center.on('message', (_topic, payload) => {
    const b = jsonCodec.decode(payload);
    seen.push({ first: b.first, last: b.last, epoch: b.epoch });
  });
  await center.subscribeAsync(DATA, { qos: 1 });
  const uplink = new Uplink({
    log,
    identity,
    url: broker.url,
    clientId: `kedge-gw-ack-${Math.random().toString(16).slice(2)}`,
    codec: jsonCodec,
    batchMaxReadings: 50,
    batchMaxDelayMs: 10,
    inflight: 4,
    keepaliveSec: 5,
    reconnectMinMs: 100,
    reconnectMaxMs: 500,
    logger,
    ackMode: 'center',
    ...extra,
  });
  // The uplink first, then its log (after hooks run in the order they were added).
  t.after(async () => {
    await uplink.stop();
    log.close();
  });
  return { broker, log, uplink, seen, center };
}

function readings(n: number): Reading[] {
  return Array.from({ length: n }, (_, i) => ({ point: `meter/p${i % 3}`, ts: Date.now(), value: i, quality: 'good' as const }));
}

test('the PUBACK opens the window but does not move the cursor; the center confirmation for this log does, never past the log', async (t) => {
  const r = await rig(t);
  r.uplink.start();
  r.log.append(readings(100));
  await waitFor(() => r.uplink.status().brokerAckedSeq === 100, { what: 'every batch acknowledged by the broker' });
  assert.equal(r.log.cursor('uplink'), 0, 'the broker is not custody');
  assert.equal(r.uplink.status().centerConfirmedSeq, 0);
  assert.ok(r.seen.every((b) => b.epoch === r.log.epoch()), 'every batch carries the log epoch');

  // Ignored: another log of this box (an old epoch), another gateway, garbage. Then the real one.
  await r.center.publishAsync(ACK, encodeAck({ gateway: 'gw-ack', epoch: 'aaaabbbbccccdddd', confirmed: 100 }), { qos: 1 });
  await r.center.publishAsync(ACK, encodeAck({ gateway: 'gw-other', epoch: r.log.epoch(), confirmed: 100 }), { qos: 1 });
  await r.center.publishAsync(ACK, 'not json', { qos: 1 });
  await r.center.publishAsync(ACK, encodeAck({ gateway: 'gw-ack', epoch: r.log.epoch(), confirmed: 60 }), { qos: 1 });
  await waitFor(() => r.uplink.status().centerConfirmedSeq > 0, { what: 'the confirmation' });
  assert.equal(r.log.cursor('uplink'), 60, 'only the confirmation of this log counts');
  assert.equal(r.uplink.status().ackMode, 'center');

});

test('a confirmation beyond the end of the log proves it went backwards: a new epoch, unconfirmed readings renumbered and sent again, none counted delivered', async (t) => {
  const r = await rig(t);
  r.uplink.start();
  r.log.append(readings(100));
  await waitFor(() => r.uplink.status().brokerAckedSeq === 100, { what: 'every batch acknowledged by the broker' });
  const old = r.log.epoch();
  await r.center.publishAsync(ACK, encodeAck({ gateway: 'gw-ack', epoch: old, confirmed: 60 }), { qos: 1 });
  await waitFor(() => r.log.cursor('uplink') === 60, { what: 'the confirmation of 60' });
  const unconfirmed = r.log.readAfter(60, 100).map((x) => x.value);
  // The center holds 1_000_000 of this epoch: far more than this log ever wrote.
  await r.center.publishAsync(ACK, encodeAck({ gateway: 'gw-ack', epoch: old, confirmed: 1_000_000 }), { qos: 1 });
  await waitFor(() => r.log.epoch() !== old, { what: 'a new epoch' });
  assert.equal(r.uplink.status().logBehindCenter, 1);
  assert.equal(r.log.cursor('uplink'), 0, 'nothing of the new epoch counts delivered');
  assert.equal(r.log.lastSeq(), 40);
  assert.deepEqual(r.log.readAfter(0, 100).map((x) => x.value), unconfirmed, '61..100 are 1..40 of the new epoch, same readings');
  assert.equal(r.log.identity.previousEpoch, old);
  const fresh = r.log.epoch();
  await waitFor(() => r.seen.some((b) => b.epoch === fresh && b.last === 40), { what: 'the renumbered readings sent under the new epoch' });
  assert.equal(r.seen.filter((b) => b.epoch === fresh)[0]!.first, 1);
  // New readings continue the new epoch; its confirmation counts again.
  r.log.append(readings(5));
  await waitFor(() => r.log.lastSeq() === 45, { what: 'the new readings committed' });
  await r.center.publishAsync(ACK, encodeAck({ gateway: 'gw-ack', epoch: fresh, confirmed: 45 }), { qos: 1 });
  await waitFor(() => r.log.cursor('uplink') === 45, { what: 'the confirmation of the new epoch' });
  assert.equal(r.log.epoch(), fresh);
  assert.equal(r.uplink.status().logBehindCenter, 1);
});

test('a center that answers but does not confirm past a point gets the data again from there, with a growing wait', async (t) => {
  const r = await rig(t, { resendAfterSilenceMs: 200, ackTimeoutMs: 1000 });
  // A center stuck at a hole (the broker lost what came after): it answers every batch with
  // the same position.
  let stuckAt = 0;
  // A confirmation still in flight when the test ends is cut off by the forced end: not a failure.
  r.center.on('message', () => void r.center.publishAsync(ACK, encodeAck({ gateway: 'gw-ack', epoch: r.log.epoch(), confirmed: stuckAt }), { qos: 1 }).catch(() => {}));
  r.uplink.start();
  r.log.append(readings(120));
  await waitFor(() => r.seen.filter((b) => b.first === 1).length >= 3, { timeoutMs: 30_000, what: 'the unconfirmed data sent three times' });
  assert.ok(r.uplink.status().resends >= 2);
  // It moves on to 50 and is stuck there: the next resend starts after 50.
  stuckAt = 50;
  await waitFor(() => r.log.cursor('uplink') === 50, { what: 'the confirmation of 50' });
  const mark = r.seen.length;
  await waitFor(() => r.seen.slice(mark).some((b) => b.first === 51), { timeoutMs: 30_000, what: 'a resend from the center position' });
  // Batches of the round before may still have been on their way when 50 was confirmed; from
  // the resend at the center's position on, one connection keeps order: nothing confirmed again.
  const from = mark + r.seen.slice(mark).findIndex((b) => b.first === 51);
  const after = r.seen.slice(from);
  assert.ok(after.every((b) => b.first > 50), `nothing confirmed is sent again: ${JSON.stringify(after.map((b) => b.first))}`);
});

test('a center that does not answer at all is away: nothing is sent twice, and the box says once that it keeps everything', async (t) => {
  const warnings: string[] = [];
  const capture = { info() {}, debug() {}, error() {}, warn: (_o: object, msg?: string) => void warnings.push(msg ?? '') };
  const r = await rig(t, { resendAfterSilenceMs: 200, ackTimeoutMs: 1000, logger: capture });
  r.uplink.start();
  r.log.append(readings(120));
  // The warning comes from the same check that would send again: once it is there, that check ran.
  await waitFor(() => warnings.some((w) => w.startsWith('no confirmation from the center')), { timeoutMs: 30_000, what: 'the warning' });
  assert.equal(r.uplink.status().resends, 0, 'nothing sent again into the queue of an absent ingest');
  assert.equal(r.seen.filter((b) => b.first === 1).length, 1);
  assert.equal(warnings.filter((w) => w.startsWith('no confirmation from the center')).length, 1, 'said once');
  assert.equal(r.log.cursor('uplink'), 0, 'and nothing counts as delivered');
});

test("with kedge's ingest, the cursor follows the center's durable commits", async (t) => {
  const r = await rig(t);
  const store = new IngestStore(':memory:');
  t.after(() => store.close());
  const ingest = new IngestConsumer({ url: r.broker.url, clientId: `ingest-${process.pid}-${Math.random()}`, prefix: 'kedge/v1', store, logger });
  await ingest.start();
  t.after(() => ingest.stop());
  r.uplink.start();
  r.log.append(readings(300));
  await waitFor(() => r.log.cursor('uplink') === 300, { what: 'the center to confirm everything' });
  assert.equal(store.confirmed('gw-ack', r.log.epoch()), 300);
  assert.equal(r.uplink.status().centerConfirmedSeq, 300);
});
