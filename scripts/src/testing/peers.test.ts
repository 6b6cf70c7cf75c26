/**
 * Proves the test peers are real: each helper is driven by an independent client
 * (mqtt.js, modbus-serial) over TCP, so later integration tests can trust them.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import ModbusSerial from 'modbus-serial';
import { decodeRegisters } from '@kedge/gateway/drivers/modbus/decode.ts';
import type { ModbusPointRef } from '@kedge/gateway/drivers/modbus/types.ts';
import { startEmbeddedBroker } from '@kedge/cloud-sync/broker/embedded.ts';
import { freePort } from '@kedge/testkit/ports.ts';
import { canConnect, waitFor, waitForPort } from '@kedge/testkit/wait.ts';
import { startProcess } from '@kedge/testkit/proc.ts';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { startPymodbus } from '@kedge/testkit/pymodbus.ts';
import { startModbusSim } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { SIM_EPOCH_MS } from '@kedge/testkit/sim/meters.ts';

// CommonJS typed with `export default`: under NodeNext the default import is the module
// object and the client class is its `default` (also set at runtime).
const ModbusRTU = ModbusSerial.default;
type ModbusRTU = InstanceType<typeof ModbusRTU>;

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

async function modbusClient(port: number): Promise<ModbusRTU> {
  const client = new ModbusRTU();
  await client.connectTCP('127.0.0.1', { port });
  client.setTimeout(3000);
  return client;
}

/**
 * modbus-serial only calls back from close()/destroy() on the socket's 'close' event, which
 * never comes again if the server already dropped the connection (the peer was stopped
 * first), so an already closed client must not be waited on.
 */
function closeModbus(client: ModbusRTU): Promise<void> {
  if (!client.isOpen) return Promise.resolve();
  return new Promise((resolve) => client.destroy(() => resolve()));
}

/** The Modbus exception code of a rejected request (modbus-serial puts it on `modbusCode`). */
async function exceptionCode(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { modbusCode?: number }).modbusCode;
  }
  assert.fail('expected a Modbus exception');
}

/** Publishes QoS 1 to a topic the client itself subscribed to and returns what came back. */
async function roundTrip(client: MqttClient, topic: string, text: string): Promise<string> {
  await client.subscribeAsync(topic, { qos: 1 });
  const got = new Promise<string>((resolve) => {
    const onMessage = (t: string, payload: Buffer) => {
      if (t !== topic) return;
      client.off('message', onMessage);
      resolve(payload.toString());
    };
    client.on('message', onMessage);
  });
  // Resolves on PUBACK, so QoS 1 really went through the broker.
  await client.publishAsync(topic, text, { qos: 1 });
  return got;
}

test('freePort and waitFor helpers', async () => {
  const port = await freePort();
  assert.ok(port > 0 && port < 65536);
  assert.equal(await canConnect(port), false);
  await assert.rejects(
    waitFor(() => false, { timeoutMs: 100, intervalMs: 10, what: 'nothing' }),
    /timed out after 100ms waiting for nothing/,
  );
  let n = 0;
  assert.equal(await waitFor(() => (++n >= 3 ? n : undefined), { intervalMs: 1 }), 3);
});

