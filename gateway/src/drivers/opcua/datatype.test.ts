import test from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startOpcuaSim, type OpcuaSim } from '@kedge/testkit/sim/opcua-sim.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { afterEverything, removeDir } from '@kedge/testkit/temp-dirs.ts';
import type { Sample } from '../driver.ts';
import { OpcuaDevice } from './opcua-device.ts';
import { opcuaDataDir, opcuaDevice } from './test-support.ts';
import { pino } from 'pino';
import { Center } from '../../chaos/harness.ts';
import { parseConfig } from '../../config/load.ts';
import { Gateway } from '../../gateway.ts';

let dataDir: string;
let sim: OpcuaSim;

test.before(async () => {
  dataDir = await opcuaDataDir('kedge-opcua-type-');
  sim = await startOpcuaSim({ security: 'none', tickMs: 50 });
});

test.after(async () => {
  await sim.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test("each point's type comes from the node's DataType attribute before its first value, or from the config", async (t) => {
  const driver = new OpcuaDevice(
    opcuaDevice({
      endpointUrl: sim.endpointUrl,
      publishingIntervalMs: 100,
      samplingIntervalMs: 50,
      points: [
        // Level is a Double that the simulator may well show as a whole number: still float64.
        { id: 'level', nodeId: 'ns=1;s=Level' },
        { id: 'pump', nodeId: 'ns=1;s=PumpRunning' },
        { id: 'pulses', nodeId: 'ns=1;s=PulseCount' },
        { id: 'temp', nodeId: 'ns=1;s=WaterTemperature', type: 'float32' },
        { id: 'pump_polled', nodeId: 'ns=1;s=PumpRunning', mode: 'poll' },
      ],
    }),
    { dataDir },
  );
  t.after(() => driver.close());
  const typeAtFirstValue = new Map<string, string | undefined>();
  const typesChanged: number[] = [];
  driver.onPointTypes(() => typesChanged.push(driver.pointTypes().size));
  // Before any connection only the configured type is known.
  assert.deepEqual([...driver.pointTypes()], [['temp', 'float32']]);
  driver.subscribe((samples: Sample[]) => {
    for (const s of samples) if (!typeAtFirstValue.has(s.point)) typeAtFirstValue.set(s.point, driver.pointTypes().get(s.point));
  });
  await waitFor(() => ['level', 'pump', 'pulses', 'temp'].every((p) => typeAtFirstValue.has(p)), { timeoutMs: 20_000, what: 'first values' });
  assert.deepEqual(Object.fromEntries(typeAtFirstValue), { level: 'float64', pump: 'bool', pulses: 'uint64', temp: 'float32' });
  assert.deepEqual(typesChanged, [5], 'one change, once every node was read');
  const polled = await driver.poll(['pump_polled']);
  assert.equal(polled.samples[0]!.quality, 'good');
  assert.equal(driver.pointTypes().get('pump_polled'), 'bool');
});

test('the birth the center keeps carries the server-given types of OPC UA points, also after the gateway went offline', async (t) => {
  const center = await Center.start('opcua-types');
  t.after(() => center.close());
  // Seeded with the client key the gateway's driver would make: its first connect is not what this test is about.
  const gwDir = await opcuaDataDir('kedge-opcua-type-gw-');
  // After the stops registered below: the gateway writes its log and PKI there until its stop.
  afterEverything(t, () => removeDir(gwDir));
  const config = parseConfig(
    JSON.stringify({
      gateway: { id: 'gw-opc-types', region: 'kuzbass', municipality: 'kemerovo' },
      dataDir: gwDir,
      uplink: { url: center.broker.url, codec: 'json' },
      devices: [
        {
          id: 'station',
          driver: 'opcua',
          endpointUrl: sim.endpointUrl,
          points: [
            { id: 'level', nodeId: 'ns=1;s=Level', unit: 'cm' },
            { id: 'pulses', nodeId: 'ns=1;s=PulseCount' },
          ],
        },
      ],
    }),
  );
  const gateway = new Gateway(config, pino({ level: 'silent' }));
  await gateway.start();
  const typesAtCenter = () => {
    const points = (center.store.lastBirth('gw-opc-types')?.['points'] ?? []) as Array<{ point: string; type?: string; unit?: string }>;
    return Object.fromEntries(points.map((p) => [p.point, [p.type, p.unit]]));
  };
  try {
    await waitFor(() => typesAtCenter()['station/level']?.[0] !== undefined && typesAtCenter()['station/pulses']?.[0] !== undefined, {
      timeoutMs: 30_000,
      what: 'a birth with the OPC UA types at the center',
    });
  } finally {
    await gateway.stop();
  }
  await waitFor(() => center.status('gw-opc-types') === 'offline', { timeoutMs: 30_000, what: 'the offline status' });
  assert.deepEqual(typesAtCenter(), { 'station/level': ['float64', 'cm'], 'station/pulses': ['uint64', undefined] });
});
