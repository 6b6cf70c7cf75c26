import test from 'node:test';
import assert from 'node:assert/strict';
import { SerialPort } from 'serialport';
import { startPymodbusSerial } from '@kedge/testkit/pymodbus.ts';
import { startSocatPair, type SocatPair } from '@kedge/testkit/socat.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { loadProfile } from '@kedge/device-profiles/load.ts';
import { startProfileSim } from '@kedge/testkit/sim/profile-sim.ts';
import { parseConfig } from '../../config/load.ts';
import type { ModbusRtuDeviceConfig } from './schema.ts';
import { encodeRegisters } from '../modbus/decode.ts';
import type { ModbusPointRef } from '../modbus/types.ts';
import { Scheduler } from '../../scheduler/scheduler.ts';
import type { PollResult, Sample } from '../driver.ts';
import { createModbusRtuDriver, testReadModbusRtu } from './index.ts';
import { defaultInterFrameDelayMs } from './serial-transport.ts';

function devices(list: unknown[]): ModbusRtuDeviceConfig[] {
  const cfg = parseConfig(
    JSON.stringify({
      gateway: { id: 'gw-test', region: 'kuzbass', municipality: 'kemerovo' },
      uplink: { url: 'mqtt://127.0.0.1:1' },
      devices: list,
    }),
  );
  return cfg.devices as ModbusRtuDeviceConfig[];
}

const byPoint = (samples: Sample[]): Record<string, Sample> => Object.fromEntries(samples.map((s) => [s.point, s]));
const values = (r: PollResult) => Object.fromEntries(r.samples.map((s) => [s.point, s.value]));
const ref = (p: Partial<ModbusPointRef> & Pick<ModbusPointRef, 'type'>): ModbusPointRef => ({ id: 'x', table: 'holding', address: 0, order: 'ABCD', ...p });

async function pair(t: test.TestContext): Promise<SocatPair> {
  const p = await startSocatPair();
  t.after(() => p.stop());
  return p;
}

/**
 * Two socat pairs joined by this relay: gateway <-> [a.b | relay | b.a] <-> slave. `corrupt()`
 * flips one byte of the next answer, as a noisy RS-485 line does.
 */
async function corruptingRelay(t: test.TestContext) {
  const gwSide = await pair(t);
  const slaveSide = await pair(t);
  const open = (path: string) =>
    new Promise<SerialPort>((resolve, reject) => {
      const port = new SerialPort({ path, baudRate: 9600 }, (err) => (err ? reject(err) : resolve(port)));
    });
  const toGateway = await open(gwSide.b);
  const toSlave = await open(slaveSide.a);
  let corruptNext = false;
  toGateway.on('data', (d: Buffer) => toSlave.write(d));
  toSlave.on('data', (d: Buffer) => {
    if (corruptNext) {
      corruptNext = false;
      d = Buffer.from(d);
      d[d.length - 1] = d[d.length - 1]! ^ 0xff;
    }
    toGateway.write(d);
  });
  t.after(async () => {
    await new Promise((r) => toGateway.close(r));
    await new Promise((r) => toSlave.close(r));
  });
  return { gatewayPort: gwSide.a, slavePort: slaveSide.b, corrupt: () => (corruptNext = true) };
}

test('the inter-frame gap is 3.5 characters, and 1.75 ms above 19200 baud', () => {
  assert.equal(defaultInterFrameDelayMs({ baudRate: 9600, parity: 'even', dataBits: 8, stopBits: 1 }), (3.5 * 11 * 1000) / 9600);
  assert.equal(defaultInterFrameDelayMs({ baudRate: 9600, parity: 'none', dataBits: 8, stopBits: 1 }), (3.5 * 10 * 1000) / 9600);
  assert.equal(defaultInterFrameDelayMs({ baudRate: 38400, parity: 'none', dataBits: 8, stopBits: 1 }), 1.75);
});

