import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { DataType, encodePayload } from '@kedge/cloud-sync/codec/sparkplug-payload.ts';
import { TestHost, type HostMessage } from '@kedge/cloud-sync/north/sparkplug/test-host.ts';
import { startModbusTap, type ModbusTap } from '@kedge/testkit/modbus-tap.ts';
import { startMosquitto, type MosquittoHandle } from '@kedge/testkit/mosquitto.ts';
import { startPymodbus, type PymodbusHandle, type RegisterImage } from '@kedge/testkit/pymodbus.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { loadConfigFile } from './config/load.ts';
import { ModbusRTU } from './drivers/modbus/modbus-serial.ts';
import { Gateway } from './gateway.ts';

/**
 * The Sparkplug edge node of a whole gateway: a real Modbus TCP server (pymodbus), mosquitto,
 * and a host decoding with Eclipse Tahu's decoder. DCMD writes travel the gateway's write path
 * to the device; a device outage is a DDEATH and its return a DBIRTH with current values.
 */

const GROUP = 'kemerovo';
/** Generous: pymodbus restarts and Modbus reconnect backoff on a loaded 2-core machine. */
const OUTAGE_TIMEOUT_MS = 30_000;
/** Generous: pymodbus answering a DCMD flood's writes on a loaded 2-core machine (a stopped server is refused at once). */
const DEVICE_TIMEOUT_MS = 3_000;
const IMAGE: RegisterImage = { holding: { 10: 215, 20: 65535 - 2, 30: 7, 40: 1 } };
const QUIET = { deadband: 1_000_000, heartbeatMs: 0 };
/** uplink.sparkplug.maxQueuedWrites in this test's config: DCMD writes that may wait behind the one in flight. */
const QUEUED_WRITES = 4;
const DCMD_FLOOD = 200;

let dir: string;
let server: PymodbusHandle;
let tap: ModbusTap;
let broker: MosquittoHandle;
let gateway: Gateway;
let host: TestHost;
let reader: ModbusRTU;
/** The `msg` of every line the (first) gateway logged. */
const gatewayLog: string[] = [];
const logged = (prefix: string) => gatewayLog.filter((m) => m.startsWith(prefix)).length;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kedge-sparkplug-e2e-'));
  server = await startPymodbus({ image: IMAGE });
  tap = await startModbusTap({ port: server.port });
  broker = await startMosquitto({ extraConf: 'log_type subscribe' });
  host = await TestHost.connect(broker.url, `spBv1.0/${GROUP}/#`);
  const configPath = join(dir, 'kedge.yaml');
  // JSON is YAML.
  writeFileSync(
    configPath,
    JSON.stringify({
      gateway: { id: 'gw-sp', region: 'kuzbass', municipality: GROUP },
      dataDir: join(dir, 'data'),
      log: { flushMs: 20, synchronous: 'normal' },
      uplink: {
        url: broker.url,
        codec: 'sparkplug',
        batchMaxDelayMs: 50,
        reconnectMinMs: 200,
        reconnectMaxMs: 1000,
        sparkplug: { writes: ['plc/setpoint', 'plc/limit'], maxQueuedWrites: QUEUED_WRITES },
      },
      web: { enabled: false },
      devices: [
        {
          id: 'plc',
          driver: 'modbus-tcp',
          host: '127.0.0.1',
          port: tap.port,
          intervalMs: 200,
          timeoutMs: DEVICE_TIMEOUT_MS,
          backoff: { minMs: 100, maxMs: 400 },
          // A wide deadband and no heartbeat: after the births only a change of quality (the
          // outage) is logged, so every DDATA of the write tests is the answer to a DCMD.
          points: [
            { id: 'setpoint', table: 'holding', address: 10, type: 'uint16', scale: 0.1, writable: true, ...QUIET },
            { id: 'level', table: 'holding', address: 20, type: 'int16', ...QUIET },
            // Allowed for Sparkplug hosts by uplink.sparkplug.writes, but not writable: still refused.
            { id: 'limit', table: 'holding', address: 30, type: 'uint16', ...QUIET },
            // Writable (for the signed kedge commands), not listed for Sparkplug hosts: refused.
            { id: 'mode', table: 'holding', address: 40, type: 'uint16', writable: true, ...QUIET },
          ],
        },
      ],
    }),
  );
  const sink = new Writable({
    write: (chunk: Buffer, _e, cb) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line) gatewayLog.push((JSON.parse(line) as { msg: string }).msg);
      if (process.env.KEDGE_TEST_LOG) process.stderr.write(chunk);
      cb();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  gateway = new Gateway(await loadConfigFile(configPath), logger);
  await gateway.start();
  reader = new ModbusRTU();
  await reader.connectTCP('127.0.0.1', { port: server.port });
  reader.setID(1);
});

