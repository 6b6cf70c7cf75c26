import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { startEmbeddedBroker } from '@kedge/cloud-sync/broker/embedded.ts';
import { parseConfig } from '@kedge/gateway/config/load.ts';
import type { ModbusTcpDeviceConfig } from '@kedge/gateway/config/schema.ts';
import { createModbusTcpDriver } from '@kedge/gateway/drivers/modbus-tcp/index.ts';
import { Gateway } from '@kedge/gateway/gateway.ts';
import { driverContext } from '@kedge/gateway/driver-context.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { parseUnits, startProfileSim } from './profile-sim.ts';

const gatewayConfig = (simPort: number, extra: Record<string, unknown> = {}) =>
  parseConfig(
    JSON.stringify({
      gateway: { id: 'gw-sim', region: 'kuzbass', municipality: 'kemerovo' },
      uplink: { url: 'mqtt://127.0.0.1:1' },
      devices: [
        { id: 'feeder', driver: 'modbus-tcp', host: '127.0.0.1', port: simPort, unitId: 1, profile: 'sdm630' },
        { id: 'probe', driver: 'modbus-tcp', host: '127.0.0.1', port: simPort, unitId: 2, profile: 'ysi-odo-ct-probe' },
        { id: 'node', driver: 'modbus-tcp', host: '127.0.0.1', port: simPort, unitId: 3, profile: 'kedge-sensor-node' },
        { id: 'plow', driver: 'modbus-tcp', host: '127.0.0.1', port: simPort, unitId: 4, profile: 'j1939-snowplow-gateway' },
      ],
      ...extra,
    }),
  );

test('--profile/--unit pairs are read in order, units default to their position', () => {
  assert.deepEqual(parseUnits(['--profile', 'sdm630', '--unit', '7', '--profile=ysi-odo-ct-probe', '--tcp', '5020']), [
    { profile: 'sdm630', unitId: 7 },
    { profile: 'ysi-odo-ct-probe', unitId: 2 },
  ]);
  assert.throws(() => parseUnits(['--unit', '3']), /--unit must follow the --profile/);
});

test('profiles served over Modbus TCP read back through the gateway driver with plausible values', async (t) => {
  // The simulated meters follow a clock the test moves, so "totals grow" does not depend on how
  // long a float32 near 300,000 kWh takes to change in real time (over 10 s at 10 kWh/h).
  let now = Date.now();
  const sim = await startProfileSim(
    [
      { profile: 'sdm630', unitId: 1 },
      { profile: 'ysi-odo-ct-probe', unitId: 2 },
      { profile: 'kedge-sensor-node', unitId: 3 },
      { profile: 'j1939-snowplow-gateway', unitId: 4 },
    ],
    { kind: 'tcp', clock: () => now },
  );
  t.after(() => sim.close());
  const cfg = gatewayConfig(sim.port!);
  const values: Record<string, Record<string, unknown>> = {};
  for (const d of cfg.devices as ModbusTcpDeviceConfig[]) {
    const driver = createModbusTcpDriver(d);
    t.after(() => driver.close());
    const r = await driver.poll(d.points.map((p) => p.id));
    assert.equal(r.failed, false, `${d.id}: ${r.error}`);
    // The gateway scales in the pipeline; apply it here the same way.
    values[d.id] = Object.fromEntries(
      r.samples.map((s) => {
        const p = d.points.find((x) => x.id === s.point)!;
        return [s.point, typeof s.value === 'number' ? s.value * p.scale + p.offset : typeof s.value === 'bigint' ? Number(s.value) * p.scale + p.offset : s.value];
      }),
    );
  }
  const between = (v: unknown, lo: number, hi: number) => typeof v === 'number' && v >= lo && v <= hi;
  const f = values.feeder!;
  for (const k of ['voltage_l1', 'voltage_l2', 'voltage_l3']) assert.ok(between(f[k], 220, 240), `${k} ${f[k]}`);
  assert.ok(between(f.frequency, 49.9, 50.1), `frequency ${f.frequency}`);
  assert.ok(between(f.total_energy, 40_000, 1e6), `total energy ${f.total_energy}`);
  assert.ok(between(values.probe!.temperature, 0, 10) && between(values.probe!.odo, 8, 13), JSON.stringify(values.probe));
  assert.ok(between(values.node!.water_level, 1, 3) && between(values.node!.battery_voltage, 12, 14), JSON.stringify(values.node));
  const plow = values.plow!;
  assert.ok(between(plow.latitude, 55.3, 55.4) && between(plow.longitude, 86, 86.2), `position ${plow.latitude}, ${plow.longitude}`);
  assert.equal(typeof plow.blade_down, 'boolean');
  assert.ok(between(plow.engine_hours, 4000, 1e6), `engine hours ${plow.engine_hours}`);

  // Totals only grow.
  const d = (cfg.devices as ModbusTcpDeviceConfig[])[0]!;
  const driver = createModbusTcpDriver(d);
  t.after(() => driver.close());
  now += 3_600_000;
  const r = await driver.poll(['total_energy']);
  assert.equal(r.failed, false, r.error);
  const later = r.samples[0]!.value as number;
  // 10 kWh per hour in the profile's sim hint; float32 rounding keeps it within a few hundredths.
  assert.ok(Math.abs(later - (f.total_energy as number) - 10) < 0.1, `total energy ${f.total_energy} -> ${later} after an hour`);
});

