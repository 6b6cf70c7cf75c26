import test from 'node:test';
import assert from 'node:assert/strict';
import type { Reading } from '@kedge/cloud-sync/model.ts';
import type { DevicePresence } from '@kedge/cloud-sync/sparkplug/devices.ts';
import { parseConfig } from './config/load.ts';
import type { DeviceDriver, PollResult, Sample } from './drivers/driver.ts';
import type { LiveValue } from './pipeline/pipeline.ts';
import { GatewaySparkplugDevices, sparkplugMayWrite, sparkplugWriter, type SparkplugSouth } from './sparkplug-devices.ts';

const CONFIG = parseConfig(
  JSON.stringify({
    gateway: { id: 'gw1', region: 'kuzbass', municipality: 'kemerovo' },
    uplink: { url: 'mqtt://127.0.0.1:1883', codec: 'sparkplug', sparkplug: { writes: ['plc/setpoint', 'pumps/*'], birthWaitMs: 600_000 } },
    devices: [
      {
        id: 'plc',
        driver: 'modbus-tcp',
        host: '127.0.0.1',
        points: [
          { id: 'setpoint', table: 'holding', address: 1, type: 'uint16', scale: 0.1, writable: true },
          { id: 'mode', table: 'holding', address: 2, writable: true },
        ],
      },
      { id: 'opc', driver: 'opcua', endpointUrl: 'opc.tcp://127.0.0.1:4840', points: [{ id: 'a', nodeId: 'ns=1;s=A' }, { id: 'b', nodeId: 'ns=1;s=B' }] },
    ],
  }),
);

function fakeSouth() {
  const live = new Map<string, LiveValue>();
  const polls = new Set<(id: string, r: PollResult) => void>();
  const pushes = new Set<(r: readonly Reading[]) => void>();
  const opcTypes = new Map([['a', 'float64']]);
  const writes: unknown[][] = [];
  const driver = (id: string): DeviceDriver => ({
    deviceId: id,
    poll: async (ids: readonly string[]) => ({ samples: ids.map((p): Sample => ({ point: p, ts: 1, value: 77, quality: 'good' })), requests: 1, failed: false }),
    pointTypes: () => (id === 'opc' ? opcTypes : new Map()),
    close: async () => {},
  });
  const south: SparkplugSouth = {
    config: () => CONFIG,
    live: (k) => live.get(k),
    driver,
    polled: (id) => id === 'plc',
    onPoll: (l) => (polls.add(l), () => polls.delete(l)),
    onReadings: (l) => (pushes.add(l), () => pushes.delete(l)),
    writePoint: async (d, p, v) => {
      writes.push([d, p, v]);
      return { device: d, point: p, value: v as number, ts: 1 };
    },
    ingest: (d, samples) => {
      for (const s of samples) live.set(`${d}/${s.point}`, { value: Number(s.value) * 0.1, quality: s.quality, ts: s.ts, loggedTs: s.ts });
    },
  };
  const poll = (id: string, failed: boolean) => polls.forEach((l) => l(id, { samples: [], requests: 1, failed }));
  const push = (rs: Reading[]) => {
    for (const r of rs) live.set(r.point, { value: r.value, quality: r.quality, ts: r.ts, loggedTs: r.ts });
    pushes.forEach((l) => l(rs));
  };
  return { south, poll, push, writes, listeners: () => polls.size + pushes.size };
}

test('presence: a polled device follows its polls (failed = offline), each change reported once', () => {
  const f = fakeSouth();
  const devices = new GatewaySparkplugDevices(f.south);
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
  const devices = new GatewaySparkplugDevices(f.south);
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

test('presence: a pushed device one of whose points never reports is online after uplink.sparkplug.birthWaitMs (the wait is bounded)', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const f = fakeSouth();
  const devices = new GatewaySparkplugDevices(f.south);
  const seen: Array<[string, DevicePresence]> = [];
  const off = devices.onPresence((d, p) => seen.push([d, p]));
  f.push([{ point: 'opc/a', value: 1, quality: 'good', ts: 1 }]);
  t.mock.timers.tick(600_000 - 1);
  assert.deepEqual(seen, []);
  t.mock.timers.tick(1);
  assert.deepEqual(seen, [['opc', 'online']]);
  off();
});

test('point types: the config type wins, else the driver\'s (OPC UA DataType); scaled points say so', () => {
  const devices = new GatewaySparkplugDevices(fakeSouth().south);
  assert.equal(devices.pointType('plc/setpoint'), 'uint16');
  assert.equal(devices.pointType('plc/mode'), 'uint16', 'the Modbus default type');
  assert.equal(devices.pointType('opc/a'), 'float64');
  assert.equal(devices.pointType('opc/b'), undefined);
  assert.equal(devices.scaled('plc/setpoint'), true);
  assert.equal(devices.scaled('plc/mode'), false);
});

test('uplink.sparkplug.writes: exact point or * for either part', () => {
  const w = ['plc/setpoint', 'pumps/*', '*/reset'];
  assert.equal(sparkplugMayWrite(w, 'plc', 'setpoint'), true);
  assert.equal(sparkplugMayWrite(w, 'plc', 'mode'), false);
  assert.equal(sparkplugMayWrite(w, 'pumps', 'speed'), true);
  assert.equal(sparkplugMayWrite(w, 'well', 'reset'), true);
  assert.equal(sparkplugMayWrite([], 'plc', 'setpoint'), false, 'empty: nothing');
});

test('a DCMD write not listed is refused before the write path; a listed one is written, read back through the pipeline and answered with the scaled read-back', async () => {
  const f = fakeSouth();
  const write = sparkplugWriter(f.south);
  await assert.rejects(write('plc', 'mode', 3), /plc\/mode is not in uplink\.sparkplug\.writes \(plc\/setpoint, pumps\/\*\): Sparkplug hosts may not write it/);
  assert.deepEqual(f.writes, []);
  const answer = await write('plc', 'setpoint', 7.5);
  assert.deepEqual(f.writes, [['plc', 'setpoint', 7.5]]);
  assert.equal(answer.value, 7.7, 'the device answered raw 77: the read-back, not the asked value');
});
