import test from 'node:test';
import assert from 'node:assert/strict';
import { SerialPort } from 'serialport';
import ModbusSerial from 'modbus-serial';
import { startSocatPair, type SocatPair } from '@kedge/testkit/socat.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { crc16 } from './crc16.ts';
import { startRtuSlave, type RtuSlave } from './modbus-slave.ts';
import { REGISTER_MAP, STATUS_BITS } from './register-map.ts';
import { startMockRig, tempDir, type MockRig } from './test-rig.ts';

const ModbusRTU = ModbusSerial.default;
type Client = InstanceType<typeof ModbusRTU>;
const UNIT = 7;

interface Station {
  line: SocatPair;
  rig: MockRig;
  slave: RtuSlave;
  client: Client;
  stop(): Promise<void>;
}

async function connectClient(path: string): Promise<Client> {
  const client = new ModbusRTU();
  await client.connectRTUBuffered(path, { baudRate: 19200 });
  client.setID(UNIT);
  client.setTimeout(1000);
  return client;
}

async function startStation(settingsFile?: string, line?: SocatPair): Promise<Station> {
  line ??= await startSocatPair();
  const rig = startMockRig(settingsFile ? { settingsFile } : {});
  rig.node.start();
  const slave = await startRtuSlave({ path: line.a, unitId: UNIT, baudRate: 19200, backend: rig.node });
  const client = await connectClient(line.b);
  return {
    line,
    rig,
    slave,
    client,
    async stop() {
      await new Promise<void>((r) => client.close(() => r()));
      await slave.close();
      rig.stop();
    },
  };
}

async function withStation(t: { after: (fn: () => Promise<void>) => void }, settingsFile?: string): Promise<Station> {
  const s = await startStation(settingsFile);
  t.after(async () => {
    await s.stop();
    await s.line.stop();
  });
  return s;
}

const def = (id: string) => REGISTER_MAP.find((d) => d.id === id)!;

function float32(words: readonly number[], at: number): number {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(words[at]!, 0);
  b.writeUInt16BE(words[at + 1]!, 2);
  return b.readFloatBE(0);
}

function floatWords(v: number): number[] {
  const b = Buffer.alloc(4);
  b.writeFloatBE(v);
  return [b.readUInt16BE(0), b.readUInt16BE(2)];
}

async function exceptionCode(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { modbusCode?: number }).modbusCode;
  }
}

test('the gateway side reads float32 values, status bits, counters and version over RTU', async (t) => {
  const s = await withStation(t);
  s.rig.inputs.battery_voltage = 900; // out of range: fault bit 3
  const words = await waitFor(async () => {
    const r = await s.client.readInputRegisters(0, 28);
    return r.data[9] === 1 << 3 ? r.data : undefined;
  }, { what: 'status = battery fault only' });
  assert.equal(float32(words, def('water_level').address), 5);
  assert.equal(float32(words, def('water_temperature').address), 15);
  assert.equal(float32(words, def('turbidity').address), 300);
  assert.ok(Number.isNaN(float32(words, def('battery_voltage').address)));
  assert.equal(words[def('door_open').address], 0);
  assert.equal(words[def('resets').address + 1], 1);
  assert.equal(words[def('battery_voltage_raw').address], 900);
  assert.equal(words[def('crc_errors').address + 1], 0);
  assert.deepEqual(words.slice(18, 20), [0, 0], 'gap registers read as 0');
  assert.equal(STATUS_BITS[3].id, 'battery_voltage_fault');
});

