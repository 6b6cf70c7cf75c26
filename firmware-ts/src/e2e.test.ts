/**
 * End to end without hardware: sensor readings from mock-firmata through the node's RTU slave
 * on one end of a socat pty pair, polled by the gateway's own modbus-rtu driver on the other
 * end, into the gateway's SQLite reading log.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { pino } from 'pino';
import { gatewayConfigSchema } from '@kedge/gateway/config/schema.ts';
import { Gateway } from '@kedge/gateway/gateway.ts';
import { ReadingLog } from '@kedge/gateway/log/reading-log.ts';
import { freePort } from '@kedge/testkit/ports.ts';
import { startSocatPair } from '@kedge/testkit/socat.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { startRtuSlave } from './modbus-slave.ts';
import { REGISTER_MAP, STATUS_BITS } from './register-map.ts';
import { afterEverything } from '@kedge/testkit/temp-dirs.ts';
import { startMockRig, tempDir } from './test-rig.ts';
import { FIRMWARE_VERSION } from './version.ts';

const DEVICE = 'uskat-river-1';

test('readings from the sensor board reach the gateway\'s SQLite log through RTU polling by the gateway\'s modbus-rtu driver', async (t) => {
  const tmp = tempDir();
  // After the gateway's, the slave's and the serial line's stops, registered below.
  afterEverything(t, () => tmp.remove());
  const line = await startSocatPair();
  t.after(() => line.stop());

  // Staleness is proven elsewhere; here a loaded machine must not flip the status word.
  const rig = startMockRig({ stalePeriods: 20 });
  rig.node.start();
  const slave = await startRtuSlave({ path: line.a, unitId: 7, baudRate: 19200, backend: rig.node });
  t.after(async () => {
    await slave.close();
    rig.stop();
  });

  // Every register of the published map, as a gateway config would list them.
  const config = gatewayConfigSchema.parse({
    gateway: { id: 'kem-e2e-01', region: 'kuzbass', municipality: 'uskat' },
    dataDir: path.join(tmp.dir, 'gw'),
    // Nothing listens there: the uplink stays offline, which does not concern the south side.
    uplink: { url: `mqtt://127.0.0.1:${await freePort()}` },
    devices: [
      {
        id: DEVICE,
        driver: 'modbus-rtu',
        port: line.b,
        baudRate: 19200,
        unitId: 7,
        intervalMs: 200,
        timeoutMs: 1000,
        points: REGISTER_MAP.map((d) => ({ id: d.id.replaceAll('_', '-'), table: d.table, address: d.address, type: d.type, order: d.order })),
      },
    ],
  });
  const gateway = new Gateway(config, pino({ level: 'silent' }));
  await gateway.start();
  let stopped = false;
  t.after(async () => {
    if (!stopped) await gateway.stop();
  });

  const live = (id: string) => gateway.status().live[`${DEVICE}/${id}`];
  await waitFor(() => live('status')?.value === 0 && live('water-level')?.value === 5, { what: 'status 0 and a 5 m level at the gateway' });
  rig.inputs.battery_voltage = 900;
  const batteryFault = 1 << STATUS_BITS.find((b) => b.id === 'battery_voltage_fault')!.bit;
  await waitFor(() => live('status')?.value === batteryFault, { what: 'the battery fault bit at the gateway' });
  await gateway.stop();
  stopped = true;

  const log = new ReadingLog(path.join(config.dataDir, 'log.db'), { maxBytes: 64 * 1024 * 1024, flushMs: 100, flushRows: 1000, synchronous: 'normal', retainAckedMs: 0 });
  const rows = log.readAfter(0, 100_000);
  log.close();
  // With deadband 0 every poll is logged; compare the sequence of distinct consecutive values.
  const changes = (id: string) =>
    rows.filter((r) => r.point === `${DEVICE}/${id}`).map((r) => r.value).filter((v, i, all) => i === 0 || !Object.is(v, all[i - 1]));

  assert.ok(rows.length > 0);
  assert.ok(rows.every((r) => r.quality === 'good'), 'every logged reading has good quality');
  assert.deepEqual(changes('water-level'), [5]);
  assert.deepEqual(changes('water-temperature'), [15]);
  assert.deepEqual(changes('turbidity'), [300]);
  assert.deepEqual(changes('door-open'), [0]);
  // The firmware reports NaN for a faulted channel; the gateway logs it as null.
  assert.deepEqual(changes('battery-voltage'), [12, null]);
  assert.deepEqual(changes('battery-voltage-raw'), [600, 900]);
  assert.deepEqual(changes('status'), [0, batteryFault]);
  assert.deepEqual(changes('resets'), [1]);
  assert.deepEqual(changes('crc-errors'), [0]);
  assert.deepEqual(changes('sampling-period'), [100]);
  assert.deepEqual([changes('fw-major'), changes('fw-minor'), changes('fw-patch')], [[FIRMWARE_VERSION.major], [FIRMWARE_VERSION.minor], [FIRMWARE_VERSION.patch]]);
  assert.deepEqual(changes('water-level-c1'), [Math.fround(0.01)], 'c1 = 10 m / 1000 counts, as float32');
});