test('reads two unit ids of Debian pymodbus over one RTU bus (socat pty pair)', async (t) => {
  const line = await pair(t);
  const holding: Record<number, number> = {};
  encodeRegisters(ref({ type: 'float32', order: 'CDAB' }), 12.5).forEach((w, i) => (holding[i] = w));
  encodeRegisters(ref({ type: 'int32' }), -123456).forEach((w, i) => (holding[2 + i] = w));
  const server = await startPymodbusSerial({
    device: line.b,
    image: { holding, input: { 100: 2315 }, coils: { 0: true }, discrete: { 3: true }, units: [1, 2] },
  });
  t.after(() => server.stop());
  const [a, b] = devices([
    {
      id: 'meter-a',
      driver: 'modbus-rtu',
      port: line.a,
      unitId: 1,
      points: [
        { id: 'flow', table: 'holding', address: 0, type: 'float32', order: 'CDAB' },
        { id: 'signed', table: 'holding', address: 2, type: 'int32' },
        { id: 'voltage', table: 'input', address: 100 },
        { id: 'pump', table: 'coil', address: 0 },
        { id: 'flood', table: 'discrete', address: 3 },
      ],
    },
    { id: 'meter-b', driver: 'modbus-rtu', port: line.a, unitId: 2, points: [{ id: 'voltage', table: 'input', address: 100 }] },
  ]);
  const da = createModbusRtuDriver(a!);
  const db = createModbusRtuDriver(b!);
  t.after(async () => {
    await da.close();
    await db.close();
  });
  // Both at once: the shared bus must serialise them.
  const [ra, rb] = await Promise.all([da.poll(a!.points.map((p) => p.id)), db.poll(['voltage'])]);
  assert.equal(ra.failed, false, ra.error);
  assert.equal(rb.failed, false, rb.error);
  assert.deepEqual(values(ra), { flow: 12.5, signed: -123456, voltage: 2315, pump: true, flood: true });
  assert.deepEqual(values(rb), { voltage: 2315 });
  assert.equal(ra.requests, 4, 'one read per table');
});

test('a unit id nobody answers gets bad_no_response and the next unit on the bus still reads', async (t) => {
  const line = await pair(t);
  const server = await startPymodbusSerial({ device: line.b, image: { holding: { 0: 42 }, units: [1] } });
  t.after(() => server.stop());
  const [dead, alive] = devices([
    { id: 'dead', driver: 'modbus-rtu', port: line.a, unitId: 9, timeoutMs: 300, points: [{ id: 'a', table: 'holding', address: 0 }, { id: 'b', table: 'input', address: 0 }] },
    { id: 'alive', driver: 'modbus-rtu', port: line.a, unitId: 1, points: [{ id: 'a', table: 'holding', address: 0 }] },
  ]);
  const dd = createModbusRtuDriver(dead!);
  const da = createModbusRtuDriver(alive!);
  t.after(async () => {
    await dd.close();
    await da.close();
  });
  const r = await dd.poll(['a', 'b']);
  assert.deepEqual(
    r.samples.map((s) => [s.point, s.quality]),
    [
      ['a', 'bad_no_response'],
      ['b', 'bad_no_response'],
    ],
  );
  assert.equal(r.requests, 1, 'a silent unit is not asked for its second block');
  const ok = await da.poll(['a']);
  assert.equal(ok.failed, false, ok.error);
  assert.equal(byPoint(ok.samples).a?.value, 42);
});

test('the serial adapter vanishing under the driver (pty gone: EIO) fails the polls as link errors and ends nothing', async (t) => {
  const line = await startSocatPair();
  t.after(() => line.stop());
  const server = await startPymodbusSerial({ device: line.b, image: { holding: { 0: 7 }, units: [1] } });
  t.after(() => server.stop());
  const [device] = devices([{ id: 'm', driver: 'modbus-rtu', port: line.a, unitId: 1, timeoutMs: 500, points: [{ id: 'a', table: 'holding', address: 0 }] }]);
  const driver = createModbusRtuDriver(device!);
  t.after(() => driver.close());
  const ok = await driver.poll(['a']);
  assert.equal(byPoint(ok.samples).a?.value, 7, ok.error);
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  t.after(() => process.off('uncaughtException', onUncaught));
  await line.stop(); // the adapter is pulled: the open port's writes and reads now fail with EIO
  for (let i = 0; i < 3; i++) {
    const r = await driver.poll(['a']);
    assert.ok(r.failed || r.samples.every((s) => s.quality !== 'good'), `poll ${i} after the adapter vanished reported good data`);
  }
  assert.deepEqual(uncaught, [], 'a port error escaped the driver');
});

