import { join } from 'node:path';
import mqtt from 'mqtt';
import { compactCodec, type Batch, type Codec } from '@kedge/cloud-sync/codec/index.ts';
import type { LogRecord } from '@kedge/cloud-sync/model.ts';
import { Uplink } from '@kedge/cloud-sync/north/mqtt/uplink.ts';
import { gatewayConfigSchema } from '@kedge/gateway/config/schema.ts';
import { ReadingLog } from '@kedge/gateway/log/reading-log.ts';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { sleep } from '@kedge/testkit/wait.ts';

/** The uplink's config defaults, taken from the schema itself so the bench measures what ships. */
const shipped = gatewayConfigSchema.parse({ gateway: { id: 'g', region: 'r', municipality: 'm' }, uplink: { url: 'mqtt://127.0.0.1' } }).uplink;
export const UPLINK_DEFAULTS = { batchMaxReadings: shipped.batchMaxReadings, batchMaxDelayMs: shipped.batchMaxDelayMs, inflight: shipped.inflight } as const;
const LOG_OPTS = { maxBytes: 8 * 2 ** 30, flushMs: 100, flushRows: 10_000, synchronous: 'normal' as const, retainAckedMs: 3_600_000 };
const silent = { info() {}, warn() {}, error() {}, debug() {} };

export interface UplinkBenchResult {
  readings: number;
  codec: string;
  batchMaxReadings: number;
  inflight: number;
  uplinkReadingsPerSec: number;
  rawReadingsPerSec: number;
  ratio: number;
  messages: number;
}

export function openLog(path: string): ReadingLog {
  return new ReadingLog(path, LOG_OPTS);
}

export function fillLog(log: ReadingLog, rows: LogRecord[]): void {
  for (let i = 0; i < rows.length; i += 10_000) log.append(rows.slice(i, i + 10_000));
  log.flush();
}

/** Runs the kedge Uplink from the log's cursor until it reaches `lastSeq`; returns the seconds it took. */
export async function drain(log: ReadingLog, url: string, codec: Codec, o: { batchMaxReadings: number; inflight: number }, onProgress?: (acked: number) => void, budgetMs = Infinity): Promise<{ sec: number; acked: number; complete: boolean }> {
  const uplink = new Uplink({
    log,
    identity: { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'bench-gw' },
    url,
    clientId: `bench-uplink-${process.pid}`,
    codec,
    batchMaxReadings: o.batchMaxReadings,
    batchMaxDelayMs: UPLINK_DEFAULTS.batchMaxDelayMs,
    inflight: o.inflight,
    keepaliveSec: 30,
    reconnectMinMs: 100,
    reconnectMaxMs: 1000,
    logger: silent,
  });
  const start = log.cursor('uplink');
  const target = log.lastSeq();
  const t0 = performance.now();
  uplink.start();
  let lastReport = t0;
  try {
    while (log.cursor('uplink') < target) {
      await sleep(5);
      const now = performance.now();
      if (now - lastReport > 5000) {
        onProgress?.(log.cursor('uplink') - start);
        lastReport = now;
      }
      if (now - t0 > budgetMs) return { sec: (now - t0) / 1000, acked: log.cursor('uplink') - start, complete: false };
    }
    return { sec: (performance.now() - t0) / 1000, acked: target - start, complete: true };
  } finally {
    await uplink.stop();
  }
}

/** mqtt.js alone: the same payload bytes, QoS 1, the same number of publishes in flight. */
async function rawPublish(url: string, topic: string, payloads: Buffer[], inflight: number): Promise<number> {
  const client = await mqtt.connectAsync(url, { clientId: `bench-raw-${process.pid}`, clean: true, protocolVersion: 4 });
  try {
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      let done = 0;
      const sendOne = () => {
        const payload = payloads[next++]!;
        client.publish(topic, payload, { qos: 1 }, (err) => {
          if (err) return reject(err);
          if (++done === payloads.length) return resolve();
          if (next < payloads.length) sendOne();
        });
      };
      for (let i = 0; i < Math.min(inflight, payloads.length); i++) sendOne();
    });
    return (performance.now() - t0) / 1000;
  } finally {
    await client.endAsync();
  }
}

/** Uplink from a pre-filled log to a local mosquitto vs a raw mqtt.js loop of the same bytes. */
export async function benchUplink(rows: LogRecord[], dir: string, o: { batchMaxReadings: number; inflight: number } = UPLINK_DEFAULTS): Promise<UplinkBenchResult> {
  const broker = await startMosquitto();
  try {
    const log = openLog(join(dir, 'uplink-log.db'));
    try {
      fillLog(log, rows);
      const { sec } = await drain(log, broker.url, compactCodec, o);
      // The exact batches the uplink sent, encoded once, outside the timing.
      const payloads: Buffer[] = [];
      for (let after = 0; after < log.lastSeq(); ) {
        const records = log.readAfter(after, o.batchMaxReadings);
        const batch: Batch = { gateway: 'bench-gw', first: after + 1, last: records[records.length - 1]!.seq, evicted: [], readings: records };
        payloads.push(compactCodec.encode(batch));
        after = batch.last;
      }
      const rawSec = await rawPublish(broker.url, 'kedge/v1/kuzbass/kemerovo/bench-gw/data', payloads, o.inflight);
      const uplinkRate = rows.length / sec;
      const rawRate = rows.length / rawSec;
      return {
        readings: rows.length,
        codec: 'compact',
        batchMaxReadings: o.batchMaxReadings,
        inflight: o.inflight,
        uplinkReadingsPerSec: uplinkRate,
        rawReadingsPerSec: rawRate,
        ratio: uplinkRate / rawRate,
        messages: payloads.length,
      };
    } finally {
      log.close();
    }
  } finally {
    await broker.stop();
  }
}
