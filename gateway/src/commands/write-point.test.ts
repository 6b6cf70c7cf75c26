import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startModbusTap, type ModbusTap } from '@kedge/testkit/modbus-tap.ts';
import { startPymodbus, type PymodbusHandle } from '@kedge/testkit/pymodbus.ts';
import { freePort } from '@kedge/testkit/ports.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { parseConfig } from '../config/load.ts';
import { encodeRegisters } from '../drivers/modbus/decode.ts';
import { ModbusRTU } from '../drivers/modbus/modbus-serial.ts';
import type { ModbusPointRef } from '../drivers/modbus/types.ts';
import { WriteError } from '../drivers/write-error.ts';
import { TcpTransport } from '../drivers/modbus-tcp/tcp-transport.ts';
import { Gateway } from '../gateway.ts';

// One pymodbus, one tap (which records function codes), one gateway for the whole file.
let server: PymodbusHandle;
let tap: ModbusTap;
let gateway: Gateway;
let dir: string;
let reader: ModbusRTU;

const ref = (p: Partial<ModbusPointRef> & Pick<ModbusPointRef, 'type'>): ModbusPointRef => ({ id: 'x', table: 'holding', address: 0, order: 'ABCD', ...p });

const points = [
  { id: 'pump', table: 'coil', address: 0, writable: true },
  { id: 'setpoint', table: 'holding', address: 10, type: 'uint16', writable: true },
  { id: 'flow', table: 'holding', address: 20, type: 'float32', order: 'CDAB', writable: true },
  { id: 'temp', table: 'holding', address: 30, type: 'int32', order: 'DCBA', scale: 0.1, offset: -40, writable: true },
  { id: 'total', table: 'holding', address: 40, type: 'uint64', order: 'BADC', writable: true },
  { id: 'label', table: 'holding', address: 50, type: 'string', length: 3, writable: true },
  { id: 'small', table: 'holding', address: 60, type: 'int16', writable: true },
  { id: 'alarm', table: 'holding', address: 70, type: 'bit', bit: 0, writable: true },
  { id: 'door', table: 'holding', address: 70, type: 'bit', bit: 4, writable: true },
  { id: 'energy', table: 'holding', address: 80, type: 'uint16' },
  { id: 'level', table: 'input', address: 0 },
];

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kedge-write-'));
  server = await startPymodbus({ image: { holding: { 70: 0x00f0, 80: 1234 } } });
  tap = await startModbusTap({ port: server.port });
  const config = parseConfig(
    JSON.stringify({
      gateway: { id: 'gw-write', region: 'kuzbass', municipality: 'kemerovo' },
      dataDir: dir,
      log: { flushMs: 20, synchronous: 'normal' },
      // Nothing listens there: readings wait in the log, which this file does not care about.
      uplink: { url: `mqtt://127.0.0.1:${await freePort()}`, reconnectMinMs: 60_000, reconnectMaxMs: 60_000 },
      web: { enabled: false },
      devices: [
        { id: 'plc', driver: 'modbus-tcp', host: '127.0.0.1', port: tap.port, intervalMs: 100, points },
        { id: 'off', driver: 'modbus-tcp', host: '127.0.0.1', port: tap.port, enabled: false, points: [{ id: 'p', table: 'coil', address: 1, writable: true }] },
      ],
    }),
  );
  gateway = new Gateway(config, pino({ level: 'silent' }));
  await gateway.start();
  reader = new ModbusRTU();
  await reader.connectTCP('127.0.0.1', { port: server.port });
  reader.setID(1);
});

