/**
 * A release on trial whose driver cannot load (node-opcua or a native addon broken in the new
 * release) still connects its uplink and still logs the other devices' readings; its device
 * only stands in failing (drivers/unavailable-driver.ts). Such a release is not good: the
 * trial's verdict is unhealthy, naming the device, its driver and why, and the launcher rolls
 * it back.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import test from 'node:test';
import { pino } from 'pino';
import { startEmbeddedBroker } from '@kedge/cloud-sync/broker/embedded.ts';
import { simGatewayConfig } from '@kedge/testkit/sim/sim-config.ts';
import { defaultMeters, startModbusSim } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { parseConfig } from '../config/load.ts';
import type { GatewayConfig } from '../config/schema.ts';
import { defineDriver } from '../drivers/definition.ts';
import { fakeMeter } from '../drivers/fixtures/fake-meter/index.ts';
import { DRIVERS } from '../drivers/registry.ts';
import { Gateway } from '../gateway.ts';
import { evaluateHealth, HealthReporter, type HealthProbe, type LauncherMessage } from './health.ts';
import { trialProbe } from './index.ts';
import { startLauncher } from './launcher.ts';
import { readState, seed, switchCurrent, writeState } from './slots.ts';
import { tempDir } from './testing.ts';

const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));
const GATE = fileURLToPath(new URL('../fixtures/module-gate/gate.mjs', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** A trial deadline the test never reaches: a verdict that comes came without it. */
const NEVER_MS = 24 * 3_600_000;
const MISSING = "Cannot find package 'mbus-native' imported from drivers/fake-meter/index.ts";

