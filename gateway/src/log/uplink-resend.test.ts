/**
 * The center asks for a range it is missing (the signed `resend` command ends here): the
 * gateway sends again what its log holds, reports as evicted what it evicted, and names what
 * it pruned after the center had confirmed it.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { ReadingLog } from './reading-log.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { startEmbeddedBroker } from '@kedge/cloud-sync/broker/embedded.ts';
import { encodeAck } from '@kedge/cloud-sync/center-ack.ts';
import { jsonCodec } from '@kedge/cloud-sync/codec/json.ts';
import type { Batch } from '@kedge/cloud-sync/codec/index.ts';
import type { Reading } from '@kedge/cloud-sync/model.ts';
import { Uplink } from '@kedge/cloud-sync/north/mqtt/uplink.ts';

const ACK = 'kedge/v1/kuzbass/kemerovo/gw-rs/ack';

function readings(n: number, from: number): Reading[] {
  // An hour old: past a retention of 0, so confirmed rows are pruned at once.
  return Array.from({ length: n }, (_, i) => ({ point: `meter/p${i % 4}`, ts: Date.now() - 3_600_000, value: from + i, quality: 'good' as const }));
}

test('a resend request is answered from the log: held readings again, evicted ones as evicted ranges, pruned ones named', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-resend-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await startEmbeddedBroker({ port: 0 });
  t.after(() => broker.close());
  // A tiny cap (the config's minimum is 1 MiB; the log itself takes any) so evictions come quickly.
  const log = new ReadingLog(join(dir, 'log.db'), { maxBytes: 512 * 1024, flushMs: 10, flushRows: 2000, synchronous: 'normal', retainAckedMs: 0 });
  const center = await mqtt.connectAsync(broker.url, { clientId: `center-${process.pid}`, reconnectPeriod: 0 });
  t.after(() => center.endAsync());
  const seen: Batch[] = [];
  center.on('message', (_topic, payload) => seen.push(jsonCodec.decode(payload)));
  await center.subscribeAsync('kedge/v1/kuzbass/kemerovo/gw-rs/data', { qos: 1 });
  const uplink = new Uplink({
    log,
    identity: { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'gw-rs' },
    url: broker.url,
    clientId: `kedge-gw-rs-${process.pid}`,
    codec: jsonCodec,
    batchMaxReadings: 100,
    batchMaxDelayMs: 10,
    inflight: 4,
    keepaliveSec: 5,
    reconnectMinMs: 100,
    reconnectMaxMs: 500,
    logger: pino({ level: 'silent' }),
    ackMode: 'center',
  });
  t.after(async () => {
    await uplink.stop();
    log.close();
  });
  uplink.start();

  // 1..100 delivered, confirmed and pruned.
  log.append(readings(100, 1));
  log.flush();
  await waitFor(() => seen.some((b) => b.last === 100), { what: '1..100 sent' });
  await center.publishAsync(ACK, encodeAck({ gateway: 'gw-rs', epoch: log.epoch(), confirmed: 100 }), { qos: 1 });
  await waitFor(() => log.cursor('uplink') === 100, { what: 'the confirmation' });
  log.maintain();
  assert.equal(log.firstSeq(), 0, 'pruned');
  // Then an outage of confirmations long enough for the cap to evict.
  for (let i = 0; i < 20; i++) {
    log.append(readings(2000, 101 + i * 2000));
    log.flush();
  }
  const evicted = log.evictedRanges();
  assert.equal(evicted.length, 1, `the cap evicted: ${JSON.stringify(evicted)} ${JSON.stringify(log.evictions(10))}`);
  assert.equal(evicted[0]!.first, 101);
  const lastSeq = log.lastSeq();
  await waitFor(() => seen.some((b) => b.last === lastSeq), { what: 'everything sent once' });

  const mark = seen.length;
  const answer = uplink.resend(1, lastSeq + 50);
  assert.deepEqual(answer, {
    epoch: log.epoch(),
    resent: { first: log.firstSeq(), last: lastSeq },
    evicted: [{ first: 101, last: evicted[0]!.last }],
    notHeld: [{ first: 1, last: 100 }],
    beyondLog: { first: lastSeq + 1, last: lastSeq + 50 },
  });
  await waitFor(() => seen.slice(mark).some((b) => b.last === lastSeq), { what: 'the held range sent again' });
  const again = seen.slice(mark);
  assert.ok(
    again.some((b) => b.readings.length === 0 && b.first === 101 && b.last === evicted[0]!.last),
    'the evicted range is reported again as an evicted-only batch',
  );
  const resentSeqs = new Set(again.flatMap((b) => b.readings.map((r) => r.seq)));
  for (let s = log.firstSeq(); s <= lastSeq; s++) assert.ok(resentSeqs.has(s), `sequence ${s} sent again`);
  assert.ok(again.every((b) => b.first > 100), 'nothing pruned is claimed as evicted or resent');
});