test('on a shared bus a silent slave delays a healthy one by at most its own timeout, and not at all during its backoff', async (t) => {
  const line = await pair(t);
  const server = await startPymodbusSerial({ device: line.b, image: { holding: { 0: 7 }, units: [1] } });
  t.after(() => server.stop());
  const DEAD_TIMEOUT = 800;
  const [dead, alive] = devices([
    {
      id: 'dead',
      driver: 'modbus-rtu',
      port: line.a,
      unitId: 5,
      timeoutMs: DEAD_TIMEOUT,
      intervalMs: 100,
      backoff: { minMs: 3000, maxMs: 3000 },
      points: [{ id: 'a', table: 'holding', address: 0 }],
    },
    { id: 'alive', driver: 'modbus-rtu', port: line.a, unitId: 1, intervalMs: 100, points: [{ id: 'a', table: 'holding', address: 0 }] },
  ]);
  const dd = createModbusRtuDriver(dead!);
  const da = createModbusRtuDriver(alive!);
  const seen: Array<{ device: string; result: PollResult; durationMs: number }> = [];
  const scheduler = new Scheduler(
    [
      { driver: dd, groups: [{ intervalMs: 100, pointIds: ['a'] }], backoff: dead!.backoff },
      { driver: da, groups: [{ intervalMs: 100, pointIds: ['a'] }], backoff: alive!.backoff },
    ],
    (device, result, durationMs) => seen.push({ device, result, durationMs }),
  );
  scheduler.start();
  t.after(async () => {
    await scheduler.stop();
    await dd.close();
    await da.close();
  });
  const deadPolls = () => seen.filter((s) => s.device === 'dead');
  await waitFor(() => deadPolls().length >= 2, { timeoutMs: 15_000, what: 'the dead unit to be polled twice' });
  const [first, second] = deadPolls();
  const between = seen.slice(seen.indexOf(first!) + 1, seen.indexOf(second!)).filter((s) => s.device === 'alive');
  // 3 s of backoff at a 100 ms interval: the healthy unit keeps its rate (>= 10 polls, ideally ~30).
  assert.ok(between.length >= 10, `healthy unit polled ${between.length} times during the silent unit's backoff`);
  assert.ok(between.every((s) => s.result.samples[0]?.value === 7 && s.result.samples[0]?.quality === 'good'));
  assert.equal(first!.result.samples[0]?.quality, 'bad_no_response');
  // Waiting behind the silent unit costs one timeout, never two: the bound is per cycle.
  const alivePolls = seen.filter((s) => s.device === 'alive');
  const worst = Math.max(...alivePolls.map((s) => s.durationMs));
  assert.ok(worst < 2 * DEAD_TIMEOUT, `a healthy poll took ${worst} ms, more than one ${DEAD_TIMEOUT} ms timeout of the silent unit`);
  assert.ok(alivePolls.every((s) => !s.result.failed), 'no healthy poll failed because of the silent unit');
});

const RELAYED_ANSWER_TIMEOUT_MS = 5000;

