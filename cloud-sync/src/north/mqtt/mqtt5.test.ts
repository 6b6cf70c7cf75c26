import test from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { MemoryLog } from '../memory-log.ts';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { jsonCodec } from '../../codec/json.ts';
import type { Reading } from '../../model.ts';
import { mqttSinkSchema } from './schema.ts';
import { Uplink, type UplinkOptions } from './uplink.ts';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const identity = { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'gw-v5' };
const DATA_TOPIC = 'kedge/v1/kuzbass/kemerovo/gw-v5/data';

/** One MQTT packet as the tap saw it on the wire. */
interface WirePacket {
  dir: 'up' | 'down';
  type: number;
  /** Whole packet, fixed header included. */
  bytes: number;
  qos?: number;
  packetId?: number;
  topic?: string;
  topicAlias?: number;
  payloadBytes?: number;
  /** CONNECT: the protocol level (4 = 3.1.1, 5). */
  level?: number;
}

function varint(buf: Buffer, at: number): { value: number; next: number } | null {
  let value = 0;
  let mult = 1;
  for (let i = at; i < buf.length && i < at + 4; i++) {
    value += (buf[i]! & 0x7f) * mult;
    if ((buf[i]! & 0x80) === 0) return { value, next: i + 1 };
    mult *= 128;
  }
  return null;
}

/** Reads the few fields the tests look at; a property other than Topic Alias ends the property scan (recorded as no alias). */
function decode(dir: 'up' | 'down', pkt: Buffer, bodyAt: number, level: number): WirePacket {
  const type = pkt[0]! >> 4;
  const body = pkt.subarray(bodyAt);
  const p: WirePacket = { dir, type, bytes: pkt.length };
  if (type === 1) p.level = body[6];
  if (type === 4) p.packetId = body.readUInt16BE(0);
  if (type === 3) {
    const qos = (pkt[0]! >> 1) & 3;
    const len = body.readUInt16BE(0);
    let at = 2 + len;
    p.qos = qos;
    p.topic = body.subarray(2, at).toString('utf8');
    if (qos > 0) {
      p.packetId = body.readUInt16BE(at);
      at += 2;
    }
    if (level === 5) {
      const props = varint(body, at)!;
      const end = props.next + props.value;
      if (props.value >= 3 && body[props.next] === 0x23) p.topicAlias = body.readUInt16BE(props.next + 1);
      at = end;
    }
    p.payloadBytes = body.length - at;
  }
  return p;
}

/**
 * A TCP relay in front of the broker that parses the MQTT packets going both ways: what the
 * broker sees, independent of the client library's own bookkeeping.
 */
