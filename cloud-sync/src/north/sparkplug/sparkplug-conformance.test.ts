import test from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { startMosquitto, type MosquittoHandle } from '@kedge/testkit/mosquitto.ts';
import { MemoryLog } from '../memory-log.ts';
import { startTcpRelay } from '@kedge/testkit/tcp-relay.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { startEmbeddedBroker } from '../../broker/embedded.ts';
import { QUALITIES, type Quality, type Reading, type Value } from '../../model.ts';
import { DataType, encodePayload } from '../../codec/sparkplug-payload.ts';
import type { CurrentValue, DevicePresence, SparkplugDevices } from './devices.ts';
import { tahu, TestHost, type HostMessage } from './test-host.ts';
import { BDSEQ_ALIAS, REBIRTH_METRIC, SparkplugUplink, type SparkplugUplinkOptions } from './sparkplug-uplink.ts';
import { TEST_UPLINK_TIMING } from '../test-timing.ts';

/**
 * Sparkplug B 3.0 rules, each checked by its requirement id (tck-id-...) on messages decoded
 * with Eclipse Tahu's decoder (sparkplug-payload), against mosquitto.
 */

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
/** Generous: a loaded 2-core CI machine. */
const DELIVERY_TIMEOUT_MS = 20_000;

let broker: MosquittoHandle;
test.before(async () => {
  broker = await startMosquitto({ extraConf: 'log_type subscribe\nlog_type unsubscribe' });
});
test.after(() => broker.stop());

let groups = 0;
const newGroup = () => `g${++groups}-${process.pid}`;
const NODE = 'gw-sp';

