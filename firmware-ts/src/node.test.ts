import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from '@kedge/testkit/wait.ts';
import { REGISTER_MAP, STATUS_BITS, type StatusBitId } from './register-map.ts';
import { startMockRig, tempDir, type MockRig } from './test-rig.ts';
import { FIRMWARE_VERSION } from './version.ts';

const bit = (id: StatusBitId) => 1 << STATUS_BITS.find((b) => b.id === id)!.bit;

function inputs(rig: MockRig): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [def, v] of rig.node.values('input')) out[def.id] = v;
  return out;
}

function rigFor(t: { after: (fn: () => void) => void }, opts: Parameters<typeof startMockRig>[0] = {}): MockRig {
  const rig = startMockRig(opts);
  t.after(() => rig.stop());
  rig.node.start();
  return rig;
}

test('readings flow from johnny-five sensors through filter and calibration into the input registers', async (t) => {
  const rig = rigFor(t);
  rig.door = 1;
  const v = await waitFor(() => {
    const now = inputs(rig);
    return now['status'] === 0 && now['door_open'] === 1 ? now : undefined;
  }, { what: 'status 0 with the door open' });
  assert.equal(v['water_level'], 5);
  assert.equal(v['water_temperature'], 15);
  assert.equal(v['turbidity'], 300);
  assert.equal(v['battery_voltage'], 12);
  assert.equal(v['water_level_raw'], 500);
  assert.equal(v['battery_voltage_raw'], 600);
  assert.ok(v['samples']! > 0);
  assert.equal(v['resets'], 1);
  assert.deepEqual([v['fw_major'], v['fw_minor'], v['fw_patch']], [FIRMWARE_VERSION.major, FIRMWARE_VERSION.minor, FIRMWARE_VERSION.patch]);
});

test('a calibrated value outside its valid range sets only that channel\'s fault bit and reads NaN', async (t) => {
  const rig = rigFor(t);
  await waitFor(() => inputs(rig)['status'] === 0, { what: 'status 0' });
  rig.inputs.battery_voltage = 900; // 18 V: above the 15 V limit
  // Waiting for exactly this status word is the assertion: any other bit keeps it from coming.
  const v = await waitFor(() => {
    const now = inputs(rig);
    return now['status'] === bit('battery_voltage_fault') ? now : undefined;
  }, { what: 'status = battery fault only' });
  assert.ok(Number.isNaN(v['battery_voltage']));
  assert.equal(v['battery_voltage_raw'], 900);
  assert.equal(v['water_level'], 5);
});

test('when readings stop arriving the stale bit is set and every value reads NaN', async (t) => {
  const rig = rigFor(t);
  await waitFor(() => inputs(rig)['status'] === 0, { what: 'status 0' });
  rig.feeding = false;
  const v = await waitFor(() => {
    const now = inputs(rig);
    return now['status']! & bit('stale') ? now : undefined;
  }, { what: 'the stale bit' });
  const faults = bit('water_level_fault') | bit('water_temperature_fault') | bit('turbidity_fault') | bit('battery_voltage_fault');
  assert.equal(v['status'], bit('stale') | faults);
  for (const id of ['water_level', 'water_temperature', 'turbidity', 'battery_voltage']) assert.ok(Number.isNaN(v[id]), id);
  assert.equal(rig.node.watchdog.connected, true);

  rig.feeding = true;
  await waitFor(() => inputs(rig)['status'] === 0, { what: 'status 0 after readings resume' });
});

test('a board that reports close is marked disconnected, re-opened, and readings flow again', async (t) => {
  const rig = rigFor(t);
  await waitFor(() => inputs(rig)['status'] === 0, { what: 'status 0' });
  assert.equal(rig.ios.length, 1);
  rig.feeding = false;
  rig.ios[0]!.emit('close');
  const v = inputs(rig);
  assert.equal(v['status']! & (bit('board_disconnected') | bit('stale')), bit('board_disconnected') | bit('stale'));
  assert.ok(Number.isNaN(v['water_level']));
  rig.feeding = true;
  await waitFor(() => rig.ios.length === 2 && inputs(rig)['status'] === 0, { what: 'status 0 on a second board' });
  assert.equal(rig.node.watchdog.disconnects, 1);
  assert.equal(inputs(rig)['water_level'], 5);
});

test('a board that goes silent without any event is detected after noDataPeriods and re-opened', async (t) => {
  const rig = rigFor(t, { noDataPeriods: 3 });
  await waitFor(() => inputs(rig)['status'] === 0, { what: 'status 0' });
  rig.feeding = false;
  await waitFor(() => rig.node.watchdog.disconnects === 1, { what: 'the silent board to be dropped' });
  rig.feeding = true;
  await waitFor(() => rig.ios.length >= 2 && inputs(rig)['status'] === 0, { what: 'status 0 on a new board' });
});

test('a board that never becomes ready is retried with backoff until one does', async (t) => {
  const rig = rigFor(t, { bringUp: (attempt) => attempt >= 2 });
  assert.equal(inputs(rig)['status']! & bit('board_disconnected'), bit('board_disconnected'));
  await waitFor(() => inputs(rig)['status'] === 0, { what: 'status 0 on the third attempt' });
  assert.equal(rig.ios.length, 3);
  assert.equal(rig.node.watchdog.failedAttempts, 2);
});

test('every start counts a reset in the settings file', (t) => {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const settingsFile = path.join(tmp.dir, 'node.json');
  for (const expected of [1, 2, 3]) {
    const rig = startMockRig({ settingsFile });
    rig.stop();
    assert.equal(rig.node.values('input').get(REGISTER_MAP.find((d) => d.id === 'resets')!), expected);
  }
  assert.equal(JSON.parse(readFileSync(settingsFile, 'utf8')).bootCount, 3);
});

test('a corrupt settings file sets settings_defaulted and the node runs on defaults', (t) => {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const settingsFile = path.join(tmp.dir, 'node.json');
  writeFileSync(settingsFile, '\u0000\u0000garbage');
  const rig = startMockRig({ settingsFile });
  rig.stop();
  assert.equal(rig.node.status() & bit('settings_defaulted'), bit('settings_defaulted'));
  assert.equal(rig.node.settings.samplingPeriodMs, 1000);
});
