import test from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { MemoryLog } from '../memory-log.ts';
import { startTcpRelay, type TcpRelay } from '@kedge/testkit/tcp-relay.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import type { Reading } from '../../model.ts';
import { DataType, encodePayload } from '../../codec/sparkplug-payload.ts';
import { TestHost } from './test-host.ts';
import { REBIRTH_METRIC, SparkplugUplink, type SparkplugUplinkOptions } from './sparkplug-uplink.ts';
import { TEST_UPLINK_TIMING } from '../test-timing.ts';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const GROUP = 'kemerovo';
const NODE = 'gw-sp';
const METRICS = [
  { point: 'water/flow', datatype: DataType.Float },
  { point: 'water/volume', datatype: DataType.Double },
  { point: 'river/level', datatype: DataType.Int16 },
  { point: 'river/door', datatype: DataType.Boolean },
];

/** Decoded by Eclipse Tahu's decoder (sparkplug/test-host.ts), DDATA read with the born datatypes. */
interface Received {
  topic: string;
  qos: number;
  payload: { seq?: number; timestamp?: number; metrics: Array<{ name?: string; alias?: number; timestamp?: number; datatype?: number; value: unknown; isHistorical?: boolean }> };
}

const tempLog = (t: test.TestContext): MemoryLog => {
  const log = new MemoryLog();
  t.after(() => log.close());
  return log;
};

async function subscriber(t: test.TestContext, url: string): Promise<{ got: Received[]; client: mqtt.MqttClient }> {
  const client = await mqtt.connectAsync(url, { clientId: `host-${Math.random().toString(16).slice(2)}` });
  t.after(() => client.endAsync(true));
  const got: Received[] = [];
  const decoder = await TestHost.connect(url, 'kedge/never');
  t.after(() => decoder.close());
  client.on('message', (topic, payload, packet) => {
    const m = decoder.decode(topic, payload);
    const TYPES = DataType as Record<string, number>;
    const metrics = m.metrics.map((x) => ({ ...x, datatype: x.type === undefined ? undefined : TYPES[x.type] }));
    got.push({ topic, qos: packet.qos, payload: { seq: m.seq, timestamp: m.timestamp, metrics } });
  });
  await client.subscribeAsync('spBv1.0/#', { qos: 1 });
  return { got, client };
}

function uplinkFor(t: test.TestContext, log: MemoryLog, url: string, extra: Partial<SparkplugUplinkOptions> = {}): SparkplugUplink {
  const uplink = new SparkplugUplink({
    log,
    group: GROUP,
    edgeNode: NODE,
    url,
    clientId: `kedge-${NODE}-${Math.random().toString(16).slice(2)}`,
    metrics: METRICS,
    ...TEST_UPLINK_TIMING,
    logger,
    ...extra,
  });
  t.after(() => uplink.stop());
  return uplink;
}

/** A TCP relay whose connections the test can cut like a 4G modem losing its carrier. */
async function relay(t: test.TestContext, targetPort: number): Promise<TcpRelay> {
  const r = await startTcpRelay(targetPort);
  t.after(() => r.close());
  return r;
}

const reading = (point: string, value: Reading['value'], ts = Date.now()): Reading => ({ point, ts, value, quality: 'good' });
const ofType = (got: Received[], type: string) => got.filter((m) => m.topic.split('/')[2] === type);
const bdSeqOf = (p: Received['payload']) => p.metrics.find((m) => m.name === 'bdSeq')?.value;