test('health: a device whose driver failed to load makes the release unhealthy, even with the uplink online and the log growing', () => {
  const first: HealthProbe = { started: true, uplinkState: 'connecting', uplinkError: null, lastSeq: 10, unavailable: [] };
  const broken = [{ deviceId: 'river', driver: 'opcua', reason: "Cannot find module 'node-opcua'" }];
  assert.deepEqual(evaluateHealth(first, { ...first, uplinkState: 'online', lastSeq: 20, unavailable: broken }), {
    healthy: false,
    final: true,
    why: `a driver failed to load: device "river" (driver "opcua": Cannot find module 'node-opcua')`,
  });
  const two = [...broken, { deviceId: 'heat-1', driver: 'fake-meter', reason: MISSING }];
  const v = evaluateHealth(first, { ...first, uplinkState: 'online', unavailable: two });
  assert.equal(v.healthy, false);
  assert.match(v.why, /^drivers failed to load: device "river" .*, device "heat-1" \(driver "fake-meter": .*mbus-native/);
  // The control: the same probe with every driver loaded is healthy.
  assert.equal(evaluateHealth(first, { ...first, uplinkState: 'online' }).healthy, true);
});

test('a real gateway with an unloadable driver, uplink online and log growing: the trial reports it unhealthy, naming the device', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-trial-drivers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sim = await startModbusSim();
  t.after(() => sim.close());
  const broker = await startEmbeddedBroker({ port: 0 });
  t.after(() => broker.close());
  const unloadable = defineDriver({
    ...fakeMeter,
    create: async () => {
      throw new Error(MISSING);
    },
  });
  const config = parseConfig(
    JSON.stringify(simGatewayConfig({ gatewayId: 'gw-trial-drivers', simPort: sim.port, brokerUrl: broker.url, dataDir: join(dir, 'data'), intervalMs: 100, meters: defaultMeters().slice(0, 1) })),
  );
  const withMeter: GatewayConfig = {
    ...config,
    devices: [
      ...config.devices,
      fakeMeter.schema.parse({ id: 'heat-1', driver: 'fake-meter', line: 'mbus0', primaryAddress: 7, intervalMs: 1000, backoff: { minMs: 100, maxMs: 200 }, points: [{ id: 'energy', record: 0 }] }) as never,
    ],
  };
  const gateway = new Gateway(withMeter, pino({ level: 'silent' }), { drivers: [...DRIVERS, unloadable] });
  await gateway.start();
  t.after(() => gateway.stop());
  const first = trialProbe(gateway);
  // What the old check passed the release on: the uplink connected and the log grew.
  await waitFor(() => gateway.status().uplink?.state === 'online' && gateway.status().log.lastSeq > first.lastSeq, { timeoutMs: 30_000, what: 'uplink online and readings logged' });

  assert.deepEqual(gateway.unavailableDevices(), [{ deviceId: 'heat-1', driver: 'fake-meter', reason: MISSING }]);
  const v = evaluateHealth(first, trialProbe(gateway));
  assert.equal(v.healthy, false, v.why);
  assert.match(v.why, /device "heat-1" \(driver "fake-meter": .*mbus-native/);

  // The reporter, as on a trial boot: the verdict comes at once, not at the deadline, and the
  // launcher hears why it rolls back (its own deadline would only say "timeout").
  const verdict = new Promise<LauncherMessage>((resolve) => {
    const r = new HealthReporter({ probe: () => trialProbe(gateway), trial: true, deadlineMs: NEVER_MS, onOrphaned: () => {}, send: (m) => m.kedgeOta !== 'alive' && resolve(m) });
    r.start();
    t.after(() => r.stop());
  });
  const m = await verdict;
  assert.equal(m.kedgeOta, 'unhealthy');
  assert.match((m as { reason: string }).reason, /driver failed to load: device "heat-1"/);

  // A reload without that device (the operator's fix on the box): nothing unavailable any more.
  await gateway.reload(config);
  assert.deepEqual(gateway.unavailableDevices(), []);
  assert.equal(evaluateHealth(first, trialProbe(gateway)).healthy, true);
});

/** Far above a cold tsx start plus the verdict on the loaded 2-core machine: only a trial that never ends reaches it. */
const LAUNCHER_TRIAL_DEADLINE_MS = 90_000;

test('the real daemon on trial, its OPC UA implementation failing to load, uplink online: the launcher rolls back, naming the device', async (t) => {
  const work = tempDir(t);
  const broker = await startEmbeddedBroker({ port: 0 });
  t.after(() => broker.close());
  const config = join(work, 'kedge.yaml');
  writeFileSync(
    config,
    JSON.stringify({
      gateway: { id: 'kem-ota-drv', region: 'kuzbass', municipality: 'kemerovo' },
      dataDir: join(work, 'data'),
      uplinks: [{ name: 'regional', kind: 'mqtt', url: broker.url }],
      web: { enabled: false },
      ota: { trustedKeys: [{ id: 'test', publicKey: 'MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=' }], healthDeadlineMs: LAUNCHER_TRIAL_DEADLINE_MS },
      devices: [{ id: 'river', driver: 'opcua', endpointUrl: 'opc.tcp://127.0.0.1:1', points: [{ id: 'level', nodeId: 'ns=1;s=Level' }] }],
    }),
  );
  // Slot b, on trial, is the release whose OPC UA implementation throws on import (the gate's fail mode).
  const slots = join(work, 'slots');
  const release = join(work, 'release');
  mkdirSync(release);
  const entry = ['--import', TSX, '--import', GATE, MAIN];
  seed(slots, release, { version: '1.0.0', entry });
  const st = readState(slots)!;
  mkdirSync(join(slots, 'b'));
  writeFileSync(join(slots, 'b', 'kedge-release.json'), JSON.stringify({ version: '1.1.0', entry }));
  writeState(slots, { ...st, versions: { a: '1.0.0', b: '1.1.0' }, pending: { slot: 'b', version: '1.1.0', attempts: 0, deadline: null, installedAt: Date.now() } });
  switchCurrent(slots, 'b');
  const l = startLauncher({
    slotsDir: slots,
    healthDeadlineMs: LAUNCHER_TRIAL_DEADLINE_MS,
    maxCrashes: 3,
    daemonArgs: ['--config', config, '--log-level', 'warn'],
    log: () => {},
    env: { ...process.env, KEDGE_TEST_GATE_MODULE: 'drivers/opcua/opcua-device.ts', KEDGE_TEST_GATE_DIR: work, KEDGE_TEST_GATE_FAIL: "Cannot find module 'node-opcua'" },
  });
  t.after(async () => {
    l.stop();
    await l.done;
  });
  const s = await waitFor(() => { const x = readState(slots); return x && !x.pending ? x : null; }, { timeoutMs: LAUNCHER_TRIAL_DEADLINE_MS + 30_000, what: 'the trial to finish' });
  const last = s.history.at(-1);
  assert.deepEqual({ current: s.current, event: last?.event, version: last?.version }, { current: 'a', event: 'rollback', version: '1.1.0' });
  assert.match(last?.reason ?? '', /driver failed to load: device "river" \(driver "opcua": .*Cannot find module 'node-opcua'/);
});