test.after(async () => {
  reader.close(() => {});
  await gateway.stop();
  await tap.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Function codes the gateway sent while `fn` ran, polls (FC 1, 3, 4) left out. */
async function writeCodes(fn: () => Promise<unknown>): Promise<number[]> {
  const from = tap.requests.length;
  await fn();
  return tap.requests.slice(from).filter((r) => ![1, 3, 4].includes(r.functionCode)).map((r) => r.functionCode);
}

const holding = async (address: number, count: number) => (await reader.readHoldingRegisters(address, count)).data;

async function rejects(p: Promise<unknown>, code: WriteError['code'], message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof WriteError, `expected a WriteError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

test('a coil is written with FC 5 and the device holds the new state', async () => {
  const codes = await writeCodes(() => gateway.writePoint('plc', 'pump', true));
  assert.deepEqual(codes, [5]);
  assert.deepEqual((await reader.readCoils(0, 1)).data.slice(0, 1), [true]);
});

test('one holding register is written with FC 6, and writePoint answers with what was written', async () => {
  let result: unknown;
  const codes = await writeCodes(async () => (result = await gateway.writePoint('plc', 'setpoint', 4321)));
  assert.deepEqual(codes, [6]);
  assert.deepEqual(await holding(10, 1), [4321]);
  assert.equal((result as { device: string }).device, 'plc');
  assert.equal((result as { point: string }).point, 'setpoint');
  assert.equal((result as { value: number }).value, 4321);
});

test('a float32 in CDAB order is written with FC 16 as the decoder would read it', async () => {
  const codes = await writeCodes(() => gateway.writePoint('plc', 'flow', 12.5));
  assert.deepEqual(codes, [16]);
  assert.deepEqual(await holding(20, 2), encodeRegisters(ref({ type: 'float32', order: 'CDAB' }), 12.5));
});

test('scale and offset are reversed: 23.1 with scale 0.1 and offset -40 becomes raw 631 (int32 DCBA)', async () => {
  await gateway.writePoint('plc', 'temp', 23.1);
  assert.deepEqual(await holding(30, 2), encodeRegisters(ref({ type: 'int32', order: 'DCBA' }), 631));
});

test('a uint64 beyond 2^53 is written exactly as a bigint in BADC order', async () => {
  const big = 2n ** 64n - 3n;
  const codes = await writeCodes(() => gateway.writePoint('plc', 'total', big));
  assert.deepEqual(codes, [16]);
  assert.deepEqual(await holding(40, 4), encodeRegisters(ref({ type: 'uint64', order: 'BADC' }), big));
});

test('a string is written NUL-padded over its registers', async () => {
  await gateway.writePoint('plc', 'label', 'ПН');
  assert.deepEqual(await holding(50, 3), encodeRegisters(ref({ type: 'string', length: 3 }), 'ПН'));
});

test('a bit inside a holding register is read-modify-written (FC 3 then FC 6), keeping the other 15 bits', async () => {
  const from = tap.requests.length;
  await gateway.writePoint('plc', 'alarm', true);
  const sent = tap.requests.slice(from).filter((r) => r.address === 70).map((r) => r.functionCode);
  assert.deepEqual(sent, [3, 6]);
  assert.deepEqual(await holding(70, 1), [0x00f1]);
  await gateway.writePoint('plc', 'door', false);
  assert.deepEqual(await holding(70, 1), [0x00e1]);
});

test('the written value reaches the live values through the next poll, as read back from the device', async () => {
  await gateway.writePoint('plc', 'setpoint', 777);
  const live = await waitFor(() => {
    const v = gateway.status().live['plc/setpoint'];
    return v && v.value === 777 ? v : undefined;
  }, { what: 'setpoint read back as 777' });
  assert.equal(live.value, 777);
});

test('a point not marked writable is refused before anything is sent', async () => {
  const codes = await writeCodes(() =>
    rejects(gateway.writePoint('plc', 'energy', 1), 'not_writable', /plc\/energy is not writable: the config must mark it "writable: true"/),
  );
  assert.deepEqual(codes, []);
  assert.deepEqual(await holding(80, 1), [1234]);
  await rejects(gateway.writePoint('plc', 'level', 1), 'not_writable', /plc\/level is not writable/);
});

test('unknown devices and points, and disabled devices, are refused as not_found', async () => {
  await rejects(gateway.writePoint('nope', 'pump', true), 'not_found', /no device "nope" in the config \(devices: plc, off\)/);
  await rejects(gateway.writePoint('plc', 'nope', true), 'not_found', /device "plc" has no point "nope"/);
  await rejects(gateway.writePoint('off', 'p', true), 'not_found', /device "off" is disabled/);
});

test('values that do not fit the point are refused as invalid_value before anything is sent', async () => {
  const codes = await writeCodes(async () => {
    await rejects(gateway.writePoint('plc', 'small', 40000), 'invalid_value', /plc\/small: int16 value 40000 is out of range -32768\.\.32767/);
    await rejects(gateway.writePoint('plc', 'setpoint', -1), 'invalid_value', /uint16 value -1 is out of range 0\.\.65535/);
    await rejects(gateway.writePoint('plc', 'pump', 1), 'invalid_value', /plc\/pump: type bool needs true or false/);
    await rejects(gateway.writePoint('plc', 'alarm', 'on'), 'invalid_value', /plc\/alarm: type bit needs true or false/);
    await rejects(gateway.writePoint('plc', 'label', 'too long text'), 'invalid_value', /more than the 6 bytes of its 3 register/);
    await rejects(gateway.writePoint('plc', 'flow', 'fast'), 'invalid_value', /type float32 needs a number value, got string/);
    await rejects(gateway.writePoint('plc', 'temp', Number.NaN), 'invalid_value', /must be a finite number/);
  });
  assert.deepEqual(codes, []);
});

test('integer registers get the nearest whole value: 12.6 on a uint16 writes 13', async () => {
  await gateway.writePoint('plc', 'setpoint', 12.6);
  assert.deepEqual(await holding(10, 1), [13]);
});

test('several coils go out as one FC 15 and several registers as one FC 16 at the transport', async () => {
  const transport = new TcpTransport('127.0.0.1', tap.port, 2000);
  try {
    const codes = await writeCodes(async () => {
      await transport.write(1, 'coil', 100, [true, false, true], 1000);
      await transport.write(1, 'holding', 100, [1, 2, 3], 1000);
    });
    assert.deepEqual(codes, [15, 16]);
    assert.deepEqual((await reader.readCoils(100, 3)).data.slice(0, 3), [true, false, true]);
    assert.deepEqual(await holding(100, 3), [1, 2, 3]);
  } finally {
    await transport.close();
  }
});

test('a Modbus exception from the device becomes a device_error naming the point and the exception', async () => {
  const sparse = await startPymodbus({ image: { holding: { 0: 1 }, sparse: true } });
  const transport = new TcpTransport('127.0.0.1', sparse.port, 2000);
  try {
    const { ModbusDevice } = await import('../drivers/modbus/modbus-device.ts');
    const device = new ModbusDevice({
      deviceId: 'sparse',
      unitId: 1,
      timeoutMs: 1000,
      points: [{ id: 'gone', table: 'holding', address: 500, type: 'uint16', order: 'ABCD' }],
      plan: { maxGap: 0, maxRegisters: 125, maxBits: 2000 },
      transport,
      release: () => transport.close(),
    });
    await rejects(device.write('gone', 5), 'device_error', /writing sparse\/gone \(holding 500\) failed: Modbus exception 2 \(illegal data address\)/);
  } finally {
    await transport.close();
    await sparse.stop();
  }
});