test('without a device feed: births from the config (every device online), a backlog logged before the start follows as DDATA by alias at QoS 0', async (t) => {
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  const { got } = await subscriber(t, broker.url);
  const log = tempLog(t);
  const ts = Date.now();
  log.append([reading('water/flow', 12.5, ts), reading('river/level', -3, ts), reading('river/door', true, ts), reading('water/volume', null, ts)]);
  log.flush();
  const uplink = uplinkFor(t, log, broker.url);
  uplink.start();
  await waitFor(() => log.cursor('uplink') === 4, { what: 'the cursor after the delivery barrier of every DDATA' });
  await waitFor(() => ofType(got, 'DDATA').length === 2, { what: 'two DDATA messages' });

  const [nbirth] = ofType(got, 'NBIRTH');
  assert.equal(nbirth!.topic, 'spBv1.0/kemerovo/NBIRTH/gw-sp');
  assert.equal(nbirth!.payload.seq, 0);
  assert.equal(bdSeqOf(nbirth!.payload), 0);
  assert.deepEqual(
    nbirth!.payload.metrics.map((m) => [m.name, m.alias, m.datatype, m.value]),
    [
      ['bdSeq', 1, DataType.Int64, 0],
      [REBIRTH_METRIC, undefined, DataType.Boolean, false],
    ],
  );
  const dbirths = ofType(got, 'DBIRTH');
  assert.deepEqual(
    dbirths.map((m) => [m.topic, m.payload.metrics.map((x) => [x.name, x.alias, x.datatype])]),
    [
      ['spBv1.0/kemerovo/DBIRTH/gw-sp/water', [['flow', 2, DataType.Float], ['volume', 3, DataType.Double]]],
      ['spBv1.0/kemerovo/DBIRTH/gw-sp/river', [['level', 4, DataType.Int16], ['door', 5, DataType.Boolean]]],
    ],
  );
  const ddata = ofType(got, 'DDATA');
  assert.ok(ddata.every((m) => m.qos === 0), 'DDATA travels at QoS 0 (tck-id-payloads-ddata-qos)');
  const water = ddata.find((m) => m.topic === 'spBv1.0/kemerovo/DDATA/gw-sp/water')!;
  const river = ddata.find((m) => m.topic === 'spBv1.0/kemerovo/DDATA/gw-sp/river')!;
  assert.deepEqual(
    water.payload.metrics.map((m) => [m.name, m.alias, m.timestamp, m.value, m.isHistorical ?? false]),
    [
      [undefined, 2, ts, 12.5, false],
      [undefined, 3, ts, null, false],
    ],
  );
  assert.deepEqual(
    river.payload.metrics.map((m) => [m.alias, m.value]),
    [
      [4, -3],
      [5, true],
    ],
  );
});

test('seq counts every node message from NBIRTH = 0 and wraps from 255 to 0', async (t) => {
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  const { got } = await subscriber(t, broker.url);
  const log = tempLog(t);
  const ts = Date.now();
  log.append(Array.from({ length: 300 }, (_, i) => reading('water/flow', i, ts)));
  log.flush();
  const uplink = uplinkFor(t, log, broker.url, { batchMaxReadings: 1 });
  uplink.start();
  await waitFor(() => log.cursor('uplink') === 300, { what: 'all 300 readings acknowledged', timeoutMs: 20_000 });
  await waitFor(() => ofType(got, 'DDATA').length === 300, { what: '300 DDATA messages' });
  const seqs = got.filter((m) => m.payload.seq !== undefined).map((m) => m.payload.seq);
  // NBIRTH, two DBIRTHs, 300 DDATA: 303 messages numbered 0..255, 0..46.
  assert.deepEqual(
    seqs,
    Array.from({ length: 303 }, (_, i) => i % 256),
  );
  assert.deepEqual(
    ofType(got, 'DDATA').map((m) => m.payload.metrics[0]!.value),
    Array.from({ length: 300 }, (_, i) => i),
  );
});

test('a link cut without goodbye makes the broker publish the Will NDEATH with the bdSeq of the NBIRTH; the next session is bdSeq + 1', async (t) => {
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  const link = await relay(t, broker.port);
  const { got } = await subscriber(t, broker.url);
  const log = tempLog(t);
  const uplink = uplinkFor(t, log, `mqtt://127.0.0.1:${link.port}`, { keepaliveSec: 5 });
  uplink.start();
  await waitFor(() => ofType(got, 'NBIRTH').length === 1, { what: 'the first NBIRTH' });
  link.cut();
  link.restore();
  await waitFor(() => ofType(got, 'NDEATH').length === 1, { what: 'the Will NDEATH' });
  await waitFor(() => ofType(got, 'NBIRTH').length === 2, { what: 'the NBIRTH of the new session' });
  const [first, second] = ofType(got, 'NBIRTH');
  const [death] = ofType(got, 'NDEATH');
  assert.equal(death!.topic, 'spBv1.0/kemerovo/NDEATH/gw-sp');
  assert.equal(bdSeqOf(death!.payload), bdSeqOf(first!.payload));
  assert.equal(bdSeqOf(second!.payload), (bdSeqOf(first!.payload) as number) + 1);
  assert.equal(second!.payload.seq, 0);
});