async function startTap(t: test.TestContext, brokerPort: number): Promise<{ url: string; packets: WirePacket[]; maxOutstanding(): number }> {
  const packets: WirePacket[] = [];
  const outstanding = new Set<number>();
  let maxOutstanding = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(brokerPort, '127.0.0.1');
    sockets.add(inbound).add(outbound);
    let level = 4;
    const parser = (dir: 'up' | 'down') => {
      let buf = Buffer.alloc(0);
      return (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        for (;;) {
          const rl = varint(buf, 1);
          if (!rl || buf.length < rl.next + rl.value) return;
          const pkt = buf.subarray(0, rl.next + rl.value);
          buf = buf.subarray(rl.next + rl.value);
          const p = decode(dir, pkt, rl.next, level);
          if (p.level !== undefined) level = p.level;
          packets.push(p);
          if (dir === 'up' && p.type === 3 && p.qos === 1) outstanding.add(p.packetId!);
          if (dir === 'down' && p.type === 4) outstanding.delete(p.packetId!);
          maxOutstanding = Math.max(maxOutstanding, outstanding.size);
        }
      };
    };
    const up = parser('up');
    const down = parser('down');
    inbound.on('data', (c: Buffer) => {
      up(c);
      outbound.write(c);
    });
    outbound.on('data', (c: Buffer) => {
      down(c);
      inbound.write(c);
    });
    for (const s of [inbound, outbound]) {
      s.on('error', () => {});
      s.on('close', () => {
        inbound.destroy();
        outbound.destroy();
        sockets.delete(s);
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  const port = (server.address() as net.AddressInfo).port;
  return { url: `mqtt://127.0.0.1:${port}`, packets, maxOutstanding: () => maxOutstanding };
}

function readings(n: number): Reading[] {
  return Array.from({ length: n }, (_, i) => ({ point: `meter/p${i % 5}`, ts: 1_700_000_000_000 + i, value: i, quality: 'good' as const }));
}

function uplinkFor(t: test.TestContext, log: MemoryLog, url: string, extra: Partial<UplinkOptions>): Uplink {
  const uplink = new Uplink({
    log,
    identity,
    url,
    clientId: `kedge-${identity.gateway}-${Math.random().toString(16).slice(2)}`,
    codec: jsonCodec,
    batchMaxReadings: 20,
    batchMaxDelayMs: 0,
    inflight: 8,
    keepaliveSec: 30,
    reconnectMinMs: 100,
    reconnectMaxMs: 500,
    liveFirst: false,
    logger,
    ...extra,
  });
  t.after(() => uplink.stop());
  return uplink;
}

/** Runs an uplink over the tap until `n` readings are acknowledged; the probe's data messages, the tap's packets. */
async function deliver(t: test.TestContext, n: number, extra: Partial<UplinkOptions>, brokerConf = '') {
  const broker = await startMosquitto({ extraConf: brokerConf });
  t.after(() => broker.stop());
  const tap = await startTap(t, broker.port);
  const probe = await mqtt.connectAsync(broker.url, { clientId: `probe-${Math.random().toString(16).slice(2)}` });
  t.after(() => probe.endAsync());
  const got: Buffer[] = [];
  probe.on('message', (topic, payload) => {
    if (topic === DATA_TOPIC) got.push(payload);
  });
  await probe.subscribeAsync(DATA_TOPIC, { qos: 1 });
  const log = new MemoryLog();
  t.after(() => log.close());
  log.append(readings(n));
  log.flush();
  // The client's own view: a QoS 1 PUBLISH counts from the moment it is written until its PUBACK
  // is read, so it is never below what the broker has unacknowledged.
  const awaiting = new Set<number>();
  let maxAwaiting = 0;
  const onClient = (client: MqttClient) => {
    client.on('packetsend', (p) => {
      if (p.cmd === 'publish' && p.qos === 1) awaiting.add(p.messageId!);
      maxAwaiting = Math.max(maxAwaiting, awaiting.size);
    });
    client.on('packetreceive', (p) => {
      if (p.cmd === 'puback') awaiting.delete(p.messageId!);
    });
  };
  const uplink = uplinkFor(t, log, tap.url, { ...extra, onClient });
  uplink.start();
  await waitFor(() => log.cursor('uplink') === n, { what: `all ${n} readings acknowledged` });
  // Every batch has its PUBACK, so the broker has routed it: the probe gets it on its own link.
  const batches = n / 20;
  await waitFor(() => got.length >= batches, { what: `the probe got ${batches} batches` });
  const values = got.flatMap((m) => jsonCodec.decode(m).readings.map((r) => r.value));
  assert.deepEqual([...new Set(values)].sort((a, b) => Number(a) - Number(b)), readings(n).map((r) => r.value), 'every reading reached the probe');
  // The data topic's PUBLISHes: by name, or (MQTT 5) by the alias its first one registered.
  const publishes = tap.packets.filter((p) => p.dir === 'up' && p.type === 3);
  const alias = publishes.find((p) => p.topic === DATA_TOPIC)?.topicAlias;
  const dataUp = publishes.filter((p) => p.topic === DATA_TOPIC || (p.topic === '' && alias !== undefined && p.topicAlias === alias));
  return { tap, dataUp, uplink, maxAwaiting: () => maxAwaiting };
}

test('protocolVersion 5: every batch reaches a subscriber, and after the first the data topic goes as its topic alias only', async (t) => {
  const { tap, dataUp } = await deliver(t, 200, { protocolVersion: 5 });
  assert.equal(tap.packets.find((p) => p.type === 1)?.level, 5, 'CONNECT is MQTT 5');
  assert.equal(dataUp.length, 10, 'one PUBLISH per batch');
  const [first, ...rest] = dataUp;
  assert.equal(first!.topic, DATA_TOPIC, 'the first carries the name');
  assert.ok(first!.topicAlias !== undefined, 'and registers an alias for it');
  for (const p of rest) {
    assert.equal(p.topic, '', 'later ones carry no topic name');
    assert.equal(p.topicAlias, first!.topicAlias, 'but the alias');
  }
});

test('protocolVersion 5 saves the topic name on every batch after the first (bytes on the wire per batch, payload aside)', async (t) => {
  const v5 = await deliver(t, 100, { protocolVersion: 5 });
  const v4 = await deliver(t, 100, {});
  const overhead = (p: WirePacket) => p.bytes - p.payloadBytes!;
  const saved = overhead(v4.dataUp[1]!) - overhead(v5.dataUp[1]!);
  // Topic name gone (36 bytes), the alias property in (1 byte of property length + 3): 32 bytes a batch.
  assert.equal(saved, DATA_TOPIC.length - 4);
});

test("protocolVersion 5: with the broker's Receive Maximum 2 and inflight 8, never more than 2 publishes await their PUBACK, and nothing is lost", async (t) => {
  // mosquitto announces max_inflight_messages as its Receive Maximum in CONNACK.
  const { tap, dataUp, uplink, maxAwaiting } = await deliver(t, 400, { protocolVersion: 5, inflight: 8 }, 'max_inflight_messages 2');
  assert.equal(dataUp.length, 20, 'every batch went once');
  // At CONNACK the birth and the first batch go together: the limit is reached, and never passed.
  assert.equal(maxAwaiting(), 2, 'the client never had more than 2 publishes awaiting PUBACK');
  assert.ok(tap.maxOutstanding() <= 2, 'nor did the link in front of the broker');
  assert.equal(uplink.status().reconnects, 0, 'the broker never closed the link for exceeding it');
});

test('the default stays MQTT 3.1.1 (no aliases, the configured inflight)', async (t) => {
  const { tap, dataUp, maxAwaiting } = await deliver(t, 400, {}, 'max_inflight_messages 2');
  assert.equal(tap.packets.find((p) => p.type === 1)?.level, 4, 'CONNECT is 3.1.1');
  assert.equal(dataUp.length, 20);
  assert.ok(dataUp.every((p) => p.topic === DATA_TOPIC && p.topicAlias === undefined), 'every batch names its topic');
  // 3.1.1 has no Receive Maximum: the window's own 8 batches go at once (the birth was acknowledged before the first pump).
  assert.ok(maxAwaiting() > 2 && maxAwaiting() <= 9, `the configured inflight, not the broker's 2 (saw ${maxAwaiting()})`);
});

// Every broker-linked sink (Sparkplug too) has the same option: ../broker-link/shape.test.ts.
test('config: protocolVersion defaults to 4 on mqtt uplinks, takes 5, and names what is wrong otherwise', () => {
  const base = { name: 'center', url: 'mqtt://127.0.0.1:1883' };
  assert.equal(mqttSinkSchema.parse({ kind: 'mqtt', ...base }).protocolVersion, 4);
  assert.equal(mqttSinkSchema.parse({ kind: 'mqtt', ...base, protocolVersion: 5 }).protocolVersion, 5);
  for (const bad of [3, 6, '5']) {
    const r = mqttSinkSchema.safeParse({ kind: 'mqtt', ...base, protocolVersion: bad });
    assert.equal(r.success, false);
    assert.match(r.error!.issues[0]!.message, /must be 4 \(MQTT 3\.1\.1, the default\) or 5/);
    assert.deepEqual(r.error!.issues[0]!.path, ['protocolVersion']);
  }
});
