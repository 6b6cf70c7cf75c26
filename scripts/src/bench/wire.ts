import { compactCodec, jsonCodec, sparkplugCodec, type Batch, type Codec } from '@kedge/cloud-sync/codec/index.ts';
import { compactV2Codec } from '@kedge/cloud-sync/codec/compact.ts';
import type { LogRecord } from '@kedge/cloud-sync/model.ts';
import { dataTypeFor, encodePayload, type SpMetric } from '@kedge/cloud-sync/codec/sparkplug-payload.ts';
import { toBatches } from './meter-data.ts';
import { meterFleetPolls, randomRegisterPolls, type FleetPoll } from './wire-data.ts';

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

export interface WireSizeRow {
  scenario: string;
  pointsPerPoll: number;
  batchReadings: number;
  /** Payload bytes per reading of each format on the same readings. */
  compact: number;
  compactV2: number;
  json: number;
  /** Node-RED style: one bare JSON array of a device's raw register words per poll (no names, no times). */
  noderedArrays: number;
}

function payloadPerReading(codec: Codec, batches: Batch[], readings: number): number {
  let bytes = 0;
  for (const b of batches) bytes += codec.encode(b).length;
  return bytes / readings;
}

function sizeRow(scenario: string, polls: FleetPoll[], batchReadings: number): WireSizeRow {
  const readings = polls.flatMap((p) => p.readings);
  const batches = toBatches('kem-demo-01', readings, batchReadings).map((b) => ({ ...b, epoch: '9f2c4a1be0d37a55' }));
  let arrays = 0;
  for (const p of polls) for (const words of p.deviceWords) arrays += Buffer.byteLength(JSON.stringify(words));
  return {
    scenario,
    pointsPerPoll: polls[0]!.readings.length,
    batchReadings,
    compact: payloadPerReading(compactCodec, batches, readings.length),
    compactV2: payloadPerReading(compactV2Codec, batches, readings.length),
    json: payloadPerReading(jsonCodec, batches, readings.length),
    noderedArrays: arrays / readings.length,
  };
}

/**
 * Bytes per reading at the batch sizes a box with many points sends: the 22 demo meter points
 * (many polls per batch), 2,000 and 10,000 meter points (one poll per batch), and 10,000
 * random 16-bit registers (the worst case for values), for compact (version 3 and the version
 * 2 that older gateways send), json and Node-RED-style bare arrays, side by side.
 */
export function benchWireSizes(): WireSizeRow[] {
  return [
    sizeRow('22 meter points, batches of 2,000', meterFleetPolls(22, 1800), 2000),
    sizeRow('22 meter points, batches of 10,000', meterFleetPolls(22, 3600), 10_000),
    sizeRow('2,000 meter points, one poll a batch', meterFleetPolls(2000, 5), 2000),
    sizeRow('10,000 meter points, one poll a batch', meterFleetPolls(10_000, 3), 10_000),
    sizeRow('10,000 meter points, batches of 2,000', meterFleetPolls(10_000, 2), 2000),
    sizeRow('10,000 random 16-bit registers, one poll a batch', randomRegisterPolls(100, 100, 3), 10_000),
  ];
}
