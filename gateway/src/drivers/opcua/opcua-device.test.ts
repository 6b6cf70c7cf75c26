import test from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { RIVER_STATION, startOpcuaSim, type OpcuaSim } from '@kedge/testkit/sim/opcua-sim.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { browse } from './browse.ts';
import { createClient } from './connect.ts';
import { driverContext } from '../../driver-context.ts';
import { testReadOpcua } from './index.ts';
import { OpcuaDevice } from './opcua-device.ts';
import { leasePki } from './pki.ts';
import { opcuaDataDir, opcuaDevice, SampleLog } from './test-support.ts';

// One server for the whole file: node-opcua's start-up is the slow part.
let sim: OpcuaSim;
let dataDir: string;
const drivers: OpcuaDevice[] = [];
/** The file's first session also creates the client certificate (RSA in pure JS): long on a loaded 2-core machine. */
const FIRST_SESSION_MS = 60_000;

test.before(async () => {
  dataDir = await opcuaDataDir('kedge-opcua-dev-');
  sim = await startOpcuaSim({
    security: 'none',
    tickMs: 100,
    variables: [
      ...RIVER_STATION,
      { name: 'Step', dataType: 'Double', value: () => 0 },
      { name: 'Health', dataType: 'Int32', value: () => 1 },
      { name: 'Plain', dataType: 'Double', value: (t) => Math.round(t / 100) },
      { name: 'Stamped', dataType: 'Double', value: () => 0 },
    ],
  });
});