test('startProcess rejects with the output of a process that dies before ready', async () => {
  const port = await freePort();
  await assert.rejects(
    startProcess('/bin/sh', ['-c', 'echo boom-on-stdout; echo boom-on-stderr >&2; exit 3'], { name: 'dies', readyPort: port }),
    (err: Error) => /exited before ready \(code 3/.test(err.message) && /boom-on-stdout/.test(err.message) && /boom-on-stderr/.test(err.message),
  );
});

test('startProcess waits for a ready line and stop() ends the process', async () => {
  const p = await startProcess('/bin/sh', ['-c', 'echo starting; sleep 0.2; echo READY now; exec sleep 60'], {
    name: 'sleeper',
    readyLine: /READY/g,
  });
  assert.match(p.output(), /READY now/);
  await p.stop();
  const exit = await p.exited;
  assert.equal(exit.signal, 'SIGTERM');
  assert.throws(() => process.kill(p.pid, 0), { code: 'ESRCH' });
});

test('mosquitto: QoS 1 round trip, restart on the same port', async (t) => {
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  assert.equal(broker.url, `mqtt://127.0.0.1:${broker.port}`);

  const client = await mqtt.connectAsync(broker.url, { clientId: 'peers-test-mosq', reconnectPeriod: 200 });
  t.after(() => client.endAsync(true));
  assert.equal(await roundTrip(client, 'kedge/test/mosquitto', 'hello mosquitto'), 'hello mosquitto');

  const firstPid = broker.pid;
  await broker.restart();
  assert.notEqual(broker.pid, firstPid);
  await waitForPort(broker.port);
  assert.equal(await canConnect(broker.port), true);

  // The same client reconnects by itself; persistence is off, so subscribe again.
  await waitFor(() => client.connected, { what: 'mqtt.js to reconnect after the restart' });
  assert.equal(await roundTrip(client, 'kedge/test/mosquitto', 'after restart'), 'after restart');
});

test('pymodbus: a register image reads back through modbus-serial', async (t) => {
  const server = await startPymodbus({
    image: {
      holding: { 0: 1234, 1: 0xbeef, 100: 7 },
      input: { 0: 42, 5: 65535 },
      coils: { 0: true, 2: true },
      discrete: { 1: true },
    },
  });
  t.after(() => server.stop());
  const client = await modbusClient(server.port);
  t.after(() => closeModbus(client));
  client.setID(1);

  assert.deepEqual((await client.readHoldingRegisters(0, 3)).data, [1234, 0xbeef, 0]);
  assert.deepEqual((await client.readHoldingRegisters(100, 1)).data, [7]);
  assert.deepEqual((await client.readInputRegisters(0, 6)).data, [42, 0, 0, 0, 0, 65535]);
  assert.deepEqual((await client.readCoils(0, 3)).data.slice(0, 3), [true, false, true]);
  assert.deepEqual((await client.readDiscreteInputs(0, 2)).data.slice(0, 2), [false, true]);
  // Without `units` any unit id is served from the same store.
  client.setID(17);
  assert.deepEqual((await client.readHoldingRegisters(0, 1)).data, [1234]);
});

test('pymodbus: units and sparse images answer with exceptions like a picky device', async (t) => {
  const server = await startPymodbus({ image: { holding: { 10: 1, 11: 2 }, units: [1, 2], sparse: true } });
  t.after(() => server.stop());
  const client = await modbusClient(server.port);
  t.after(() => closeModbus(client));

  client.setID(2);
  assert.deepEqual((await client.readHoldingRegisters(10, 2)).data, [1, 2]);
  assert.equal(await exceptionCode(client.readHoldingRegisters(12, 1)), 2);
  // pymodbus 3.0's framer drops requests for unknown units without answering, like an
  // absent RTU device behind a gateway, so the client times out.
  client.setID(3);
  client.setTimeout(300);
  await assert.rejects(client.readHoldingRegisters(10, 1), { errno: 'ETIMEDOUT' });
  // The connection is still usable afterwards.
  client.setTimeout(3000);
  client.setID(1);
  assert.deepEqual((await client.readHoldingRegisters(10, 1)).data, [1]);
});

test('embedded aedes broker: round trip and close() with a client still connected', async () => {
  const b = await startEmbeddedBroker({ port: 0 });
  let client: MqttClient | undefined;
  try {
    assert.equal(b.url, `mqtt://127.0.0.1:${b.port}`);
    client = await mqtt.connectAsync(b.url, { clientId: 'peers-test-aedes', reconnectPeriod: 0 });
    assert.equal(await roundTrip(client, 'kedge/test/aedes', 'hello aedes'), 'hello aedes');
    assert.equal(b.broker.connectedClients, 1);
    await b.close();
    assert.equal(await canConnect(b.port), false);
    assert.equal(b.broker.closed, true);
  } finally {
    await client?.endAsync(true);
    await b.close();
  }
});

const f32 = (table: 'holding' | 'input', address: number, order: 'ABCD' | 'CDAB' = 'ABCD'): ModbusPointRef => ({
  id: `p${address}`,
  table,
  address,
  type: 'float32',
  order,
});

test('modbus sim: four meters on one port with plausible values', async (t) => {
  const sim = await startModbusSim();
  t.after(() => sim.close());
  assert.deepEqual(
    sim.meters.map((m) => m.unitId),
    [1, 2, 3, 4],
  );
  const c = await modbusClient(sim.port);
  t.after(() => closeModbus(c));

  c.setID(1);
  const water = (await c.readHoldingRegisters(0, 5)).data;
  const flow = decodeRegisters(f32('holding', 0, 'CDAB'), water) as number;
  const litres = decodeRegisters({ id: 'v', table: 'holding', address: 2, type: 'uint32', order: 'ABCD' }, water, 2) as number;
  assert.ok(flow > 5 && flow < 20, `flow ${flow}`);
  assert.ok(litres > 12_345_000, `volume ${litres} L`);
  assert.equal(water[4]! & ~1, 0, 'only the high-flow bit may be set in status');
  assert.equal(water[4]! & 1, flow > 16 ? 1 : 0);

  c.setID(2);
  const heat = (await c.readInputRegisters(0, 11)).data;
  const supply = decodeRegisters(f32('input', 0), heat) as number;
  const ret = decodeRegisters(f32('input', 2), heat, 2) as number;
  const power = decodeRegisters(f32('input', 4), heat, 4) as number;
  const energy = decodeRegisters({ id: 'e', table: 'input', address: 6, type: 'uint64', order: 'ABCD' }, heat, 6);
  assert.ok(supply > 60 && supply < 80, `supply ${supply}`);
  assert.ok(ret > 35 && ret < supply, `return ${ret}`);
  assert.ok(power > 70 && power < 170, `power ${power}`);
  assert.ok(Number(energy) > 850_000_000, `energy ${energy}`);
  assert.equal(heat[10]! & ~1, 0);

  c.setID(3);
  const volts = (await c.readInputRegisters(0, 14)).data;
  for (const addr of [0, 2, 4]) {
    const v = decodeRegisters(f32('input', addr), volts, addr) as number;
    assert.ok(v > 220 && v < 240, `voltage @${addr} ${v}`);
  }
  const amps = decodeRegisters(f32('input', 6), volts, 6) as number;
  const watts = decodeRegisters(f32('input', 12), volts, 12) as number;
  assert.ok(amps > 5 && amps < 25, `current ${amps}`);
  assert.ok(watts > 3000 && watts < 20_000, `power ${watts}`);
  const hz = decodeRegisters(f32('input', 70), (await c.readInputRegisters(70, 2)).data) as number;
  assert.ok(hz > 45 && hz < 55, `frequency ${hz}`);
  const kwh = decodeRegisters(f32('input', 342), (await c.readInputRegisters(342, 2)).data) as number;
  assert.ok(kwh > 40_000, `import ${kwh}`);

  c.setID(4);
  const river = (await c.readHoldingRegisters(0, 4)).data;
  const level = decodeRegisters({ id: 'l', table: 'holding', address: 0, type: 'int16', order: 'ABCD' }, river) as number;
  const temp10 = decodeRegisters({ id: 't', table: 'holding', address: 1, type: 'int16', order: 'ABCD' }, river, 1) as number;
  const ntu = decodeRegisters(f32('holding', 2, 'CDAB'), river, 2) as number;
  assert.ok(level > 100 && level < 260, `level ${level}`);
  assert.ok(temp10 >= 25 && temp10 <= 65, `water temp x10 ${temp10}`);
  assert.ok(ntu >= 0.5 && ntu < 25, `turbidity ${ntu}`);
  const pump = (await c.readCoils(0, 1)).data[0];
  // The pump follows the unrounded level, so exactly 200 cm could go either way.
  if (level !== 200) assert.equal(pump, level > 200);
  assert.equal(typeof (await c.readDiscreteInputs(0, 1)).data[0], 'boolean');
});

test('modbus sim: exception 2 for unmapped addresses, unknown units and read-only writes', async (t) => {
  const sim = await startModbusSim();
  t.after(() => sim.close());
  const c = await modbusClient(sim.port);
  t.after(() => closeModbus(c));

  c.setID(1);
  assert.equal(await exceptionCode(c.readHoldingRegisters(100, 1)), 2);
  // A block that runs past the last mapped register fails as a whole.
  assert.equal(await exceptionCode(c.readHoldingRegisters(3, 4)), 2);
  assert.equal(await exceptionCode(c.readInputRegisters(0, 2)), 2);
  assert.equal(await exceptionCode(c.writeRegister(0, 1)), 2);
  c.setID(9);
  assert.equal(await exceptionCode(c.readHoldingRegisters(0, 1)), 2);
  // The connection survives exceptions.
  c.setID(1);
  assert.equal((await c.readHoldingRegisters(0, 2)).data.length, 2);

  c.setID(4);
  await c.writeCoil(0, true);
  assert.equal((await c.readCoils(0, 1)).data[0], true);
  await c.writeCoil(0, false);
  assert.equal((await c.readCoils(0, 1)).data[0], false);
});

test('modbus sim: deterministic for a given time, totals grow', async (t) => {
  let now = SIM_EPOCH_MS + 400 * 24 * 3_600_000;
  const simA = await startModbusSim({ clock: () => now });
  t.after(() => simA.close());
  const simB = await startModbusSim({ clock: () => now });
  t.after(() => simB.close());
  const a = await modbusClient(simA.port);
  t.after(() => closeModbus(a));
  const b = await modbusClient(simB.port);
  t.after(() => closeModbus(b));

  const snapshot = async (c: ModbusRTU) => {
    c.setID(1);
    const water = (await c.readHoldingRegisters(0, 5)).data;
    c.setID(2);
    const heat = (await c.readInputRegisters(0, 11)).data;
    c.setID(3);
    const kwh = (await c.readInputRegisters(342, 2)).data;
    return { water, heat, kwh };
  };

  const first = await snapshot(a);
  assert.deepEqual(await snapshot(b), first);

  let prev = first;
  for (const stepMs of [1000, 60_000, 3_600_000, 5 * 3_600_000]) {
    now += stepMs;
    const next = await snapshot(a);
    const litres = (s: typeof first) => decodeRegisters({ id: 'v', table: 'holding', address: 2, type: 'uint32', order: 'ABCD' }, s.water, 2) as number;
    const wh = (s: typeof first) =>
      BigInt(decodeRegisters({ id: 'e', table: 'input', address: 6, type: 'uint64', order: 'ABCD' }, s.heat, 6) as number | bigint);
    const kwh = (s: typeof first) => decodeRegisters(f32('input', 342), s.kwh) as number;
    assert.ok(litres(next) > litres(prev), `volume grows over ${stepMs}ms`);
    assert.ok(wh(next) > wh(prev), `energy grows over ${stepMs}ms`);
    assert.ok(kwh(next) >= kwh(prev), `import total never decreases over ${stepMs}ms`);
    prev = next;
  }
});

test('CLIs: simulator and embedded broker print their ready lines', async (t) => {
  const simPort = await freePort();
  const sim = await startProcess(process.execPath, ['--import', 'tsx', 'scripts/src/sim/modbus-tcp-sim.ts', '--port', String(simPort)], {
    cwd: REPO_ROOT,
    name: 'modbus-sim-cli',
    readyLine: new RegExp(`modbus sim listening on 127\\.0\\.0\\.1:${simPort} \\(units 1,2,3,4\\)`),
    readyPort: simPort,
    timeoutMs: 30_000,
  });
  t.after(() => sim.stop());
  const brokerPort = await freePort();
  const broker = await startProcess(
    process.execPath,
    ['--import', 'tsx', 'cloud-sync/src/broker/main.ts', '--port', String(brokerPort), '--host', '127.0.0.1'],
    {
      cwd: REPO_ROOT,
      name: 'broker-cli',
      readyLine: new RegExp(`broker listening on mqtt://127\\.0\\.0\\.1:${brokerPort}`),
      readyPort: brokerPort,
      timeoutMs: 30_000,
    },
  );
  t.after(() => broker.stop());

  const c = await modbusClient(simPort);
  c.setID(3);
  const hz = decodeRegisters(f32('input', 70), (await c.readInputRegisters(70, 2)).data) as number;
  await closeModbus(c);
  assert.ok(hz > 45 && hz < 55);

  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokerPort}`, { reconnectPeriod: 0 });
  assert.equal(await roundTrip(client, 'kedge/test/cli', 'cli'), 'cli');
  await client.endAsync();

  // Both CLIs shut down cleanly on SIGTERM rather than being killed.
  await sim.stop();
  await broker.stop();
  assert.deepEqual(await sim.exited, { code: 0, signal: null });
  assert.deepEqual(await broker.exited, { code: 0, signal: null });
});