test("a corrupted answer is bad_comm for that poll only; modbus-serial's ServerSerial answers the next one", async (t) => {
  const relay = await corruptingRelay(t);
  const sim = await startProfileSim([{ profile: loadProfile('sdm630'), unitId: 3 }], { kind: 'rtu', path: relay.slavePort });
  t.after(() => sim.close());
  const [device] = devices([
    {
      id: 'energy',
      driver: 'modbus-rtu',
      port: relay.gatewayPort,
      profile: 'sdm630',
      unitId: 3,
      // A corrupted answer fails on its CRC, not on the timeout: the timeout only has to be
      // long enough for a loaded machine to relay a good answer through two pty pairs.
      timeoutMs: RELAYED_ANSWER_TIMEOUT_MS,
    },
  ]);
  const driver = createModbusRtuDriver(device!);
  t.after(() => driver.close());

  const good = await driver.poll(['voltage_l1', 'frequency']);
  assert.equal(good.failed, false, good.error);
  relay.corrupt();
  const bad = await driver.poll(['voltage_l1', 'frequency']);
  assert.equal(bad.failed, true);
  assert.equal(bad.samples[0]?.quality, 'bad_comm');
  assert.match(bad.samples[0]?.error ?? '', /CRC/);
  const again = await driver.poll(['voltage_l1', 'frequency']);
  assert.equal(again.failed, false, again.error);
  const v = byPoint(again.samples);
  assert.ok((v.voltage_l1?.value as number) > 220 && (v.voltage_l1?.value as number) < 240, `L1 voltage ${v.voltage_l1?.value}`);
  assert.ok((v.frequency?.value as number) > 49.9 && (v.frequency?.value as number) < 50.1, `frequency ${v.frequency?.value}`);
});

test('test read over RS-485: raw registers and all four byte orders, on a free port and between the polls of a polled bus', async (t) => {
  const line = await pair(t);
  const holding: Record<number, number> = {};
  encodeRegisters(ref({ type: 'float32', order: 'CDAB' }), 12.5).forEach((w, i) => (holding[i] = w));
  const server = await startPymodbusSerial({ device: line.b, image: { holding, input: { 100: 2315 }, units: [1, 2] } });
  t.after(() => server.stop());
  const [unsaved, polled] = devices([
    { id: 'new-meter', driver: 'modbus-rtu', port: line.a, unitId: 1, points: [{ id: 'flow', table: 'holding', address: 0, type: 'float32', order: 'CDAB', scale: 2 }, { id: 'voltage', table: 'input', address: 100 }] },
    { id: 'polled', driver: 'modbus-rtu', port: line.a, unitId: 2, points: [{ id: 'voltage', table: 'input', address: 100 }] },
  ]);

  // A port nobody polls: opened for the read, closed after (a second read opens it again).
  for (let i = 0; i < 2; i++) {
    const r = await testReadModbusRtu(unsaved!);
    assert.deepEqual(r.orders, ['ABCD', 'CDAB', 'BADC', 'DCBA']);
    const [flow, voltage] = r.points;
    assert.equal(flow!.quality, 'good', flow!.error);
    assert.equal(flow!.value, 12.5, 'unscaled: the route applies scale');
    assert.equal(flow!.orders!['CDAB'], 12.5);
    assert.notEqual(flow!.orders!['ABCD'], 12.5);
    assert.deepEqual(flow!.raw, [holding[0], holding[1]]);
    assert.deepEqual([flow!.table, flow!.address, flow!.order], ['holding', 0, 'CDAB']);
    assert.match(flow!.where, /holding 0\.\.1/);
    assert.deepEqual([voltage!.value, voltage!.quality], [2315, 'good']);
  }

  // A polled bus: the test read shares it, one transaction at a time, and both answer.
  const driver = createModbusRtuDriver(polled!);
  t.after(() => driver.close());
  const [poll, read] = await Promise.all([driver.poll(['voltage']), testReadModbusRtu(unsaved!)]);
  assert.equal(poll.failed, false, poll.error);
  assert.deepEqual(read.points.map((p) => [p.point, p.value, p.quality]), [['flow', 12.5, 'good'], ['voltage', 2315, 'good']]);
  const after = await driver.poll(['voltage']);
  assert.equal(after.failed, false, 'the polled bus is still open after the test read');
});

test('test read of a serial port that does not exist: every point bad, the reason named', async () => {
  const [device] = devices([{ id: 'nowhere', driver: 'modbus-rtu', port: '/dev/kedge-no-such-tty', timeoutMs: 200, points: [{ id: 'a', table: 'holding', address: 0 }] }]);
  const r = await testReadModbusRtu(device!);
  assert.equal(r.points.length, 1);
  assert.notEqual(r.points[0]!.quality, 'good');
  assert.match(r.points[0]!.error ?? '', /kedge-no-such-tty|No such file|cannot open|ENOENT/i);
});