test.after(async () => {
  reader?.close(() => {});
  await gateway?.stop();
  await host?.close();
  await broker?.stop();
  await tap?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const holding = async (address: number) => (await reader.readHoldingRegisters(address, 1)).data[0];
const writesAt = (address: number) => tap.requests.filter((r) => r.functionCode === 6 && r.address === address).length;
const plcData = () => host.ofType('DDATA', 'plc');
const subscribedQos = (filter: string) => {
  const line = broker.output().split('\n').find((l) => l.endsWith(` kedge-gw-sp 1 ${filter}`) || l.endsWith(` kedge-gw-sp 0 ${filter}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-2));
};
const born = (name: string) => host.ofType('DBIRTH', 'plc')[0]!.metrics.find((m) => m.name === name)!;
const aliasOf = (name: string) => born(name).alias!;

async function dcmd(metrics: Array<{ name: string; value: number }>): Promise<HostMessage> {
  const before = plcData().length;
  // As a conformant host sends it: alias only, the value in its born datatype, no datatype on
  // the wire (tck-id-payloads-alias-data-cmd-requirement, tck-id-payloads-metric-datatype-not-req).
  const payload = encodePayload(
    { timestamp: Date.now(), metrics: metrics.map((m) => ({ alias: aliasOf(m.name), datatype: (DataType as Record<string, number>)[born(m.name).type!]!, value: m.value })) },
    { datatypes: false },
  );
  await host.client.publishAsync(`spBv1.0/${GROUP}/DCMD/gw-sp/plc`, payload, { qos: 1 });
  return host.until((g) => g.filter((m) => m.type === 'DDATA' && m.device === 'plc')[before], 'the DDATA answering the DCMD');
}

test('the births wait for the first poll: DBIRTH carries every current value, datatypes from the config (tck-id-operational-behavior-data-publish-dbirth-values)', async () => {
  const dbirth = await host.until((g) => g.find((m) => m.type === 'DBIRTH' && m.device === 'plc'), 'the DBIRTH');
  assert.deepEqual(
    dbirth.metrics.map((m) => [m.name, m.type, m.value]),
    [
      ['setpoint', 'Double', 21.5],
      ['level', 'Int16', -3],
      ['limit', 'UInt16', 7],
      ['mode', 'UInt16', 1],
    ],
  );
  assert.equal(host.ofType('NBIRTH')[0]!.metrics.find((m) => m.name === 'Node Control/Rebirth')!.alias, undefined);
  // The first poll's readings are in the log too; once the uplink is past them, none of them was
  // repeated as DDATA (tck-id-operational-behavior-data-publish-dbirth-change).
  await waitFor(() => gateway.status().uplink!.ackedSeq >= 4, { what: 'the first poll delivered' });
  // A positive event after that: a rebirth asked for now. Whatever the node published for the
  // first poll went out before it on the same connection, so it would be here before the NBIRTH.
  const from = host.got.length;
  await host.command(`spBv1.0/${GROUP}/NCMD/gw-sp`, [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }]);
  const rebirth = await host.until((g) => g.slice(from).find((m) => m.type === 'NBIRTH'), 'the rebirth asked for after the first poll was delivered');
  assert.deepEqual(host.got.slice(0, host.got.indexOf(rebirth)).filter((m) => m.type === 'DDATA').map((m) => m.topic), []);
});

test('NCMD and DCMD are subscribed at QoS 1 (tck-id-message-flow-edge-node-ncmd-subscribe, tck-id-message-flow-device-dcmd-subscribe)', async () => {
  await host.until((g) => g.some((m) => m.type === 'NBIRTH'), 'the NBIRTH');
  // The broker's log reaches this process through a pipe: wait for the lines, then read the QoS.
  const granted = async (filter: string) => {
    const found = await waitFor(() => {
      const qos = subscribedQos(filter);
      return qos === undefined ? undefined : { qos };
    }, { what: `mosquitto's record of ${filter}` });
    return found.qos;
  };
  assert.equal(await granted(`spBv1.0/${GROUP}/NCMD/gw-sp`), 1);
  assert.equal(await granted(`spBv1.0/${GROUP}/DCMD/gw-sp/+`), 1);
});

test('DCMD write round trip: the register changes through the write path (scale reversed) and a DDATA answers with the value read back from the device', async () => {
  await host.until((g) => g.some((m) => m.type === 'DBIRTH'), 'the DBIRTH');
  const answer = await dcmd([{ name: 'setpoint', value: 42.5 }]);
  assert.equal(await holding(10), 425, 'the device register holds the raw value');
  assert.deepEqual(answer.metrics.map((m) => [m.alias, m.type, m.value, m.quality]), [[aliasOf('setpoint'), 'Double', 42.5, undefined]]);
  assert.equal(answer.qos, 0, 'tck-id-payloads-ddata-qos');
});

test('DCMD writes only what the write rules allow: not writable, or writable but not listed in uplink.sparkplug.writes, never reaches the device; the answer is the unchanged value', async () => {
  await host.until((g) => g.some((m) => m.type === 'DBIRTH'), 'the DBIRTH');
  const fc6 = writesAt(30) + writesAt(40);
  const notWritable = await dcmd([{ name: 'limit', value: 99 }]);
  assert.deepEqual(notWritable.metrics.map((m) => m.value), [7]);
  const notListed = await dcmd([{ name: 'mode', value: 5 }]);
  assert.deepEqual(notListed.metrics.map((m) => m.value), [1]);
  assert.equal(writesAt(30) + writesAt(40), fc6, 'no write request reached the device');
  assert.deepEqual([await holding(30), await holding(40)], [7, 1]);
});
test('a flood of 200 DCMDs at once: the device gets one write at a time, in the order received, those beyond the queue are refused and never reach it, every DCMD is answered, and the gateway carries on', async () => {
  await host.until((g) => g.some((m) => m.type === 'DBIRTH'), 'the DBIRTH');
  const before = plcData().length;
  const writesBefore = writesAt(10);
  // Not a whole number (21.5, or 42.5 after the round trip): told apart from the flood's values.
  const valueBefore = (await holding(10))! / 10;
  assert.ok(!Number.isInteger(valueBefore));
  const doneBefore = logged('DCMD write done');
  const failedBefore = logged('DCMD write refused or failed');
  const busyBefore = logged('DCMD refused: the device already has its write in flight');
  const alias = aliasOf('setpoint');
  // setpoint := 1.0, 2.0, ..., 200.0 (raw 10 ... 2000), all published before the first is answered.
  await Promise.all(
    Array.from({ length: DCMD_FLOOD }, (_, i) =>
      host.client.publishAsync(
        `spBv1.0/${GROUP}/DCMD/gw-sp/plc`,
        encodePayload({ timestamp: Date.now(), metrics: [{ alias, datatype: DataType.Double, value: i + 1 }] }, { datatypes: false }),
        { qos: 1 },
      ),
    ),
  );
  // Every DCMD handled, as the gateway's log says: carried out (done, or failed at the device) or refused as one too many.
  const count = () => ({
    done: logged('DCMD write done') - doneBefore,
    failed: logged('DCMD write refused or failed') - failedBefore,
    busy: logged('DCMD refused: the device already has its write in flight') - busyBefore,
  });
  const handled = await waitFor(() => {
    const c = count();
    return c.done + c.failed + c.busy >= DCMD_FLOOD ? c : undefined;
  }, { what: 'every DCMD of the flood handled', timeoutMs: OUTAGE_TIMEOUT_MS });
  assert.equal(handled.done + handled.failed + handled.busy, DCMD_FLOOD, `each DCMD handled once: ${JSON.stringify(handled)}`);
  const answers = await host.until((g) => {
    const a = g.filter((m) => m.type === 'DDATA' && m.device === 'plc').slice(before);
    return a.length === DCMD_FLOOD ? a.flatMap((m) => m.metrics.map((x) => x.value)) : undefined;
  }, 'an answer to every DCMD of the flood', OUTAGE_TIMEOUT_MS);
  // How many were taken depends on how fast the device answers while the flood comes in (the
  // queue drains meanwhile); what must hold whatever the pace:
  const carried = handled.done + handled.failed;
  assert.ok(carried >= 1 + QUEUED_WRITES, `at least the write in flight and the queue were taken: ${JSON.stringify(handled)}`);
  assert.equal(writesAt(10) - writesBefore, carried, 'a refused DCMD never reached the device');
  // The device's view (the Modbus client also keeps one request per connection; the uplink's own
  // one-write-per-device rule is proven with a slow device in sparkplug-conformance.test.ts).
  assert.equal(tap.maxWritesInFlight(), 1, 'never two writes outstanding at the device');
  // Answered with the value read back (an accepted one) or the device's value at that moment.
  // (A write that failed at the device, a timeout on an overloaded machine, is answered with the
  // value before it and may still have landed: then only the counts above are exact.)
  if (handled.failed === 0) {
    for (let v = 1; v <= 1 + QUEUED_WRITES; v++) assert.ok(answers.includes(v), `the write of ${v} (among the first taken) was answered with its read-back`);
    const highest = Math.max(...answers.filter((v) => v !== valueBefore).map(Number));
    assert.equal(await holding(10), highest * 10, 'the register holds the highest value answered: the writes were carried out in the order received');
  }
  // Still alive and writing after the flood.
  const after = await dcmd([{ name: 'setpoint', value: 21.5 }]);
  assert.deepEqual(after.metrics.map((m) => m.value), [21.5]);
  assert.equal(await holding(10), 215);
  assert.equal(gateway.status().uplink!.state, 'online');
});


test('every message of the node decodes with Eclipse Tahu\'s decoder, and DDATA carry no datatype (tck-id-payloads-metric-datatype-not-req)', async () => {
  await host.until((g) => g.some((m) => m.type === 'DBIRTH'), 'the DBIRTH');
  const fromNode = host.got.filter((m) => m.type !== 'DCMD' && m.type !== 'NCMD');
  assert.ok(fromNode.length >= 2);
  assert.deepEqual(fromNode.filter((m) => m.error !== undefined).map((m) => [m.topic, m.error]), []);
  assert.ok(fromNode.filter((m) => m.type === 'DDATA').flatMap((m) => m.metrics).every((x) => !x.datatypeOnWire && x.name === undefined));
});

test('a device outage is a DDEATH, not DDATA with nulls; its return a DBIRTH with current values (tck-id-operational-behavior-device-ddeath)', async () => {
  await host.until((g) => g.some((m) => m.type === 'DBIRTH'), 'the DBIRTH');
  const from = host.got.length;
  const stoppedAt = Date.now();
  await server.stop();
  const death = await host.until((g) => g.slice(from).find((m) => m.type === 'DDEATH' && m.device === 'plc'), 'the DDEATH', OUTAGE_TIMEOUT_MS);
  assert.equal(death.qos, 0);
  assert.ok(death.timestamp! >= stoppedAt && death.timestamp! <= death.receivedAt, 'tck-id-payloads-ddeath-timestamp: stamped when published');
  server = await startPymodbus({ port: server.port, image: IMAGE });
  const birth = await host.until((g) => g.slice(from).find((m) => m.type === 'DBIRTH' && m.device === 'plc'), 'the DBIRTH after the return', OUTAGE_TIMEOUT_MS);
  assert.deepEqual(birth.metrics.map((m) => m.value), [21.5, -3, 7, 1], 'current values of the restarted device');
  const during = host.got.slice(from).filter((m) => m.device === 'plc');
  const between = during.slice(during.indexOf(death) + 1, during.indexOf(birth));
  assert.deepEqual(between.map((m) => m.type), [], 'nothing for the device between its DDEATH and its DBIRTH');
  const nulls = during.filter((m) => m.type === 'DDATA').flatMap((m) => m.metrics).filter((m) => m.value === null);
  assert.deepEqual(nulls, [], 'no null DDATA around the outage');
  const seqs = host.got.slice(from).filter((m) => m.seq !== undefined).map((m) => m.seq!);
  assert.ok(seqs.every((s, i) => i === 0 || s === (seqs[i - 1]! + 1) % 256), `seq continuous across DDEATH/DBIRTH: ${seqs.join(',')}`);
});

test('after a restart of the gateway: a clean NDEATH (same bdSeq, stamped), then bdSeq + 1 and a DBIRTH with current values again, no nulls', async () => {
  await host.until((g) => g.filter((m) => m.type === 'DBIRTH').length >= 1, 'the DBIRTH');
  const from = host.got.length;
  const firstBdSeq = host.ofType('NBIRTH').at(-1)!.metrics.find((m) => m.name === 'bdSeq')!.value as number;
  await gateway.stop();
  const death = await host.until((g) => g.slice(from).find((m) => m.type === 'NDEATH'), 'the NDEATH of the clean stop');
  assert.equal(death.metrics.find((m) => m.name === 'bdSeq')!.value, firstBdSeq, 'tck-id-payloads-ndeath-bdseq');
  assert.ok(death.timestamp! > 0, 'a goodbye is sent when it happens and says when');
  gateway = new Gateway(await loadConfigFile(join(dir, 'kedge.yaml')), pino({ level: 'silent' }));
  await gateway.start();
  const [nbirth, dbirth] = await host.until((g) => {
    const s = g.slice(from);
    const n = s.find((m) => m.type === 'NBIRTH');
    const d = s.find((m) => m.type === 'DBIRTH' && m.device === 'plc');
    return n && d ? [n, d] : undefined;
  }, 'the births after the restart', OUTAGE_TIMEOUT_MS);
  assert.equal(nbirth!.metrics.find((m) => m.name === 'bdSeq')!.value, firstBdSeq + 1, 'bdSeq is kept in the log across restarts');
  assert.deepEqual(dbirth!.metrics.map((m) => m.value), [21.5, -3, 7, 1], 'the births waited for the first poll of the new process');
});

test('a config reload that adds a point starts a new Sparkplug session whose DBIRTH has it (births list every metric of a session)', async () => {
  await host.until((g) => g.some((m) => m.type === 'DBIRTH'), 'the DBIRTH');
  const from = host.got.length;
  const current = await loadConfigFile(join(dir, 'kedge.yaml'));
  const plc = current.devices[0]!;
  const extra = { ...plc.points[1]!, id: 'level2', address: 20, name: undefined };
  await gateway.reload({ ...current, devices: [{ ...plc, points: [...plc.points, extra] } as typeof plc] });
  const dbirth = await host.until((g) => g.slice(from).find((m) => m.type === 'DBIRTH' && m.device === 'plc'), 'the DBIRTH after the reload', OUTAGE_TIMEOUT_MS);
  assert.deepEqual(dbirth.metrics.map((m) => [m.name, m.value]), [['setpoint', 21.5], ['level', -3], ['limit', 7], ['mode', 1], ['level2', -3]]);
  const types = host.got.slice(from).map((m) => m.type).filter((x) => x !== 'DDATA' && x !== 'DDEATH');
  assert.deepEqual(types.slice(0, 3), ['NDEATH', 'NBIRTH', 'DBIRTH']);
});
