import test from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startPymodbus } from '@kedge/testkit/pymodbus.ts';
import { freePort } from '@kedge/testkit/ports.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { startModbusSim } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { parseConfig } from '../../config/load.ts';
import type { ModbusTcpDeviceConfig } from './schema.ts';
import { encodeRegisters } from '../modbus/decode.ts';
import type { ModbusPointRef } from '../modbus/types.ts';
import { Scheduler } from '../../scheduler/scheduler.ts';
import type { Sample } from '../driver.ts';
import { createModbusTcpDriver } from './index.ts';

/** Builds device configs through the real schema, so defaults and checks are the daemon's. */
function devices(list: unknown[]): ModbusTcpDeviceConfig[] {
  const cfg = parseConfig(
    JSON.stringify({
      gateway: { id: 'gw-test', region: 'kuzbass', municipality: 'kemerovo' },
      uplink: { url: 'mqtt://127.0.0.1:1' },
      devices: list,
    }),
  );
  return cfg.devices as ModbusTcpDeviceConfig[];
}

function byPoint(samples: Sample[]): Record<string, Sample> {
  return Object.fromEntries(samples.map((s) => [s.point, s]));
}

const ref = (p: Partial<ModbusPointRef> & Pick<ModbusPointRef, 'type'>): ModbusPointRef => ({
  id: 'x',
  table: 'holding',
  address: 0,
  order: 'ABCD',
  ...p,
});

/** Registers for a point, placed at its address in a sparse image. */
function place(image: Record<number, number>, address: number, words: number[]): void {
  words.forEach((w, i) => (image[address + i] = w));
}

test('reads every table and type from Debian pymodbus, coalescing neighbours into one request per table', async (t) => {
  const holding: Record<number, number> = {};
  place(holding, 0, encodeRegisters(ref({ type: 'float32', order: 'CDAB' }), 12.5));
  place(holding, 2, encodeRegisters(ref({ type: 'int32', order: 'ABCD' }), -123456));
  place(holding, 4, encodeRegisters(ref({ type: 'uint64', order: 'DCBA' }), 18446744073709551615n));
  place(holding, 8, encodeRegisters(ref({ type: 'float64', order: 'BADC' }), -0.015625));
  place(holding, 12, encodeRegisters(ref({ type: 'string', length: 4 }), 'SDM630'));
  place(holding, 16, [0b1000_0000_0000_0100]);
  const input: Record<number, number> = { 100: 2315, 101: 0xffff };
  const server = await startPymodbus({
    image: { holding, input, coils: { 0: true, 1: false, 2: true }, discrete: { 7: true } },
  });
  t.after(() => server.stop());

  const [device] = devices([
    {
      id: 'pymodbus',
      driver: 'modbus-tcp',
      host: '127.0.0.1',
      port: server.port,
      unitId: 1,
      points: [
        { id: 'flow', table: 'holding', address: 0, type: 'float32', order: 'CDAB' },
        { id: 'signed', table: 'holding', address: 2, type: 'int32' },
        { id: 'energy', table: 'holding', address: 4, type: 'uint64', order: 'DCBA' },
        { id: 'tiny', table: 'holding', address: 8, type: 'float64', order: 'BADC' },
        { id: 'model', table: 'holding', address: 12, type: 'string', length: 4 },
        { id: 'alarm', table: 'holding', address: 16, type: 'bit', bit: 2 },
        { id: 'door', table: 'holding', address: 16, type: 'bit', bit: 15 },
        { id: 'voltage', table: 'input', address: 100, type: 'uint16', scale: 0.1 },
        { id: 'minus1', table: 'input', address: 101, type: 'int16' },
        { id: 'pump', table: 'coil', address: 0 },
        { id: 'valve', table: 'coil', address: 1 },
        { id: 'heater', table: 'coil', address: 2 },
        { id: 'flood', table: 'discrete', address: 7 },
      ],
    },
  ]);
  const driver = createModbusTcpDriver(device!);
  t.after(() => driver.close());
  const result = await driver.poll(device!.points.map((p) => p.id));
  assert.equal(result.failed, false, result.error);
  assert.equal(result.requests, 4, 'one read per table');
  const s = byPoint(result.samples);
  assert.deepEqual(
    Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.value])),
    {
      flow: 12.5,
      signed: -123456,
      energy: 18446744073709551615n,
      tiny: -0.015625,
      model: 'SDM630',
      alarm: true,
      door: true,
      voltage: 2315, // raw: scaling is the pipeline's job
      minus1: -1,
      pump: true,
      valve: false,
      heater: true,
      flood: true,
    },
  );
  assert.ok(result.samples.every((x) => x.quality === 'good'));
});

test('an exception from the device marks only the points of that request bad, and the device is not failed', async (t) => {
  const server = await startPymodbus({ image: { holding: { 0: 7, 1: 8 }, sparse: true } });
  t.after(() => server.stop());
  const [device] = devices([
    {
      id: 'sparse',
      driver: 'modbus-tcp',
      host: '127.0.0.1',
      port: server.port,
      maxGap: 0,
      points: [
        { id: 'ok', table: 'holding', address: 0, type: 'uint16' },
        { id: 'missing', table: 'holding', address: 500, type: 'uint16' },
        { id: 'ok2', table: 'holding', address: 1, type: 'uint16' },
      ],
    },
  ]);
  const driver = createModbusTcpDriver(device!);
  t.after(() => driver.close());
  const result = await driver.poll(['ok', 'missing', 'ok2']);
  const s = byPoint(result.samples);
  assert.equal(s.ok?.value, 7);
  assert.equal(s.ok2?.value, 8);
  assert.equal(s.missing?.quality, 'bad_device_error');
  assert.equal(s.missing?.value, null);
  assert.match(s.missing?.error ?? '', /exception 2 \(illegal data address\).*holding 500/);
  // The unit answered the other reads: a fact about one read, no backoff for the device.
  assert.equal(result.failed, false);
  assert.deepEqual(result.blockErrors, ['Modbus exception 2 (illegal data address) reading holding 500']);
});