test.after(async () => {
  await Promise.all(drivers.map((d) => d.close()));
  await sim.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function start(points: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}): { driver: OpcuaDevice; log: SampleLog } {
  const driver = new OpcuaDevice(
    opcuaDevice({ endpointUrl: sim.endpointUrl, publishingIntervalMs: 100, samplingIntervalMs: 50, points, ...extra }),
    { dataDir },
  );
  drivers.push(driver);
  const log = new SampleLog();
  return { driver, log };
}

test('subscribed values flow into samples with good quality and the server source timestamp', async () => {
  const { driver, log } = start([
    { id: 'level', nodeId: sim.nodeId('Level') },
    { id: 'stamped', nodeId: sim.nodeId('Stamped') },
    { id: 'pulses', nodeId: sim.nodeId('PulseCount') },
  ]);
  assert.deepEqual(driver.subscribe(log.sink), ['level', 'stamped', 'pulses']);
  await waitFor(() => log.of('level').length >= 3, { timeoutMs: FIRST_SESSION_MS, what: 'three level notifications' });
  for (const s of log.of('level')) {
    assert.equal(s.quality, 'good');
    assert.equal(typeof s.value, 'number');
  }

  const at = new Date('2025-03-01T06:30:00.125Z');
  sim.set('Stamped', 42.5, { sourceTimestamp: at });
  const stamped = await waitFor(() => log.of('stamped').find((s) => s.value === 42.5), { what: 'the pinned value' });
  assert.deepEqual(stamped, { point: 'stamped', ts: at.getTime(), value: 42.5, quality: 'good' });

  // UInt64 beyond 2^53 arrives as an exact bigint.
  const pulses = await waitFor(() => log.last('pulses'), { what: 'a counter notification' });
  assert.equal(typeof pulses.value, 'bigint');
  assert.ok((pulses.value as bigint) > 9_007_199_254_740_992n);
});

test('an absolute deadband is applied by the server: changes smaller than it are never sent', async () => {
  sim.set('Step', 10);
  const { driver, log } = start([
    { id: 'raw', nodeId: sim.nodeId('Step'), samplingIntervalMs: 0 },
    { id: 'banded', nodeId: sim.nodeId('Step'), samplingIntervalMs: 0, deadband: { type: 'absolute', value: 1 } },
  ]);
  driver.subscribe(log.sink);
  await waitFor(() => log.values('raw').includes(10) && log.values('banded').includes(10), { what: 'the initial value' });
  // Each step waits until the undamped item saw it, so the server sampled every one.
  for (const v of [10.2, 10.4, 10.6, 10.8, 11.5, 11.9, 9.9]) {
    sim.set('Step', v);
    await waitFor(() => log.values('raw').includes(v), { what: `raw ${v}` });
  }
  await waitFor(() => log.values('banded').includes(9.9), { what: 'the last banded change' });
  assert.deepEqual(log.values('raw'), [10, 10.2, 10.4, 10.6, 10.8, 11.5, 11.9, 9.9]);
  // 10.2..10.8 are within 1 of 10; 11.9 within 1 of 11.5; 9.9 is 1.6 below 11.5.
  assert.deepEqual(log.values('banded'), [10, 11.5, 9.9]);
});

test('poll-mode points are read with one Read call for all due nodes', async () => {
  const { driver, log } = start([
    { id: 'level', nodeId: sim.nodeId('Level'), mode: 'poll' },
    { id: 'pump', nodeId: sim.nodeId('PumpRunning'), mode: 'poll' },
    { id: 'pulses', nodeId: sim.nodeId('PulseCount'), mode: 'poll' },
    { id: 'ghost', nodeId: 'ns=1;s=NoSuchNode', mode: 'poll' },
  ]);
  assert.deepEqual(driver.subscribe(log.sink), []);
  const r = await driver.poll(['level', 'pump', 'pulses', 'ghost']);
  assert.equal(r.failed, false);
  assert.equal(r.requests, 1);
  const [level, pump, pulses, ghost] = r.samples;
  assert.equal(level!.quality, 'good');
  assert.ok(typeof level!.value === 'number' && level!.value > 200 && level!.value < 400);
  assert.deepEqual([pump!.point, pump!.value, pump!.quality], ['pump', false, 'good']);
  assert.equal(typeof pulses!.value, 'bigint');
  assert.equal(ghost!.quality, 'bad_config');
  assert.equal(ghost!.value, null);
  assert.match(ghost!.error!, /BadNodeIdUnknown/);
  assert.equal(log.all.length, 0, 'poll-mode points are not pushed');
});

test('status codes map to quality: Bad -> bad_*, Uncertain -> uncertain with its value, Good again -> good', async () => {
  sim.set('Health', 1);
  const { driver, log } = start([
    { id: 'health', nodeId: sim.nodeId('Health') },
    { id: 'ghost', nodeId: 'ns=1;s=NoSuchNode' },
  ]);
  driver.subscribe(log.sink);
  await waitFor(() => log.last('health')?.quality === 'good', { what: 'good health' });
  const ghost = await waitFor(() => log.last('ghost'), { what: 'the rejected monitored item' });
  assert.equal(ghost.quality, 'bad_config');
  assert.match(ghost.error!, /ns=1;s=NoSuchNode: BadNodeIdUnknown/);

  const steps: Array<[string, number, string, RegExp]> = [
    ['BadSensorFailure', 2, 'bad_device_error', /BadSensorFailure/],
    ['UncertainLastUsableValue', 3, 'uncertain', /UncertainLastUsableValue/],
    ['BadNoCommunication', 4, 'bad_no_response', /BadNoCommunication/],
    ['BadOutOfService', 5, 'bad_device_error', /BadOutOfService/],
  ];
  for (const [status, value, quality, error] of steps) {
    sim.set('Health', value, { status });
    const s = await waitFor(() => log.of('health').find((x) => x.error !== undefined && error.test(x.error)), { what: status });
    assert.equal(s.quality, quality);
    assert.equal(s.value, quality === 'uncertain' ? value : null);
  }
  sim.set('Health', 6);
  const back = await waitFor(() => log.of('health').find((x) => x.value === 6), { what: 'good again' });
  assert.deepEqual([back.quality, back.error], ['good', undefined]);
});

test('a percent deadband works on an AnalogItem and is refused with an explanation on a node without EURange', async () => {
  const { driver, log } = start([
    { id: 'level', nodeId: sim.nodeId('Level'), deadband: { type: 'percent', value: 0.001 } },
    { id: 'plain', nodeId: sim.nodeId('Plain'), deadband: { type: 'percent', value: 5 } },
  ]);
  driver.subscribe(log.sink);
  await waitFor(() => log.of('level').length >= 2, { what: 'level notifications' });
  assert.ok(log.of('level').every((s) => s.quality === 'good'));
  const plain = await waitFor(() => log.last('plain'), { what: 'the refused item' });
  assert.equal(plain.quality, 'bad_config');
  assert.match(plain.error!, /percent deadband .* needs the node's EURange/);
});

test('browse lists the children of a node with node class, data type and node id', async () => {
  const pki = leasePki(dataDir);
  await pki.ready;
  const client = createClient({ securityMode: 'None', timeoutMs: 5000, certificateManager: pki.manager });
  await client.connect(sim.endpointUrl);
  try {
    const session = await client.createSession();
    const top = await browse(session);
    assert.ok(top.some((e) => e.nodeId === 'ns=1;s=RiverStation' && e.nodeClass === 'Object' && e.browseName === '1:RiverStation'));
    const station = await browse(session, 'ns=1;s=RiverStation');
    const byName = new Map(station.map((e) => [e.browseName, e]));
    assert.deepEqual(byName.get('1:Level'), { nodeId: 'ns=1;s=Level', browseName: '1:Level', displayName: 'Level', nodeClass: 'Variable', dataType: 'Double' });
    assert.equal(byName.get('1:PulseCount')?.dataType, 'UInt64');
    assert.equal(byName.get('1:PumpRunning')?.dataType, 'Boolean');
    await session.close();
  } finally {
    await client.disconnect();
    await pki.release();
  }
});

test('test read: every node of an unsaved device read once, subscribed or polled, unscaled (the route scales); a wrong node id is bad_config', async () => {
  sim.set('Step', 42.5);
  sim.set('Health', 17);
  const device = opcuaDevice({
    endpointUrl: sim.endpointUrl,
    points: [
      { id: 'step', nodeId: sim.nodeId('Step'), scale: 2 },
      { id: 'health', nodeId: sim.nodeId('Health'), mode: 'poll' },
      { id: 'ghost', nodeId: 'ns=1;s=RiverStation.NoSuchNode' },
    ],
  });
  const result = await testReadOpcua(device, driverContext({ dataDir }));
  sim.resume('Step');
  sim.resume('Health');
  assert.deepEqual(result.orders, [], 'no byte orders: OPC UA values are typed');
  assert.deepEqual(
    result.points.map((p) => [p.point, p.where, p.value, p.quality]),
    [
      ['step', sim.nodeId('Step'), 42.5, 'good'],
      ['health', sim.nodeId('Health'), 17, 'good'],
      ['ghost', 'ns=1;s=RiverStation.NoSuchNode', null, 'bad_config'],
    ],
  );
  assert.match(result.points[2]!.error ?? '', /NodeIdUnknown/);
});

test('test read of a server nobody answers on: every point bad_comm, the endpoint named', async () => {
  const { freePort } = await import('@kedge/testkit/ports.ts');
  const endpointUrl = `opc.tcp://127.0.0.1:${await freePort()}`;
  const result = await testReadOpcua(opcuaDevice({ endpointUrl, timeoutMs: 1000, points: [{ id: 'level', nodeId: 'ns=1;s=Level' }] }), driverContext({ dataDir }));
  assert.equal(result.points[0]!.quality, 'bad_comm');
  assert.match(result.points[0]!.error ?? '', /127\.0\.0\.1/);
});
