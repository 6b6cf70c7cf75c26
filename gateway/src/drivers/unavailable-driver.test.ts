/**
 * A driver's implementation loads when its devices are created (DriverDefinition.create). One
 * that cannot load (its library missing from the image, a native addon built for another
 * Node) costs its own devices only: the gateway logs it once, the device polls as failing with
 * the reason (readings bad_config, its state and health line naming it), and every other
 * device polls as before.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { pino } from 'pino';
import type { Reading } from '@kedge/cloud-sync/model.ts';
import { freePort } from '@kedge/testkit/ports.ts';
import { simGatewayConfig } from '@kedge/testkit/sim/sim-config.ts';
import { defaultMeters, startModbusSim } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { parseConfig } from '../config/load.ts';
import { Gateway } from '../gateway.ts';
import { defineDriver } from './definition.ts';
import { fakeMeter } from './fixtures/fake-meter/index.ts';
import { DRIVERS } from './registry.ts';

const MISSING = "Cannot find package 'mbus-native' imported from drivers/fake-meter/index.ts";

/** The fixture's fourth driver, with an implementation that cannot be imported. */
const unloadable = defineDriver({
  ...fakeMeter,
  create: async () => {
    throw new Error(MISSING);
  },
});

test('a driver that cannot load fails its own device, with the reason, and the other devices poll on', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-unloadable-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sim = await startModbusSim();
  t.after(() => sim.close());
  const lines: Array<{ level: number; msg: string; device?: string; event?: string }> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) });
  const config = parseConfig(
    JSON.stringify(simGatewayConfig({ gatewayId: 'gw-unloadable', simPort: sim.port, brokerUrl: `mqtt://127.0.0.1:${await freePort()}`, dataDir: join(dir, 'data'), intervalMs: 100, meters: defaultMeters().slice(0, 1) })),
  );
  const modbusId = config.devices[0]!.id;
  // The heat meter of the fourth driver, as the registry line would have let the config hold it.
  config.devices.push(fakeMeter.schema.parse({ id: 'heat-1', driver: 'fake-meter', line: 'mbus0', primaryAddress: 7, intervalMs: 1000, backoff: { minMs: 100, maxMs: 200 }, points: [{ id: 'energy', record: 0 }] }) as never);
  const gateway = new Gateway(config, logger, { drivers: [...DRIVERS, unloadable] });
  const readings: Reading[] = [];
  gateway.onReadings((rs) => readings.push(...rs));
  await gateway.start();
  t.after(() => gateway.stop());

  const heat = () => gateway.status().devices.find((d) => d.deviceId === 'heat-1');
  await waitFor(() => (heat()?.failures ?? 0) >= 2 && readings.some((r) => r.point.startsWith(`${modbusId}/`) && r.quality === 'good'), {
    timeoutMs: 30_000,
    what: 'the meter failing twice while the Modbus device reads good values',
  });
  assert.match(heat()!.lastError ?? '', new RegExp(`driver "fake-meter" cannot start: ${MISSING.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  // The center sees the point bad, with the reason, not a device that silently never reads.
  const bad = readings.filter((r) => r.point === 'heat-1/energy');
  assert.ok(bad.length >= 1 && bad.every((r) => r.quality === 'bad_config'), JSON.stringify(bad));
  // Logged once at creation, at error level, naming the device and the reason.
  const creation = lines.filter((l) => l.level >= 50 && l.device === 'heat-1');
  assert.equal(creation.length, 1, JSON.stringify(creation));
  assert.match(creation[0]!.msg, /^device "heat-1": driver "fake-meter" cannot start: .*mbus-native.*; the other devices go on$/);
  assert.equal(gateway.status().devices.find((d) => d.deviceId === modbusId)?.consecutiveFailures, 0);
});