test('a device that never answers gets bad_no_response and does not hold up another device', async (t) => {
  // A TCP peer that accepts and stays silent: the worst case of a dead serial line behind a gateway.
  const silent = net.createServer(() => {});
  const sockets = new Set<net.Socket>();
  silent.on('connection', (s) => sockets.add(s));
  const silentPort = await freePort();
  await new Promise<void>((r) => silent.listen(silentPort, '127.0.0.1', r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const server = await startPymodbus({ image: { holding: { 0: 42 } } });
  t.after(() => server.stop());

  const [dead, alive] = devices([
    {
      id: 'dead',
      driver: 'modbus-tcp',
      host: '127.0.0.1',
      port: silentPort,
      timeoutMs: 1500,
      intervalMs: 100,
      backoff: { minMs: 2000, maxMs: 8000 },
      points: [
        { id: 'a', table: 'holding', address: 0 },
        { id: 'b', table: 'input', address: 0 },
      ],
    },
    { id: 'alive', driver: 'modbus-tcp', host: '127.0.0.1', port: server.port, intervalMs: 100, points: [{ id: 'a', table: 'holding', address: 0 }] },
  ]);
  const deadDriver = createModbusTcpDriver(dead!);
  const aliveDriver = createModbusTcpDriver(alive!);
  const seen: Array<{ device: string; samples: Sample[] }> = [];
  const scheduler = new Scheduler(
    [
      { driver: deadDriver, groups: [{ intervalMs: 100, pointIds: ['a', 'b'] }], backoff: dead!.backoff },
      { driver: aliveDriver, groups: [{ intervalMs: 100, pointIds: ['a'] }], backoff: alive!.backoff },
    ],
    (device, result) => seen.push({ device, samples: result.samples }),
  );
  scheduler.start();
  t.after(async () => {
    await scheduler.stop();
    await deadDriver.close();
    await aliveDriver.close();
  });

  const firstDead = await waitFor(() => seen.find((x) => x.device === 'dead'), { timeoutMs: 10_000, what: 'the dead device to time out' });
  const aliveBefore = seen.slice(0, seen.indexOf(firstDead)).filter((x) => x.device === 'alive');
  // The dead unit's 1.5 s timeout passed while the other device kept its 100 ms cycle.
  assert.ok(aliveBefore.length >= 3, `alive device polled ${aliveBefore.length} times during the dead device's timeout`);
  assert.ok(aliveBefore.every((x) => x.samples[0]?.value === 42 && x.samples[0]?.quality === 'good'));
  assert.deepEqual(
    firstDead.samples.map((x) => [x.point, x.quality]),
    [
      ['a', 'bad_no_response'],
      ['b', 'bad_no_response'],
    ],
  );
  const state = scheduler.states().find((x) => x.deviceId === 'dead')!;
  assert.equal(state.consecutiveFailures, 1);
  assert.ok(state.backoffUntil !== null, 'the dead device is in backoff');
  assert.ok(state.requests === 1, 'the second block was not sent to a silent unit');
});

test('a refused connection is reported as bad_comm with the reason', async (t) => {
  const port = await freePort();
  const [device] = devices([
    { id: 'nobody', driver: 'modbus-tcp', host: '127.0.0.1', port, points: [{ id: 'p', table: 'holding', address: 0 }] },
  ]);
  const driver = createModbusTcpDriver(device!);
  t.after(() => driver.close());
  const result = await driver.poll(['p']);
  assert.equal(result.failed, true);
  assert.equal(result.samples[0]?.quality, 'bad_comm');
  assert.match(result.samples[0]?.error ?? '', /ECONNREFUSED/);
});

test("reads the simulated meters from modbus-serial's ServerTCP, several unit ids on one connection", async (t) => {
  const sim = await startModbusSim();
  t.after(() => sim.close());
  const list = devices([
    {
      id: 'energy',
      driver: 'modbus-tcp',
      host: '127.0.0.1',
      port: sim.port,
      unitId: 3,
      points: [
        { id: 'u1', table: 'input', address: 0, type: 'float32' },
        { id: 'freq', table: 'input', address: 70, type: 'float32' },
        { id: 'import', table: 'input', address: 342, type: 'float32' },
      ],
    },
    {
      id: 'river',
      driver: 'modbus-tcp',
      host: '127.0.0.1',
      port: sim.port,
      unitId: 4,
      points: [
        { id: 'level', table: 'holding', address: 0, type: 'int16' },
        { id: 'door', table: 'discrete', address: 0 },
      ],
    },
  ]);
  const drivers = list.map((d) => createModbusTcpDriver(d));
  t.after(() => Promise.all(drivers.map((d) => d.close())));
  const [energy, river] = await Promise.all([drivers[0]!.poll(['u1', 'freq', 'import']), drivers[1]!.poll(['level', 'door'])]);
  assert.equal(energy.failed, false, energy.error);
  assert.equal(river.failed, false, river.error);
  const e = byPoint(energy.samples);
  assert.ok((e.u1?.value as number) > 200 && (e.u1?.value as number) < 260, `L1 voltage ${e.u1?.value}`);
  assert.ok((e.freq?.value as number) > 45 && (e.freq?.value as number) < 55, `frequency ${e.freq?.value}`);
  assert.equal(energy.requests, 3, 'registers 0, 70 and 342 are too far apart to share a read');
  assert.equal(typeof byPoint(river.samples).door?.value, 'boolean');
});