/** The gateway's side of the seam, driven by the test. */
class FakeDevices implements SparkplugDevices {
  private readonly presences = new Map<string, DevicePresence>();
  readonly values = new Map<string, CurrentValue>();
  readonly types = new Map<string, string>();
  private readonly listeners = new Set<(d: string, p: DevicePresence, ts: number) => void>();
  presence(device: string): DevicePresence {
    return this.presences.get(device) ?? 'unknown';
  }
  current(point: string): CurrentValue | undefined {
    return this.values.get(point);
  }
  pointType(point: string): string | undefined {
    return this.types.get(point);
  }
  scaled(): boolean {
    return false;
  }
  onPresence(l: (d: string, p: DevicePresence, ts: number) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  set(point: string, value: Value, quality: Quality = 'good', ts = Date.now()): void {
    this.values.set(point, { value, quality, ts });
  }
  report(device: string, presence: DevicePresence, ts = Date.now()): void {
    this.presences.set(device, presence);
    for (const l of this.listeners) l(device, presence, ts);
  }
}

const tempLog = (t: test.TestContext): MemoryLog => {
  const log = new MemoryLog();
  t.after(() => log.close());
  return log;
};

async function hostFor(t: test.TestContext, group: string): Promise<TestHost> {
  const host = await TestHost.connect(broker.url, `spBv1.0/${group}/#`);
  t.after(() => {
    // Whatever else a test checks: everything the node published decoded with Tahu's decoder.
    const bad = host.got.filter((m) => m.type !== 'NCMD' && m.type !== 'DCMD' && m.error !== undefined);
    assert.deepEqual(bad.map((m) => [m.topic, m.error]), []);
    return host.close();
  });
  return host;
}

function uplinkFor(t: test.TestContext, log: MemoryLog, group: string, extra: Partial<SparkplugUplinkOptions> = {}): SparkplugUplink {
  const uplink = new SparkplugUplink({
    log,
    group,
    edgeNode: NODE,
    url: broker.url,
    clientId: `kedge-${group}`,
    metrics: [
      { point: 'water/flow', datatype: DataType.Float },
      { point: 'water/volume', datatype: DataType.Double },
      { point: 'river/level', datatype: DataType.Int16 },
      { point: 'river/door', datatype: DataType.Boolean },
    ],
    ...TEST_UPLINK_TIMING,
    logger,
    ...extra,
  });
  t.after(() => uplink.stop());
  return uplink;
}

const reading = (point: string, value: Value, ts = Date.now(), quality: Quality = 'good'): Reading => ({ point, ts, value, quality });
const values = (m: HostMessage) => m.metrics.map((x) => [x.alias, x.value]);
/** Mosquitto's own record of a subscription: "<client id> <granted qos> <filter>". */
const subscribedQos = (clientId: string, filter: string): number | undefined => {
  const line = broker
    .output()
    .split('\n')
    .find((l) => l.endsWith(` ${clientId} 1 ${filter}`) || l.endsWith(` ${clientId} 0 ${filter}`) || l.endsWith(` ${clientId} 2 ${filter}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-2));
};

test('NBIRTH: QoS 0, seq 0, bdSeq Int64 with an alias, Node Control/Rebirth Boolean false WITHOUT alias; DBIRTH: every metric with name, alias, datatype and current value', async (t) => {
  const group = newGroup();
  const host = await hostFor(t, group);
  const devices = new FakeDevices();
  const ts = Date.now() - 500;
  devices.set('water/flow', 12.5, 'good', ts);
  devices.set('water/volume', 1234.25, 'good', ts);
  devices.set('river/level', -3, 'good', ts);
  devices.set('river/door', null, 'bad_device_error', ts);
  devices.report('water', 'online');
  devices.report('river', 'online');
  uplinkFor(t, tempLog(t), group, { devices }).start();
  const [nbirth, ...dbirths] = await host.until((g) => (g.filter((m) => m.type.endsWith('BIRTH')).length === 3 ? g : undefined), 'NBIRTH and two DBIRTHs');

  assert.equal(nbirth!.type, 'NBIRTH');
  assert.equal(nbirth!.qos, 0, 'tck-id-topics-nbirth-mqtt / tck-id-payloads-nbirth-qos: QoS 0');
  assert.equal(nbirth!.retain, false, 'tck-id-payloads-nbirth-retain');
  assert.equal(nbirth!.seq, 0, 'tck-id-topics-nbirth-seq-num');
  assert.ok(nbirth!.timestamp! >= ts, 'tck-id-payloads-nbirth-timestamp');
  const bdSeq = nbirth!.metrics.find((m) => m.name === 'bdSeq')!;
  assert.deepEqual([bdSeq.type, bdSeq.value, bdSeq.alias], ['Int64', 0, BDSEQ_ALIAS], 'tck-id-payloads-nbirth-bdseq, tck-id-payloads-alias-birth-requirement');
  const rebirth = nbirth!.metrics.find((m) => m.name === REBIRTH_METRIC)!;
  assert.deepEqual([rebirth.type, rebirth.value], ['Boolean', false], 'tck-id-operational-behavior-data-commands-rebirth-datatype/-value');
  assert.equal(rebirth.alias, undefined, 'tck-id-operational-behavior-data-commands-rebirth-name-aliases: no alias on Node Control/Rebirth');
  assert.ok(nbirth!.metrics.every((m) => m.timestamp !== undefined), 'tck-id-payloads-name-birth-data-requirement');

  assert.deepEqual(
    dbirths.map((m) => [m.topic, m.qos, m.seq, m.metrics.map((x) => [x.name, x.alias, x.type, x.value, x.timestamp, x.quality])]),
    [
      [`spBv1.0/${group}/DBIRTH/gw-sp/water`, 0, 1, [['flow', 2, 'Float', 12.5, ts, undefined], ['volume', 3, 'Double', 1234.25, ts, undefined]]],
      // tck-id-operational-behavior-data-publish-dbirth-values: the current value; null (is_null) only when the device has none.
      [`spBv1.0/${group}/DBIRTH/gw-sp/river`, 0, 2, [['level', 4, 'Int16', -3, ts, undefined], ['door', 5, 'Boolean', null, ts, 0]]],
    ],
    'tck-id-message-flow-device-birth-publish-dbirth-qos, tck-id-payloads-dbirth-seq-inc, tck-id-topics-dbirth-metrics',
  );
  const aliases = [bdSeq, ...dbirths.flatMap((m) => m.metrics)].map((m) => m.alias);
  assert.equal(new Set(aliases).size, aliases.length, 'tck-id-payloads-alias-uniqueness');
});

test('DDATA: QoS 0 by default, alias only (no name, no datatype), every metric timestamped, seq one more than the message before', async (t) => {
  const group = newGroup();
  const host = await hostFor(t, group);
  const log = tempLog(t);
  const uplink = uplinkFor(t, log, group);
  uplink.start();
  await host.until((g) => g.filter((m) => m.type === 'DBIRTH').length === 2, 'the births');
  const ts = Date.now();
  log.append([reading('water/flow', 12.5, ts), reading('river/level', -3, ts + 1), reading('river/door', true, ts + 2)]);
  await waitFor(() => log.cursor('uplink') === 3, { what: 'the cursor after the delivery barrier', timeoutMs: DELIVERY_TIMEOUT_MS });
  const ddata = await host.until((g) => (g.filter((m) => m.type === 'DDATA').length === 2 ? g.filter((m) => m.type === 'DDATA') : undefined), 'two DDATA');

  assert.deepEqual(ddata.map((m) => [m.device, m.qos, m.retain, m.seq]), [['water', 0, false, 3], ['river', 0, false, 4]], 'tck-id-payloads-ddata-qos, tck-id-payloads-ddata-retain, tck-id-payloads-ddata-seq-inc');
  for (const m of ddata) {
    assert.ok(m.timestamp! >= ts, 'tck-id-payloads-ddata-timestamp');
    for (const x of m.metrics) {
      assert.equal(x.name, undefined, 'tck-id-payloads-alias-data-cmd-requirement: alias only');
      assert.equal(x.datatypeOnWire, false, 'tck-id-payloads-metric-datatype-not-req');
      assert.ok(x.timestamp !== undefined, 'tck-id-payloads-name-birth-data-requirement');
    }
  }
  assert.deepEqual(ddata.map(values), [[[2, 12.5]], [[4, -3], [5, true]]]);
  assert.deepEqual(ddata[1]!.metrics.map((x) => x.timestamp), [ts + 1, ts + 2]);
});

test('DDATA at QoS 0 counts as delivered only after the broker answered a round trip sent behind it: a lost downstream keeps the cursor and the data is sent again', async (t) => {
  const group = newGroup();
  const relay = await startTcpRelay(broker.port);
  t.after(() => relay.close());
  const host = await hostFor(t, group);
  const log = tempLog(t);
  const devices = new FakeDevices();
  const t0 = Date.now();
  for (const p of ['water/flow', 'water/volume', 'river/level', 'river/door']) devices.set(p, p === 'river/door' ? false : 0, 'good', t0 - 10);
  devices.report('water', 'online');
  devices.report('river', 'online');
  const uplink = uplinkFor(t, log, group, { url: `mqtt://127.0.0.1:${relay.port}`, devices });
  uplink.start();
  await host.until((g) => g.filter((m) => m.type === 'DBIRTH').length === 2, 'the births');
  relay.holdDownstream();
  log.append([reading('water/flow', 1, t0), reading('water/flow', 2, t0 + 1)]);
  devices.set('water/flow', 2, 'good', t0 + 1);
  // The host has the DDATA, so the broker processed it; the gateway has not heard so.
  await host.until((g) => g.some((m) => m.type === 'DDATA'), 'the DDATA at the host');
  assert.equal(log.cursor('uplink'), 0, 'no proof of delivery reached the gateway: the cursor stays');
  assert.ok(uplink.status().inflight > 0);
  const firstSession = host.got.length;
  relay.cut();
  relay.restore();
  await waitFor(() => log.cursor('uplink') === 2, { what: 'the resend after the reconnect acknowledged', timeoutMs: DELIVERY_TIMEOUT_MS });
  const again = await host.until((g) => {
    const s = g.slice(firstSession);
    return s.some((m) => m.type === 'DDATA') ? s : undefined;
  }, 'the resent DDATA at the host');
  // Nothing lost: the new session's DBIRTH carries the newest value (2), the older one follows as history.
  const birth = again.find((m) => m.type === 'DBIRTH' && m.device === 'water')!;
  assert.equal(birth.metrics.find((m) => m.name === 'flow')!.value, 2);
  assert.deepEqual(
    again.filter((m) => m.type === 'DDATA').flatMap((m) => m.metrics.map((x) => [x.value, x.timestamp, x.isHistorical])),
    [[1, t0, true]],
    'older than the current value the DBIRTH gave: is_historical; the reading the DBIRTH carried is not repeated',
  );
});

test('uplink.sparkplug.ddataQos 1: DDATA at QoS 1, cursor on PUBACK (the option kept beside the QoS 0 default)', async (t) => {
  const group = newGroup();
  const host = await hostFor(t, group);
  const log = tempLog(t);
  uplinkFor(t, log, group, { ddataQos: 1 }).start();
  log.append([reading('water/flow', 7)]);
  await waitFor(() => log.cursor('uplink') === 1, { what: 'the PUBACK', timeoutMs: DELIVERY_TIMEOUT_MS });
  const [ddata] = await host.until((g) => (g.some((m) => m.type === 'DDATA') ? g.filter((m) => m.type === 'DDATA') : undefined), 'the DDATA');
  assert.equal(ddata!.qos, 1);
  assert.equal(host.ofType('NBIRTH')[0]!.qos, 0, 'births stay at QoS 0 (tck-id-payloads-nbirth-qos)');
});

test('NCMD and DCMD are subscribed at QoS 1 before the NBIRTH (tck-id-message-flow-edge-node-ncmd-subscribe, tck-id-message-flow-device-dcmd-subscribe)', async (t) => {
  // A broker of its own that logs every packet it processes, in the order it processes them.
  const traced = await startMosquitto({ extraConf: 'log_type debug\nlog_type subscribe' });
  t.after(() => traced.stop());
  const group = newGroup();
  const host = await TestHost.connect(traced.url, `spBv1.0/${group}/#`);
  t.after(() => host.close());
  const clientId = `kedge-${group}`;
  const uplink = uplinkFor(t, tempLog(t), group, { url: traced.url, clientId, write: async () => ({ value: 1, quality: 'good', ts: Date.now() }) });
  uplink.start();
  await host.until((g) => g.some((m) => m.type === 'NBIRTH'), 'the NBIRTH');
  const nbirthLine = `Received PUBLISH from ${clientId} (d0, q0, r0, m0, 'spBv1.0/${group}/NBIRTH/gw-sp'`;
  // The broker's log reaches this process through a pipe: wait for the NBIRTH's line, then read the order.
  const lines = await waitFor(() => {
    const l = traced.output().split('\n');
    return l.some((x) => x.includes(nbirthLine)) ? l : undefined;
  }, { what: "mosquitto's record of the NBIRTH" });
  const at = (suffix: string) => lines.findIndex((l) => l.endsWith(suffix));
  const nbirth = lines.findIndex((l) => l.includes(nbirthLine));
  for (const filter of [`spBv1.0/${group}/NCMD/gw-sp`, `spBv1.0/${group}/DCMD/gw-sp/+`]) {
    const granted = at(` ${clientId} 1 ${filter}`);
    assert.ok(granted >= 0, `the broker holds ${filter} at QoS 1 (its record: ${lines.filter((l) => l.endsWith(` ${filter}`)).join(' | ')})`);
    assert.ok(granted < nbirth, `${filter} was in place (line ${granted}) before the broker received the NBIRTH (line ${nbirth})`);
  }
});

test('Rebirth request by name (tck-id-operational-behavior-data-commands-ncmd-rebirth-name/-value): NBIRTH seq 0 with the same bdSeq (rebirth-action-3) and every DBIRTH again', async (t) => {
  const group = newGroup();
  const host = await hostFor(t, group);
  const uplink = uplinkFor(t, tempLog(t), group);
  uplink.start();
  await host.until((g) => g.filter((m) => m.type === 'DBIRTH').length === 2, 'the first births');
  await host.command(`spBv1.0/${group}/NCMD/gw-sp`, [{ name: REBIRTH_METRIC, type: 'Boolean', value: true }]);
  await host.until((g) => g.filter((m) => m.type === 'NBIRTH').length === 2 && g.filter((m) => m.type === 'DBIRTH').length === 4, 'the rebirth');
  const [first, again] = host.ofType('NBIRTH');
  assert.equal(again!.seq, 0);
  assert.equal(again!.metrics.find((m) => m.name === 'bdSeq')!.value, first!.metrics.find((m) => m.name === 'bdSeq')!.value);
  assert.equal(uplink.births, 2);
});

test('bdSeq counts sessions established, not connect attempts (tck-id-topics-nbirth-bdseq-increment); the Will NDEATH has the NBIRTH bdSeq and no timestamp', async (t) => {
  const group = newGroup();
  const relay = await startTcpRelay(broker.port);
  t.after(() => relay.close());
  const host = await hostFor(t, group);
  const uplink = uplinkFor(t, tempLog(t), group, { url: `mqtt://127.0.0.1:${relay.port}` });
  uplink.start();
  await host.until((g) => g.some((m) => m.type === 'NBIRTH'), 'the first NBIRTH');
  relay.cut();
  await host.until((g) => g.some((m) => m.type === 'NDEATH'), 'the Will NDEATH');
  const before = uplink.status().reconnects;
  await waitFor(() => uplink.status().reconnects >= before + 3, { what: 'three failed connect attempts', timeoutMs: DELIVERY_TIMEOUT_MS });
  relay.restore();
  await host.until((g) => g.filter((m) => m.type === 'NBIRTH').length === 2, 'the NBIRTH of the second session', DELIVERY_TIMEOUT_MS);
  const [first, second] = host.ofType('NBIRTH');
  const [will] = host.ofType('NDEATH');
  const bdSeq = (m: HostMessage) => m.metrics.find((x) => x.name === 'bdSeq')!.value;
  assert.equal(bdSeq(will!), bdSeq(first!), 'tck-id-payloads-ndeath-bdseq');
  assert.equal(will!.seq, undefined, 'tck-id-payloads-ndeath-seq: no seq');
  assert.equal(will!.timestamp, undefined, 'the Will is published at an unknown time: it carries no misleading timestamp');
  assert.equal(bdSeq(second!), (bdSeq(first!) as number) + 1, 'the failed attempts in between did not count');
});

test('Quality property: Int32 0 (bad) or 500 (stale) when not good, absent when good (tck-id-payloads-propertyset-quality-value-type/-value)', async (t) => {
  const group = newGroup();
  const host = await hostFor(t, group);
  const log = tempLog(t);
  uplinkFor(t, log, group).start();
  // Every kedge quality there is (a new one must get a row below).
  const qualities: readonly Quality[] = QUALITIES;
  const ts = Date.now();
  log.append(qualities.map((q, i) => reading('water/volume', q.startsWith('bad') ? null : i, ts + i, q)));
  await waitFor(() => log.cursor('uplink') === qualities.length, { what: 'delivery', timeoutMs: DELIVERY_TIMEOUT_MS });
  const metrics = await host.until((g) => {
    const m = g.filter((x) => x.type === 'DDATA').flatMap((x) => x.metrics);
    return m.length === qualities.length ? m : undefined;
  }, 'every reading');
  assert.deepEqual(
    metrics.map((m) => [m.value, m.quality, m.properties?.Quality?.type, m.properties?.['kedge/quality']?.value]),
    [
      [0, undefined, undefined, undefined],
      [1, 500, 'Int32', 'uncertain'],
      [null, 0, 'Int32', 'bad_no_response'],
      [null, 0, 'Int32', 'bad_device_error'],
      [null, 0, 'Int32', 'bad_comm'],
      [null, 0, 'Int32', 'bad_decode'],
      [null, 0, 'Int32', 'bad_config'],
      [7, 500, 'Int32', 'uncertain_clock'],
    ],
  );
});

test('datatypes are fixed at birth from the point metadata (the OPC UA DataType) and every later value is converted to them: no null, no second DBIRTH', async (t) => {
  const group = newGroup();
  const host = await hostFor(t, group);
  const log = tempLog(t);
  const devices = new FakeDevices();
  // An OPC UA Double setpoint whose first value happens to be integral, an Int32 counter, a Float.
  devices.types.set('plc/setpoint', 'float64');
  devices.types.set('plc/count', 'int32');
  devices.types.set('plc/temp', 'float32');
  devices.set('plc/setpoint', 20);
  devices.set('plc/count', 5);
  devices.set('plc/temp', 1.5);
  devices.report('plc', 'online');
  uplinkFor(t, log, group, { devices, metrics: [{ point: 'plc/setpoint' }, { point: 'plc/count' }, { point: 'plc/temp' }] }).start();
  const [dbirth] = await host.until((g) => (g.some((m) => m.type === 'DBIRTH') ? g.filter((m) => m.type === 'DBIRTH') : undefined), 'the DBIRTH');
  assert.deepEqual(dbirth!.metrics.map((m) => [m.name, m.type, m.value]), [['setpoint', 'Double', 20], ['count', 'Int32', 5], ['temp', 'Float', 1.5]]);
  const ts = Date.now();
  log.append([reading('plc/setpoint', 20.5, ts), reading('plc/setpoint', 20.1, ts + 1), reading('plc/count', 7.6, ts + 2), reading('plc/count', '12', ts + 3), reading('plc/temp', 2, ts + 4)]);
  await waitFor(() => log.cursor('uplink') === 5, { what: 'delivery', timeoutMs: DELIVERY_TIMEOUT_MS });
  const metrics = await host.until((g) => {
    const m = g.filter((x) => x.type === 'DDATA').flatMap((x) => x.metrics);
    return m.length === 5 ? m : undefined;
  }, 'every value');
  // Read with the born datatype (the host's view): 20.1 as a Double is exactly 20.1.
  assert.deepEqual(metrics.map((m) => [m.type, m.value]), [['Double', 20.5], ['Double', 20.1], ['Int32', 8], ['Int32', 12], ['Float', 2]]);
  assert.equal(host.ofType('DBIRTH').length, 1, 'no extra birth for a value of another JavaScript type');
});

test('DDEATH when the device is lost, in log order (its readings before the loss still go out first); nothing while dead; DBIRTH with current values when it returns', async (t) => {
  const group = newGroup();
  const host = await hostFor(t, group);
  const log = tempLog(t);
  const devices = new FakeDevices();
  devices.set('river/level', 10);
  devices.set('river/door', false);
  devices.set('water/flow', 1);
  devices.set('water/volume', 2);
  devices.report('river', 'online');
  devices.report('water', 'online');
  uplinkFor(t, log, group, { devices, batchMaxDelayMs: 0 }).start();
  await host.until((g) => g.filter((m) => m.type === 'DBIRTH').length === 2, 'the births');

  const t0 = Date.now();
  log.append([reading('river/level', 11, t0)]);
  log.flush();
  // The loss is reported after the last good reading was logged but maybe before it was sent,
  // with a loss time well before the report (the gateway gave up only after its retries).
  const lostAt = t0 - 30_000;
  const reportedAt = Date.now();
  devices.report('river', 'offline', lostAt);
  log.append([reading('river/level', null, t0 + 2, 'bad_no_response'), reading('water/flow', 3, t0 + 3)]);
  await waitFor(() => log.cursor('uplink') === 3, { what: 'delivery of the outage readings', timeoutMs: DELIVERY_TIMEOUT_MS });
  await host.until((g) => g.some((m) => m.type === 'DDEATH'), 'the DDEATH');

  devices.set('river/level', 12, 'good', t0 + 10);
  devices.set('river/door', true, 'good', t0 + 10);
  log.append([reading('river/level', 12, t0 + 10), reading('river/door', true, t0 + 10)]);
  log.flush();
  devices.report('river', 'online', t0 + 11);
  log.append([reading('river/level', 13, t0 + 20)]);
  await waitFor(() => log.cursor('uplink') === 6, { what: 'delivery after the return', timeoutMs: DELIVERY_TIMEOUT_MS });
  await host.until((g) => g.filter((m) => m.type === 'DDATA' && m.device === 'river').length >= 2, 'river data after the return');

  assert.deepEqual(
    host.got.filter((m) => m.device === 'river').map((m) => [m.type, m.metrics.map((x) => x.value)]),
    [
      ['DBIRTH', [10, false]],
      ['DDATA', [11]],
      ['DDEATH', []],
      // No DDATA with null between death and birth (the outage is the DDEATH), and the readings
      // logged before the return are in the DBIRTH as current values, not repeated after it.
      ['DBIRTH', [12, true]],
      ['DDATA', [13]],
    ],
  );
  assert.deepEqual(host.ofType('DDATA', 'water').map(values), [[[2, 3]]], 'other devices carry on');
  const death = host.ofType('DDEATH')[0]!;
  assert.equal(death.qos, 0, 'tck-id-topics-ddeath-mqtt');
  // tck-id-payloads-ddeath-timestamp: "DDEATH messages MUST include a payload timestamp that
  // denotes the time at which the message was published" (Sparkplug B 3.0, chapter Payloads, DDEATH), not the loss time.
  assert.notEqual(death.timestamp, lostAt, 'tck-id-payloads-ddeath-timestamp: not the loss time');
  assert.ok(
    death.timestamp! >= reportedAt && death.timestamp! <= death.receivedAt,
    `tck-id-payloads-ddeath-timestamp: published after the loss was reported (${reportedAt}) and before the host had it (${death.receivedAt}): ${death.timestamp}`,
  );
  const seqs = host.got.filter((m) => m.seq !== undefined).map((m) => m.seq!);
  assert.deepEqual(seqs, seqs.map((_, i) => i), 'tck-id-payloads-ddeath-seq-inc: DDEATH and DBIRTH take their place in the seq');
});

test('births wait for every device\'s first poll, so DBIRTH values are current (tck-id-operational-behavior-data-publish-dbirth-values); the wait is bounded and a late device gets its DBIRTH when it answers', async (t) => {
  const group = newGroup();
  const host = await hostFor(t, group);
  const devices = new FakeDevices();
  const uplink = uplinkFor(t, tempLog(t), group, { devices, write: async () => ({ value: 0, quality: 'good', ts: 0 }) });
  uplink.start();
  await waitFor(() => uplink.awaitingFirstPolls, { what: 'the node connected, subscribed and waiting' });
  assert.equal(uplink.births, 0, 'no birth before the first poll');
  devices.set('water/flow', 4.5);
  devices.set('water/volume', 9);
  devices.report('water', 'online');
  assert.ok(uplink.awaitingFirstPolls && uplink.births === 0, 'still waiting for river');
  devices.set('river/level', 3);
  devices.set('river/door', true);
  devices.report('river', 'online');
  assert.equal(uplink.births, 1, 'born as soon as the last device answered');
  await host.until((g) => g.filter((m) => m.type === 'DBIRTH').length === 2, 'both DBIRTHs');
  assert.deepEqual(host.ofType('DBIRTH').map((m) => m.metrics.map((x) => x.value)), [[4.5, 9], [3, true]]);

  // Bounded: with no wait left, the node is born without the device that has not answered.
  const group2 = newGroup();
  const host2 = await hostFor(t, group2);
  const devices2 = new FakeDevices();
  devices2.set('water/flow', 1);
  devices2.set('water/volume', 1);
  devices2.report('water', 'online');
  uplinkFor(t, tempLog(t), group2, { devices: devices2, birthWaitMs: 0 }).start();
  await host2.until((g) => g.some((m) => m.type === 'DBIRTH'), 'the water DBIRTH');
  assert.deepEqual(host2.got.map((m) => [m.type, m.device]), [['NBIRTH', undefined], ['DBIRTH', 'water']]);
  devices2.set('river/level', 8);
  devices2.set('river/door', false);
  devices2.report('river', 'online');
  const late = await host2.until((g) => g.find((m) => m.type === 'DBIRTH' && m.device === 'river'), 'the late DBIRTH');
  assert.deepEqual(late.metrics.map((x) => x.value), [8, false]);
});

test('DCMD: by alias without datatype, or by name with one (Tahu host); the write goes through the injected write path and the read-back value comes back in a DDATA', async (t) => {
  const group = newGroup();
  const host = await hostFor(t, group);
  const devices = new FakeDevices();
  for (const [p, v] of [['water/flow', 1], ['water/volume', 2], ['river/level', 3], ['river/door', false]] as const) devices.set(p, v);
  devices.report('water', 'online');
  devices.report('river', 'online');
  const writes: Array<[string, string, unknown]> = [];
  const write = async (device: string, point: string, value: Exclude<Value, null>) => {
    writes.push([device, point, value]);
    if (point === 'door') throw new Error('river/door is not writable');
    // The device clamps the setpoint: the read-back differs from what was asked.
    const readBack = Math.min(Number(value), 100);
    devices.set(`${device}/${point}`, readBack);
    return { value: readBack, quality: 'good' as const, ts: Date.now() };
  };
  uplinkFor(t, tempLog(t), group, { devices, write }).start();
  await host.until((g) => g.filter((m) => m.type === 'DBIRTH').length === 2, 'the births');

  // A host that follows tck-id-payloads-alias-data-cmd-requirement and -datatype-not-req.
  await host.client.publishAsync(`spBv1.0/${group}/DCMD/gw-sp/river`, encodePayload({ timestamp: Date.now(), metrics: [{ alias: 4, datatype: DataType.Int16, value: 250 }] }, { datatypes: false }));
  const first = await host.until((g) => g.find((m) => m.type === 'DDATA' && m.device === 'river'), 'the answer to the alias DCMD');
  assert.deepEqual(values(first), [[4, 100]], 'answered with the value read back, not the one asked for');
  // Tahu's encoder: name and datatype.
  await host.command(`spBv1.0/${group}/DCMD/gw-sp/river`, [{ name: 'door', type: 'Boolean', value: true }]);
  const refused = await host.until((g) => g.filter((m) => m.type === 'DDATA' && m.device === 'river')[1], 'the answer to the refused DCMD');
  assert.deepEqual(values(refused), [[5, false]], 'a refused write is answered with the unchanged value');
  assert.deepEqual(writes, [['river', 'level', 250], ['river', 'door', true]]);

  // Attacks: an alias of another device under this device's topic, garbage, an unknown name.
  await host.client.publishAsync(`spBv1.0/${group}/DCMD/gw-sp/water`, encodePayload({ metrics: [{ alias: 4, datatype: DataType.Int16, value: 1 }] }, { datatypes: false }));
  await host.client.publishAsync(`spBv1.0/${group}/DCMD/gw-sp/water`, Buffer.from([0xff, 0x00, 0x13, 0x37]));
  await host.command(`spBv1.0/${group}/DCMD/gw-sp/water`, [{ name: 'no-such-point', type: 'Double', value: 1 }]);
  // Commands are handled in order: once this one is answered, the three before it were handled.
  await host.command(`spBv1.0/${group}/DCMD/gw-sp/water`, [{ name: 'volume', type: 'Double', value: 5 }]);
  const last = await host.until((g) => g.find((m) => m.type === 'DDATA' && m.device === 'water'), 'the answer to the valid water DCMD');
  assert.deepEqual(values(last), [[3, 5]]);
  assert.deepEqual(writes.slice(2), [['water', 'volume', 5]], 'nothing else reached the write path');
});

/** Writes a device may have waiting behind the one in flight, in the flood test (a small bound, to see it). */
const QUEUED_WRITES = 4;
const DCMD_FLOOD = 200;

test('a DCMD flood (200 at once): one write in flight per device, at most maxQueuedWritesPerDevice waiting, the rest refused and answered with the unchanged value; another device is not held up', async (t) => {
  const group = newGroup();
  const host = await hostFor(t, group);
  const devices = new FakeDevices();
  for (const [p, v] of [['water/flow', 1], ['water/volume', 2], ['river/level', 3], ['river/door', false]] as const) devices.set(p, v);
  devices.report('water', 'online');
  devices.report('river', 'online');
  const inFlight = new Map<string, number>();
  const maxInFlight = new Map<string, number>();
  const written: string[] = [];
  let release!: () => void;
  const riverDevice = new Promise<void>((resolve) => (release = resolve));
  // River's device is slow (its first write hangs until released); water's answers at once.
  const write = async (device: string, point: string, value: Exclude<Value, null>) => {
    inFlight.set(device, (inFlight.get(device) ?? 0) + 1);
    maxInFlight.set(device, Math.max(maxInFlight.get(device) ?? 0, inFlight.get(device)!));
    try {
      if (device === 'river') await riverDevice;
      written.push(`${device}/${point}=${String(value)}`);
      devices.set(`${device}/${point}`, Number(value));
      return { value: Number(value), quality: 'good' as const, ts: Date.now() };
    } finally {
      inFlight.set(device, inFlight.get(device)! - 1);
    }
  };
  const uplink = uplinkFor(t, tempLog(t), group, { devices, write, maxQueuedWritesPerDevice: QUEUED_WRITES });
  uplink.start();
  await host.until((g) => g.filter((m) => m.type === 'DBIRTH').length === 2, 'the births');
  const dcmd = (device: string, alias: number, datatype: number, value: number) =>
    host.client.publishAsync(`spBv1.0/${group}/DCMD/gw-sp/${device}`, encodePayload({ timestamp: Date.now(), metrics: [{ alias, datatype, value }] }, { datatypes: false }), { qos: 1 });
  // river/level (alias 4, Int16) := 1, 2, ..., 200, all at once.
  await Promise.all(Array.from({ length: DCMD_FLOOD }, (_, i) => dcmd('river', 4, DataType.Int16, i + 1)));
  const refused = DCMD_FLOOD - 1 - QUEUED_WRITES;
  await waitFor(() => uplink.writesRefusedBusy === refused, { what: `${refused} writes refused`, timeoutMs: DELIVERY_TIMEOUT_MS });
  const riverAnswers = () => host.ofType('DDATA', 'river').flatMap((m) => m.metrics.map((x) => x.value));
  const busy = await host.until((g) => (g.filter((m) => m.type === 'DDATA' && m.device === 'river').length === refused ? riverAnswers() : undefined), 'the answers to the refused writes');
  assert.deepEqual(new Set(busy), new Set([3]), 'a refused write is answered with the unchanged value');
  assert.deepEqual(written, [], 'river\'s first write is still in flight');

  // Water's writes do not wait behind river's.
  await dcmd('water', 2, DataType.Float, 7.5);
  const waterAnswer = await host.until((g) => g.find((m) => m.type === 'DDATA' && m.device === 'water'), 'the answer to the water DCMD');
  assert.deepEqual(values(waterAnswer), [[2, 7.5]]);
  assert.deepEqual(written, ['water/flow=7.5']);

  release();
  const done = await host.until((g) => (g.filter((m) => m.type === 'DDATA' && m.device === 'river').length === refused + 1 + QUEUED_WRITES ? riverAnswers() : undefined), 'the answers to the accepted writes');
  assert.deepEqual(done.slice(refused), [1, 2, 3, 4, 5], 'the accepted writes, in the order received, answered with the value read back');
  assert.deepEqual(written.slice(1), ['river/level=1', 'river/level=2', 'river/level=3', 'river/level=4', 'river/level=5']);
  assert.equal(maxInFlight.get('river'), 1, 'one write in flight per device');
  // The node still takes writes after the flood.
  await dcmd('river', 4, DataType.Int16, 42);
  await host.until((g) => g.filter((m) => m.type === 'DDATA' && m.device === 'river').length === refused + QUEUED_WRITES + 2, 'the answer to a write after the flood');
  assert.deepEqual(riverAnswers().at(-1), 42);
});

test('maxQueuedWritesPerDevice 0: an idle device still takes a write (two in one DCMD: the second is refused while the first is in flight)', async (t) => {
  const group = newGroup();
  const host = await hostFor(t, group);
  const devices = new FakeDevices();
  for (const [p, v] of [['water/flow', 1], ['water/volume', 2], ['river/level', 3], ['river/door', false]] as const) devices.set(p, v);
  devices.report('water', 'online');
  devices.report('river', 'online');
  const written: string[] = [];
  const write = async (device: string, point: string, value: Exclude<Value, null>) => {
    written.push(`${device}/${point}=${String(value)}`);
    devices.set(`${device}/${point}`, Number(value));
    return { value: Number(value), quality: 'good' as const, ts: Date.now() };
  };
  const uplink = uplinkFor(t, tempLog(t), group, { devices, write, maxQueuedWritesPerDevice: 0 });
  uplink.start();
  await host.until((g) => g.filter((m) => m.type === 'DBIRTH').length === 2, 'the births');
  await host.command(`spBv1.0/${group}/DCMD/gw-sp/water`, [{ name: 'flow', type: 'Float', value: 6 }, { name: 'volume', type: 'Double', value: 7 }]);
  const answers = await host.until((g) => (g.filter((m) => m.type === 'DDATA' && m.device === 'water').length === 2 ? host.ofType('DDATA', 'water').map(values) : undefined), 'both answers');
  assert.deepEqual(written, ['water/flow=6']);
  assert.deepEqual(answers, [[[3, 2]], [[2, 6]]], 'the refused one answered at once with the unchanged value, the taken one with its read-back');
  assert.equal(uplink.writesRefusedBusy, 1);
  // Idle again: the next write is taken.
  await host.command(`spBv1.0/${group}/DCMD/gw-sp/water`, [{ name: 'volume', type: 'Double', value: 8 }]);
  await host.until((g) => g.filter((m) => m.type === 'DDATA' && m.device === 'water').length === 3, 'the third answer');
  assert.deepEqual(written, ['water/flow=6', 'water/volume=8']);
});

/** The rebirth rate limit under test (long enough that the whole flood lands inside it). */
const REBIRTH_INTERVAL_MS = 1_500;
const REBIRTH_FLOOD = 20;

test('Node Control/Rebirth requests are rate-limited (rebirthMinIntervalMs): a flood gives one rebirth at once and one at the end of the interval, never more', async (t) => {
  const group = newGroup();
  const host = await hostFor(t, group);
  const log = tempLog(t);
  const uplink = uplinkFor(t, log, group, { rebirthMinIntervalMs: REBIRTH_INTERVAL_MS });
  uplink.start();
  await host.until((g) => g.filter((m) => m.type === 'DBIRTH').length === 2, 'the first births');
  const request = Buffer.from(tahu.encodePayload({ timestamp: Date.now(), metrics: [{ name: REBIRTH_METRIC, type: 'Boolean', value: true }] }));
  await Promise.all(Array.from({ length: REBIRTH_FLOOD }, () => host.client.publishAsync(`spBv1.0/${group}/NCMD/gw-sp`, request, { qos: 1 })));
  await waitFor(() => uplink.rebirthsFolded === REBIRTH_FLOOD - 1, { what: 'every request after the first folded', timeoutMs: DELIVERY_TIMEOUT_MS });
  assert.ok(uplink.rebirthPending, 'one rebirth owed at the end of the interval');
  const [, first, folded] = await host.until((g) => (g.filter((m) => m.type === 'NBIRTH').length === 3 ? g.filter((m) => m.type === 'NBIRTH') : undefined), 'the folded rebirth');
  // The property under test is a lower bound (the wall clock stamps, the monotonic one limits: 1 ms of rounding).
  assert.ok(folded!.timestamp! - first!.timestamp! >= REBIRTH_INTERVAL_MS - 1, `${folded!.timestamp! - first!.timestamp!} ms between the rebirths`);
  assert.equal(uplink.rebirthPending, false);
  // A positive event after the folded rebirth: a reading's DDATA; no further birth came before it.
  log.append([reading('water/flow', 9)]);
  await host.until((g) => g.some((m) => m.type === 'DDATA' && m.metrics.some((x) => x.value === 9)), 'a DDATA after the rebirths');
  assert.equal(host.ofType('NBIRTH').length, 3);
  assert.equal(uplink.births, 3);
});

test('Primary Host: births wait for its STATE online (phid-wait, -wait-timestamp); when it goes offline the node sends NDEATH and leaves (phid-offline); the data held meanwhile follows as is_historical', async (t) => {
  const group = newGroup();
  const hostId = `scada-${group}`;
  const stateTopic = `spBv1.0/STATE/${hostId}`;
  const host = await hostFor(t, group);
  const state = (online: boolean, timestamp: number) => host.client.publishAsync(stateTopic, JSON.stringify({ online, timestamp }), { qos: 1, retain: true });
  await state(false, 1000);
  const log = tempLog(t);
  let clock = Date.now();
  const uplink = uplinkFor(t, log, group, { primaryHostId: hostId, now: () => clock });
  uplink.start();
  await waitFor(() => uplink.awaitingPrimaryHost, { what: 'the node connected and waiting for the host' });
  log.append([reading('water/flow', 1, clock)]);
  assert.equal(uplink.births, 0, 'no birth while the Primary Host is offline');
  // STATEs older than the last one are not the host's current state: taken as such, these two
  // would make the node born and dead again before the real online below.
  await state(true, 900);
  await state(false, 950);
  await state(true, 2000);
  await host.until((g) => g.some((m) => m.type === 'DDATA'), 'the held reading after the host came online');
  assert.deepEqual(host.got.map((m) => m.type).filter((x) => x === 'NBIRTH' || x === 'NDEATH'), ['NBIRTH']);
  assert.equal(uplink.births, 1);

  await state(false, 3000);
  await host.until((g) => g.some((m) => m.type === 'NDEATH'), 'the NDEATH when the host went offline');
  await waitFor(() => uplink.awaitingPrimaryHost, { what: 'the node back, waiting for the host' });
  log.append([reading('water/flow', 2, clock)]);
  clock += 10 * 60_000; // the host was away ten minutes
  await state(true, 4000);
  const held = await host.until((g) => g.filter((m) => m.type === 'DDATA').flatMap((m) => m.metrics).find((x) => x.value === 2), 'the reading held while the host was away');
  assert.equal(held.isHistorical, true, 'store and forward: flagged is_historical');
  const [first, second] = host.ofType('NBIRTH');
  const bdSeq = (m: HostMessage) => m.metrics.find((x) => x.name === 'bdSeq')!.value as number;
  assert.ok(bdSeq(second!) > bdSeq(first!), 'a new MQTT session, a new bdSeq');
  assert.equal(bdSeq(host.ofType('NDEATH')[0]!), bdSeq(first!), 'the NDEATH closes the first session');
  await host.client.publishAsync(stateTopic, '', { qos: 1, retain: true });
});

test('with the embedded aedes broker of `npm start`, QoS 0 DDATA count as delivered only when aedes\'s answer to the barrier behind them reaches the node: processed but unanswered keeps the cursor, and the data is sent again', async (t) => {
  const aedes = await startEmbeddedBroker({ port: 0 });
  t.after(() => aedes.close());
  const relay = await startTcpRelay(aedes.port);
  t.after(() => relay.close());
  const group = newGroup();
  const clientId = `kedge-${group}`;
  // What aedes itself processed from the node, in its order.
  const processed: string[] = [];
  aedes.broker.on('publish', (packet, client) => {
    if (client?.id === clientId && packet.topic.includes('/DDATA/')) processed.push('DDATA');
  });
  aedes.broker.on('unsubscribe', (_subs, client) => {
    if (client?.id === clientId) processed.push('barrier');
  });
  const host = await TestHost.connect(aedes.url, `spBv1.0/${group}/#`);
  t.after(() => host.close());
  const log = tempLog(t);
  // Enough in flight that all 120 readings leave although none is confirmed.
  uplinkFor(t, log, group, { url: `mqtt://127.0.0.1:${relay.port}`, clientId, inflight: 16 }).start();
  await host.until((g) => g.filter((m) => m.type === 'DBIRTH').length === 2, 'the births');
  relay.holdDownstream();
  const ts = Date.now();
  log.append(Array.from({ length: 120 }, (_, i) => reading('water/flow', i, ts + i)));
  const valuesAtHost = (g: HostMessage[]) => g.filter((m) => m.type === 'DDATA').flatMap((m) => m.metrics.map((x) => x.value));
  await host.until((g) => valuesAtHost(g).length === 120, 'all 120 values at the host');
  // Aedes processed the barrier behind the last DDATA, too; only its answer is held.
  await waitFor(() => processed.at(-1) === 'barrier' || undefined, { what: 'aedes processing the barrier behind the last DDATA' });
  assert.equal(log.cursor('uplink'), 0, 'aedes has every DDATA, but no answer reached the node: nothing counts as delivered');
  assert.deepEqual(valuesAtHost(host.got), Array.from({ length: 120 }, (_, i) => i));
  assert.ok(host.ofType('DDATA').every((m) => m.qos === 0));

  const firstSession = host.got.length;
  relay.cut();
  relay.restore();
  await waitFor(() => log.cursor('uplink') === 120, { what: 'every batch proven delivered after the reconnect', timeoutMs: DELIVERY_TIMEOUT_MS });
  // Sent again in the new session: the DBIRTH carries the newest value (119), the older ones follow as history.
  const again = await host.until((g) => {
    const v = valuesAtHost(g.slice(firstSession));
    return v.length === 119 ? v : undefined;
  }, 'the backlog sent again');
  assert.deepEqual(again, Array.from({ length: 119 }, (_, i) => i));
  assert.equal(host.got.slice(firstSession).find((m) => m.type === 'DBIRTH' && m.device === 'water')!.metrics[0]!.value, 119);
});

test('a backlog of a device that is offline (or has not answered yet) when the session starts is not passed over: DBIRTH, the readings as is_historical DDATA, DDEATH', async (t) => {
  const group = newGroup();
  const host = await hostFor(t, group);
  const log = tempLog(t);
  const devices = new FakeDevices();
  const old = Date.now() - 3_600_000;
  // Logged before a restart while the uplink was down; since then river died and water has not answered yet.
  log.append([reading('river/level', 1, old), reading('river/level', 2, old + 1), reading('river/door', null, old + 2, 'bad_no_response'), reading('water/flow', 3, old + 3)]);
  log.flush();
  devices.report('river', 'offline');
  uplinkFor(t, log, group, { devices, birthWaitMs: 0 }).start();
  await waitFor(() => log.cursor('uplink') === 4, { what: 'the backlog delivered', timeoutMs: DELIVERY_TIMEOUT_MS });
  // A positive event after the backlog: water answers and is born with its current value.
  devices.set('water/flow', 4);
  devices.set('water/volume', 5);
  devices.report('water', 'online');
  await host.until((g) => g.some((m) => m.type === 'DBIRTH' && m.device === 'water' && m.metrics[0]!.value === 4), 'the live water DBIRTH');
  const story = (device: string) => host.got.filter((m) => m.device === device).map((m) => [m.type, m.metrics.map((x) => [x.value, x.isHistorical])]);
  assert.deepEqual(story('river'), [
    // No current value yet (the gateway has not polled it since the start): null, Quality bad.
    ['DBIRTH', [[null, false], [null, false]]],
    // Born for its backlog, the device's readings go out as they were logged, the failed one too.
    ['DDATA', [[1, true], [2, true], [null, true]]],
    // Offline as of the end of the backlog.
    ['DDEATH', []],
  ]);
  assert.deepEqual(story('water'), [['DBIRTH', [[null, false], [null, false]]], ['DDATA', [[3, true]]], ['DDEATH', []], ['DBIRTH', [[4, false], [5, false]]]]);
  const seqs = host.got.filter((m) => m.seq !== undefined).map((m) => m.seq!);
  assert.deepEqual(seqs, seqs.map((_, i) => i), 'the births and deaths take their place in the seq');
});

test('a retained DCMD is not carried out (tck-id-payloads-dcmd-retain): the broker would hand it out again at every reconnect, repeating the write', async (t) => {
  const group = newGroup();
  const host = await hostFor(t, group);
  const dcmd = `spBv1.0/${group}/DCMD/gw-sp/river`;
  // Left retained in this file's own broker under this test's own group: harmless to the others.
  await host.client.publishAsync(dcmd, encodePayload({ metrics: [{ alias: 4, datatype: DataType.Int16, value: 99 }] }, { datatypes: false }), { qos: 1, retain: true });
  const writes: unknown[] = [];
  const uplink = uplinkFor(t, tempLog(t), group, {
    write: async (_device, _point, value) => {
      writes.push(value);
      return { value, quality: 'good', ts: Date.now() };
    },
  });
  uplink.start();
  await host.until((g) => g.filter((m) => m.type === 'DBIRTH').length === 2, 'the births');
  // A live command after the retained one was delivered (it comes on the subscribe, before the births).
  await host.client.publishAsync(dcmd, encodePayload({ metrics: [{ alias: 4, datatype: DataType.Int16, value: 7 }] }, { datatypes: false }));
  await host.until((g) => g.some((m) => m.type === 'DDATA' && m.device === 'river'), 'the answer to the live DCMD');
  assert.deepEqual(writes, [7], 'only the live command was written');
});

test('a point whose type is not known at birth (no config type, the OPC UA DataType not read yet) is born Double, never an integer type from an integral first value', async (t) => {
  const group = newGroup();
  const host = await hostFor(t, group);
  const log = tempLog(t);
  const devices = new FakeDevices();
  devices.set('plc/setpoint', 20);
  devices.report('plc', 'online');
  uplinkFor(t, log, group, { devices, metrics: [{ point: 'plc/setpoint' }] }).start();
  const dbirth = await host.until((g) => g.find((m) => m.type === 'DBIRTH'), 'the DBIRTH');
  assert.deepEqual(dbirth.metrics.map((m) => [m.type, m.value]), [['Double', 20]]);
  log.append([reading('plc/setpoint', 20.5)]);
  const ddata = await host.until((g) => g.find((m) => m.type === 'DDATA'), 'the DDATA');
  assert.deepEqual(values(ddata), [[2, 20.5]], 'not rounded to 21');
});