test('sampling period and calibration writes are accepted, applied and survive a restart', async (t) => {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const settingsFile = `${tmp.dir}/node.json`;
  const line = await startSocatPair();
  t.after(() => line.stop());

  let s = await startStation(settingsFile, line);
  try {
    await s.client.writeRegister(0, 250);
    // water level becomes 1 + 0.015625 * raw (both exact in float32): 8.8125 m at raw 500
    await s.client.writeRegisters(def('water_level_c0').address, [...floatWords(1), ...floatWords(0.015625)]);
    assert.deepEqual((await s.client.readHoldingRegisters(0, 1)).data, [250]);
    const level = await waitFor(async () => {
      const r = await s.client.readInputRegisters(0, 2);
      const v = float32(r.data, 0);
      return v !== 5 ? v : undefined;
    }, { what: 'the new calibration to apply' });
    assert.equal(level, 1 + 0.015625 * 500);
  } finally {
    await s.stop();
  }

  s = await startStation(settingsFile, line);
  try {
    assert.deepEqual((await s.client.readHoldingRegisters(0, 1)).data, [250]);
    const cal = (await s.client.readHoldingRegisters(def('water_level_c0').address, 8)).data;
    assert.deepEqual([0, 2, 4, 6].map((i) => float32(cal, i)), [1, 0.015625, 0, 0]);
    assert.equal((await s.client.readInputRegisters(def('resets').address, 2)).data[1], 2);
    assert.equal(s.rig.node.settings.samplingPeriodMs, 250);
  } finally {
    await s.stop();
  }
});

test('out-of-range and malformed writes get Modbus exceptions and change nothing', async (t) => {
  const s = await withStation(t);
  const before = (await s.client.readHoldingRegisters(0, 48)).data;
  assert.equal(await exceptionCode(s.client.writeRegister(0, 50)), 3, 'sampling period below 100 ms');
  assert.equal(await exceptionCode(s.client.writeRegister(0, 65000)), 3, 'sampling period above 60000 ms');
  assert.equal(await exceptionCode(s.client.writeRegisters(def('turbidity_c1').address, floatWords(1e6))), 3, 'coefficient out of range');
  assert.equal(await exceptionCode(s.client.writeRegisters(def('turbidity_c1').address, floatWords(NaN))), 3, 'NaN coefficient');
  assert.equal(await exceptionCode(s.client.writeRegister(def('turbidity_c1').address, 0x3f80)), 3, 'half of a float32');
  assert.equal(
    await exceptionCode(s.client.writeRegisters(0, [200, 0, 0])),
    2,
    'a block running into unmapped registers is refused whole',
  );
  assert.equal(await exceptionCode(s.client.writeRegister(5, 1)), 2, 'unmapped holding register');
  assert.equal(await exceptionCode(s.client.readInputRegisters(27, 2)), 2, 'read past the end of the map');
  assert.deepEqual((await s.client.readHoldingRegisters(0, 48)).data, before);
});

test('a request with a bad CRC is not answered and is counted in crc_errors', async (t) => {
  const line = await startSocatPair();
  t.after(() => line.stop());
  const rig = startMockRig();
  rig.node.start();
  const slave = await startRtuSlave({ path: line.a, unitId: UNIT, baudRate: 19200, backend: rig.node });
  t.after(async () => {
    await slave.close();
    rig.stop();
  });

  const raw = new SerialPort({ path: line.b, baudRate: 19200 });
  await new Promise<void>((res, rej) => raw.once('open', res).once('error', rej));
  const received: Buffer[] = [];
  raw.on('data', (d: Buffer) => received.push(d));
  const request = Buffer.from([UNIT, 0x04, 0x00, 0x0e, 0x00, 0x02, 0, 0]);
  const crc = crc16(request.subarray(0, 6));
  request.writeUInt16LE(crc ^ 0x0101, 6);
  raw.write(request);
  // The slave has seen and dropped the frame once its counter moves (a positive event, not a
  // guess at how long an answer would take).
  const crcErrors = () => [...rig.node.values('input')].find(([d]) => d.id === 'crc_errors')![1];
  await waitFor(() => crcErrors() === 1, { what: 'the bad frame to be counted' });

  // The slave answers in order: had it answered the bad frame, that answer would come before
  // this one, and more than one reply's bytes would arrive.
  request.writeUInt16LE(crc, 6);
  raw.write(request);
  const reply = await waitFor(() => (Buffer.concat(received).length >= 9 ? Buffer.concat(received) : undefined), { what: 'the reply' });
  await new Promise<void>((r) => raw.close(() => r()));
  assert.equal(reply.length, 9, 'exactly one reply: the bad frame got none');
  assert.deepEqual([...reply.subarray(0, 3)], [UNIT, 0x04, 4]);
  assert.equal(reply.readUInt32BE(3), 1);
});
