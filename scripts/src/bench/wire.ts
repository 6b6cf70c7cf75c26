import { compactCodec, jsonCodec, sparkplugCodec } from '@kedge/cloud-sync/codec/index.ts';
import type { LogRecord } from '@kedge/cloud-sync/model.ts';
import { dataTypeFor, encodePayload, type SpMetric } from '@kedge/cloud-sync/sparkplug/payload.ts';
import { toBatches } from './meter-data.ts';

export interface WireResult {
  codec: string;
  messages: number;
  payloadBytesPerReading: number;
  /** Payload plus MQTT PUBLISH framing (fixed header, topic, packet id) and the 4-byte PUBACK. */
  wireBytesPerReading: number;
}

const KEDGE_TOPIC = 'kedge/v1/kuzbass/kemerovo/kem-demo-01/data';

function mqttBytes(topic: string, payload: number): number {
  const remaining = 2 + Buffer.byteLength(topic) + 2 + payload;
  const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  return 1 + lengthBytes + remaining + 4;
}

/** Sparkplug DDATA as the Sparkplug uplink sends it: one message per device per batch, metrics by alias. */
function sparkplugDdata(batch: LogRecord[], aliases: Map<string, number>): Array<{ topic: string; payload: Buffer }> {
  const byDevice = new Map<string, SpMetric[]>();
  for (const r of batch) {
    if (!aliases.has(r.point)) aliases.set(r.point, aliases.size + 2);
    const device = r.point.slice(0, r.point.indexOf('/'));
    const list = byDevice.get(device) ?? [];
    list.push({ alias: aliases.get(r.point)!, timestamp: r.ts, datatype: dataTypeFor(r.value), value: r.value, quality: r.quality });
    byDevice.set(device, list);
  }
  return [...byDevice].map(([device, metrics], i) => ({
    topic: `spBv1.0/kemerovo/DDATA/kem-demo-01/${device}`,
    // Like the uplink: no datatype in DDATA (the host knows it from the DBIRTH).
    payload: encodePayload({ timestamp: batch[0]!.ts, seq: i % 256, metrics }, { datatypes: false }),
  }));
}

/** Bytes per reading of each codec on the same readings cut into uplink batches of `batchSize`. */
export function benchWire(readings: LogRecord[], batchSize: number): WireResult[] {
  const batches = toBatches('kem-demo-01', readings, batchSize);
  const out: WireResult[] = [];
  for (const codec of [jsonCodec, compactCodec, sparkplugCodec]) {
    let payload = 0;
    let wire = 0;
    for (const b of batches) {
      const n = codec.encode(b).length;
      payload += n;
      wire += mqttBytes(KEDGE_TOPIC, n);
    }
    out.push({ codec: codec.name === 'sparkplug' ? 'sparkplug (one payload, names)' : codec.name, messages: batches.length, payloadBytesPerReading: payload / readings.length, wireBytesPerReading: wire / readings.length });
  }
  const aliases = new Map<string, number>();
  let payload = 0;
  let wire = 0;
  let messages = 0;
  for (const b of batches) {
    for (const m of sparkplugDdata(b.readings, aliases)) {
      payload += m.payload.length;
      wire += mqttBytes(m.topic, m.payload.length);
      messages++;
    }
  }
  out.push({ codec: 'sparkplug DDATA (aliases)', messages, payloadBytesPerReading: payload / readings.length, wireBytesPerReading: wire / readings.length });
  return out;
}