test('readings logged during an outage arrive flagged is_historical; live ones do not', async (t) => {
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  const link = await relay(t, broker.port);
  const { got } = await subscriber(t, broker.url);
  const log = tempLog(t);
  let clock = Date.now();
  const uplink = uplinkFor(t, log, `mqtt://127.0.0.1:${link.port}`, { liveWindowMs: 60_000, now: () => clock });
  uplink.start();
  await waitFor(() => ofType(got, 'NBIRTH').length === 1, { what: 'the NBIRTH' });

  log.append([reading('water/flow', 1, clock)]);
  await waitFor(() => log.cursor('uplink') === 1, { what: 'the live reading acknowledged' });
  link.cut();
  await waitFor(() => uplink.status().state !== 'online', { what: 'the uplink to notice the cut' });
  log.append([reading('water/flow', 2, clock), reading('water/flow', 3, clock + 1000)]);
  log.flush();
  clock += 10 * 60_000; // the outage lasted ten minutes
  link.restore();
  await waitFor(() => log.cursor('uplink') === 3, { what: 'the backlog acknowledged after the outage', timeoutMs: 15_000 });
  log.append([reading('water/flow', 4, clock)]);
  await waitFor(() => log.cursor('uplink') === 4, { what: 'the next live reading acknowledged' });
  // The broker processed it; the host's own delivery may still be on its way.
  await waitFor(() => ofType(got, 'DDATA').flatMap((m) => m.payload.metrics).length >= 4, { what: 'the four values at the host' });

  const sent = ofType(got, 'DDATA').flatMap((m) => m.payload.metrics.map((x) => [x.value, x.isHistorical ?? false]));
  assert.deepEqual(sent, [
    [1, false],
    [2, true],
    [3, true],
    [4, false],
  ]);
});

test('NCMD Node Control/Rebirth makes the node publish NBIRTH (seq 0, same bdSeq) and every DBIRTH again', async (t) => {
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  const { got, client } = await subscriber(t, broker.url);
  const log = tempLog(t);
  const uplink = uplinkFor(t, log, broker.url);
  uplink.start();
  await waitFor(() => ofType(got, 'DBIRTH').length === 2, { what: 'the first births' });
  await client.publishAsync(
    'spBv1.0/kemerovo/NCMD/gw-sp',
    encodePayload({ timestamp: Date.now(), metrics: [{ name: REBIRTH_METRIC, datatype: DataType.Boolean, value: true }] }),
    { qos: 0 },
  );
  await waitFor(() => ofType(got, 'NBIRTH').length === 2 && ofType(got, 'DBIRTH').length === 4, { what: 'the rebirth' });
  const [first, again] = ofType(got, 'NBIRTH');
  assert.equal(again!.payload.seq, 0);
  assert.equal(bdSeqOf(again!.payload), bdSeqOf(first!.payload));
  assert.equal(uplink.births, 2);
});

test('protocolVersion 5: clean start without session expiry (Sparkplug B 3.0), births and QoS 1 DDATA within a broker Receive Maximum of 1', async (t) => {
  // mosquitto announces max_inflight_messages as its Receive Maximum: one DDATA per device of a batch must wait for the other's PUBACK.
  const broker = await startMosquitto({ extraConf: 'max_inflight_messages 1' });
  t.after(() => broker.stop());
  const { got } = await subscriber(t, broker.url);
  const log = tempLog(t);
  const ts = Date.now();
  log.append([reading('water/flow', 1.5, ts), reading('river/level', 7, ts), reading('river/door', false, ts), reading('water/volume', 2, ts)]);
  log.flush();
  // mqtt.js writes its CONNECT from these options while the client is built, before onClient sees it.
  let connect: mqtt.IClientOptions | null = null;
  const awaiting = new Set<number>();
  let maxAwaiting = 0;
  const onClient = (client: mqtt.MqttClient) => {
    connect = client.options;
    client.on('packetsend', (p) => {
      if (p.cmd === 'publish' && p.qos === 1) awaiting.add(p.messageId!);
      maxAwaiting = Math.max(maxAwaiting, awaiting.size);
    });
    client.on('packetreceive', (p) => {
      if (p.cmd === 'puback') awaiting.delete(p.messageId!);
    });
  };
  const uplink = uplinkFor(t, log, broker.url, { protocolVersion: 5, ddataQos: 1, onClient });
  uplink.start();
  await waitFor(() => log.cursor('uplink') === 4, { what: 'the cursor after both PUBACKs' });
  await waitFor(() => ofType(got, 'DDATA').length === 2, { what: 'two DDATA messages at the host' });
  const c = connect as mqtt.IClientOptions | null;
  assert.equal(c?.protocolVersion, 5);
  assert.equal(c?.clean, true, 'Clean Start (tck-id-principles-persistence-clean-session-50)');
  assert.equal(c?.properties?.sessionExpiryInterval ?? 0, 0, 'Session Expiry Interval 0');
  assert.equal(ofType(got, 'NBIRTH').length, 1);
  assert.equal(ofType(got, 'DBIRTH').length, 2);
  assert.deepEqual(ofType(got, 'DDATA').map((m) => m.topic).sort(), ['spBv1.0/kemerovo/DDATA/gw-sp/river', 'spBv1.0/kemerovo/DDATA/gw-sp/water']);
  assert.equal(maxAwaiting, 1, 'one publish awaiting PUBACK at a time');
  assert.equal(uplink.status().reconnects, 0);
});
