/**
 * The independent witness of the side-by-side bench: its own process, its own MQTT connection
 * to the broker, counting the readings that actually arrived there, whoever sent them.
 *
 *   node --import tsx scripts/src/bench/delivery-counter.ts --url mqtt://127.0.0.1:1883 --topic 'kedge/v1/+/+/+/data' --topic 'bench/nodered/#'
 *
 * A kedge batch (any codec, told by its first byte) counts its readings once per (epoch, seq):
 * a batch sent again after a reconnect or a resend the center asked for is not delivery twice.
 * A Node-RED message (a JSON array: the holding registers of one poll) counts its elements.
 * Prints `count <readings> <messages> <epoch ms>` every 250 ms and `COUNTER READY` once subscribed.
 */
import { Command } from 'commander';
import mqtt from 'mqtt';
import { autoCodec } from '@kedge/cloud-sync/codec/detect.ts';
import { usageExit } from '../cli-args.ts';

/** Sequence numbers seen, per epoch: a bitmap that grows with the highest sequence. */
export class SeqSeen {
  private bits = new Uint8Array(1 << 16);

  /** True the first time `seq` is seen. */
  add(seq: number): boolean {
    const byte = seq >>> 3;
    if (byte >= this.bits.length) {
      let size = this.bits.length;
      while (size <= byte) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.bits);
      this.bits = grown;
    }
    const mask = 1 << (seq & 7);
    if (this.bits[byte]! & mask) return false;
    this.bits[byte]! |= mask;
    return true;
  }
}

/** Counts the readings in one message; kedge batches deduplicated by (epoch, seq) through `seen`. */
export function countMessage(payload: Buffer, seen: Map<string, SeqSeen>): number {
  if (payload[0] === 0x5b) {
    const values: unknown = JSON.parse(payload.toString('utf8'));
    return Array.isArray(values) ? values.length : 0;
  }
  const batch = autoCodec.decode(payload);
  const key = `${batch.gateway}/${batch.epoch ?? ''}`;
  let s = seen.get(key);
  if (!s) seen.set(key, (s = new SeqSeen()));
  let n = 0;
  for (const r of batch.readings) if (s.add(r.seq)) n++;
  return n;
}

async function main(): Promise<void> {
  const program = usageExit(
    new Command('delivery-counter')
      .description('counts the readings delivered to an MQTT broker (kedge batches and Node-RED arrays)')
      .requiredOption('--url <url>', 'broker URL')
      .option('--topic <filter>', 'topic filter (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[]),
  );
  program.parse();
  const o = program.opts<{ url: string; topic: string[] }>();
  const seen = new Map<string, SeqSeen>();
  let readings = 0;
  let messages = 0;
  let bad = 0;
  const client = mqtt.connect(o.url, { clientId: `bench-counter-${process.pid}`, clean: true, reconnectPeriod: 500 });
  client.on('message', (_topic, payload) => {
    messages++;
    try {
      readings += countMessage(payload, seen);
    } catch {
      // Not a reading message (a status, a birth): counted apart, never as delivery.
      bad++;
    }
  });
  client.on('connect', () => {
    client.subscribe(o.topic.length ? o.topic : ['#'], { qos: 1 }, (err) => {
      if (err) throw err;
      console.log('COUNTER READY');
    });
  });
  setInterval(() => console.log(`count ${readings} ${messages} ${Date.now()} ${bad}`), 250);
  const stop = () => client.end(true, () => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1]?.endsWith('delivery-counter.ts')) await main();
