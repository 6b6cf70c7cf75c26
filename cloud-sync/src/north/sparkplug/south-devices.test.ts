/**
 * The Sparkplug edge node's view of the devices (presence, current values, point types) and
 * its DCMD write rule, over a fake of the gateway's south view (north/sink.ts NorthSouth).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import type { Reading } from '../../model.ts';
import type { CurrentValue, DevicePresence } from './devices.ts';
import type { NorthDevice, NorthSouth } from '../sink.ts';
import { sparkplugMayWrite, sparkplugWriter, SouthSparkplugDevices } from './south-devices.ts';

const BIRTH_WAIT_MS = 600_000;

const DEVICES: NorthDevice[] = [
  {
    id: 'plc',
    enabled: true,
    points: [
      { id: 'setpoint', type: 'uint16', scale: 0.1, offset: 0, writable: true },
      { id: 'mode', type: 'uint16', scale: 1, offset: 0, writable: true },
    ],
  },
  { id: 'opc', enabled: true, points: [{ id: 'a' }, { id: 'b' }] },
];

function fakeSouth() {
  const live = new Map<string, CurrentValue>();
  const polls = new Set<(id: string, failed: boolean) => void>();
  const pushes = new Set<(r: readonly Reading[]) => void>();
  const learnt = new Map([['opc/a', 'float64']]);
  const writes: unknown[][] = [];
  const south: NorthSouth = {
    devices: () => DEVICES,
    pointType: (d, p) => DEVICES.find((x) => x.id === d)?.points.find((q) => q.id === p)?.type ?? learnt.get(`${d}/${p}`),
    live: (k) => live.get(k),
    polled: (id) => id === 'plc',
    onPoll: (l) => (polls.add(l), () => polls.delete(l)),
    onReadings: (l) => (pushes.add(l), () => pushes.delete(l)),
    write: async (d, p, v) => {
      writes.push([d, p, v]);
      // The gateway's write path reads the point back: the device holds raw 77, scaled 7.7.
      return { value: 7.7, quality: 'good', ts: 1 };
    },
  };
  const poll = (id: string, failed: boolean) => polls.forEach((l) => l(id, failed));
  const push = (rs: Reading[]) => {
    for (const r of rs) live.set(r.point, { value: r.value, quality: r.quality, ts: r.ts });
    pushes.forEach((l) => l(rs));
  };
  return { south, poll, push, writes, listeners: () => polls.size + pushes.size };
}

const devicesOf = (south: NorthSouth) => new SouthSparkplugDevices(south, { birthWaitMs: BIRTH_WAIT_MS });

test('presence: a polled device follows its polls (failed = offline), each change reported once', () => {
  const f = fakeSouth();
  const devices = devicesOf(f.south);
  const seen: Array<[string, DevicePresence]> = [];
  const off = devices.onPresence((d, p) => seen.push([d, p]));
  assert.equal(devices.presence('plc'), 'unknown');
  f.poll('plc', false);
  f.poll('plc', false);
  f.poll('plc', true);
  f.poll('plc', true);
  f.poll('plc', false);
  assert.deepEqual(seen, [['plc', 'online'], ['plc', 'offline'], ['plc', 'online']]);
  off();
  assert.equal(f.listeners(), 0, 'the last listener gone, the gateway hooks are released');
});

test('presence: a pushed device is online once every point has reported, offline when only no-answer qualities come', () => {
  const f = fakeSouth();
  const devices = devicesOf(f.south);
  const seen: Array<[string, DevicePresence]> = [];
  const off = devices.onPresence((d, p) => seen.push([d, p]));
  f.push([{ point: 'opc/a', value: 1, quality: 'good', ts: 1 }]);
  assert.deepEqual(seen, [], 'b has not reported yet: the DBIRTH would carry a null');
  f.push([{ point: 'opc/b', value: 2, quality: 'good', ts: 2 }]);
  assert.deepEqual(seen, [['opc', 'online']]);
  f.push([{ point: 'opc/a', value: null, quality: 'bad_comm', ts: 3 }, { point: 'opc/b', value: null, quality: 'bad_no_response', ts: 3 }]);
  f.push([{ point: 'opc/a', value: null, quality: 'bad_device_error', ts: 4 }]);
  assert.deepEqual(seen, [['opc', 'online'], ['opc', 'offline'], ['opc', 'online']], 'a device error is an answer');
  off();
});

test('presence: a pushed device one of whose points never reports is online after sparkplug.birthWaitMs (the wait is bounded)', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const f = fakeSouth();
  const devices = devicesOf(f.south);
  const seen: Array<[string, DevicePresence]> = [];
  const off = devices.onPresence((d, p) => seen.push([d, p]));
  f.push([{ point: 'opc/a', value: 1, quality: 'good', ts: 1 }]);
  t.mock.timers.tick(BIRTH_WAIT_MS - 1);
  assert.deepEqual(seen, []);
  t.mock.timers.tick(1);
  assert.deepEqual(seen, [['opc', 'online']]);
  off();
});

test("point types: the config type wins, else the driver's (OPC UA DataType); scaled points say so", () => {
  const devices = devicesOf(fakeSouth().south);
  assert.equal(devices.pointType('plc/setpoint'), 'uint16');
  assert.equal(devices.pointType('plc/mode'), 'uint16');
  assert.equal(devices.pointType('opc/a'), 'float64');
  assert.equal(devices.pointType('opc/b'), undefined);
  assert.equal(devices.scaled('plc/setpoint'), true);
  assert.equal(devices.scaled('plc/mode'), false);
});

test('sparkplug.writes: exact point or * for either part', () => {
  const w = ['plc/setpoint', 'pumps/*', '*/reset'];
  assert.equal(sparkplugMayWrite(w, 'plc', 'setpoint'), true);
  assert.equal(sparkplugMayWrite(w, 'plc', 'mode'), false);
  assert.equal(sparkplugMayWrite(w, 'pumps', 'speed'), true);
  assert.equal(sparkplugMayWrite(w, 'well', 'reset'), true);
  assert.equal(sparkplugMayWrite([], 'plc', 'setpoint'), false, 'empty: nothing');
});

test("a DCMD write not listed is refused before the write path; a listed one goes through the gateway's write path and is answered with its read-back", async () => {
  const f = fakeSouth();
  const write = sparkplugWriter(f.south, ['plc/setpoint', 'pumps/*']);
  await assert.rejects(write('plc', 'mode', 3), /plc\/mode is not in sparkplug\.writes \(plc\/setpoint, pumps\/\*\): Sparkplug hosts may not write it/);
  assert.deepEqual(f.writes, []);
  const answer = await write('plc', 'setpoint', 7.5);
  assert.deepEqual(f.writes, [['plc', 'setpoint', 7.5]]);
  assert.equal(answer.value, 7.7, 'the read-back, not the asked value');
});