test('the birth message carries every point with its UCUM unit and data type', async (t) => {
  const broker = await startEmbeddedBroker({ port: 0 });
  t.after(() => broker.close());
  const sim = await startProfileSim([{ profile: 'sdm630', unitId: 1 }], { kind: 'tcp' });
  t.after(() => sim.close());
  const dataDir = await mkdtemp(join(tmpdir(), 'kedge-birth-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const cfg = parseConfig(
    JSON.stringify({
      gateway: { id: 'gw-birth', region: 'kuzbass', municipality: 'kemerovo' },
      dataDir,
      uplink: { url: broker.url },
      web: { enabled: false },
      devices: [
        { id: 'feeder', driver: 'modbus-tcp', host: '127.0.0.1', port: sim.port, profile: 'sdm630', points: [{ id: 'extra', table: 'input', address: 1, type: 'float32', unit: '°C' }] },
      ],
    }),
  );
  const client = mqtt.connect(broker.url);
  t.after(() => client.endAsync());
  const births: Array<Record<string, unknown>> = [];
  client.on('message', (_topic, payload) => births.push(JSON.parse(payload.toString()) as Record<string, unknown>));
  await client.subscribeAsync('kedge/v1/kuzbass/kemerovo/gw-birth/status');
  const gw = new Gateway(cfg, pino({ level: 'silent' }));
  await gw.start();
  t.after(() => gw.stop());
  const birth = await waitFor(() => births.find((b) => b.state === 'online'), { timeoutMs: 10_000, what: 'the birth message' });
  const points = birth.points as Array<Record<string, unknown>>;
  assert.equal(points.length, 28);
  const byId = Object.fromEntries(points.map((p) => [p.point, p]));
  assert.deepEqual(byId['feeder/total_energy'], { point: 'feeder/total_energy', unit: 'kW.h', name: 'Total active energy', writable: false, type: 'float32' });
  assert.deepEqual(byId['feeder/extra'], { point: 'feeder/extra', unit: 'Cel', writable: false, type: 'float32' });
});

test('every shipped profile served as an OPC UA server reads back through the gateway driver with good quality', async (t) => {
  const { listProfiles, loadProfile } = await import('@kedge/device-profiles/load.ts');
  const { createDriver } = await import('@kedge/gateway/drivers/registry.ts');
  const profiles = listProfiles().map((name) => loadProfile(name));
  const sim = await startProfileSim(
    profiles.map((profile, i) => ({ profile, unitId: i + 1 })),
    { kind: 'opcua' },
  );
  t.after(() => sim.close());
  const { opcuaDataDir } = await import('@kedge/gateway/drivers/opcua/test-support.ts');
  const dataDir = await opcuaDataDir('kedge-profile-opcua-'); // the client key and certificate made once (see there)
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const points = profiles.flatMap((p, i) => p.points.map((pt) => ({ id: `u${i + 1}_${pt.id}`, nodeId: `ns=1;s=u${i + 1}_${pt.id}`, mode: 'poll' })));
  const cfg = parseConfig(
    JSON.stringify({
      gateway: { id: 'gw-profile-opcua', region: 'kuzbass', municipality: 'kemerovo' },
      dataDir,
      uplink: { url: 'mqtt://127.0.0.1:1' },
      web: { enabled: false },
      devices: [{ id: 'profiles', driver: 'opcua', endpointUrl: sim.endpointUrl, points }],
    }),
  );
  const driver = await createDriver(cfg.devices[0]!, driverContext({ dataDir }));
  t.after(() => driver.close());
  const result = await driver.poll(points.map((p) => p.id));
  const bad = result.samples.filter((s) => s.quality !== 'good');
  assert.deepEqual(bad.map((s) => `${s.point}: ${s.quality} ${s.error ?? ''}`), []);
  assert.equal(result.samples.length, points.length);
});
