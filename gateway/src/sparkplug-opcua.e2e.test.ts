import test from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { TestHost } from '@kedge/cloud-sync/north/sparkplug/test-host.ts';
import { startOpcuaSim } from '@kedge/testkit/sim/opcua-sim.ts';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { afterEverything, removeDir, tempDir } from '@kedge/testkit/temp-dirs.ts';
import { loadConfigFile } from './config/load.ts';
import { Gateway } from './gateway.ts';
import { opcuaDataDir } from './drivers/opcua/test-support.ts';

/** node-opcua's start-up and first subscription on a loaded 2-core machine. */
const OPCUA_TIMEOUT_MS = 60_000;

test('OPC UA points are born with the server\'s DataType, not their first value: a Double setpoint first read as 20 keeps 20.5 and 20.1 exact, with one DBIRTH', async (t) => {
  const dir = tempDir(t, 'kedge-sparkplug-opcua-');
  const sim = await startOpcuaSim({
    security: 'none',
    tickMs: 50,
    variables: [
      { name: 'Setpoint', dataType: 'Double', writable: true, value: () => 20 },
      { name: 'Temp', dataType: 'Float', value: () => 1.5 },
      { name: 'Count', dataType: 'Int32', value: () => 5 },
    ],
  });
  t.after(() => sim.stop());
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  const host = await TestHost.connect(broker.url, 'spBv1.0/kemerovo/#');
  t.after(() => host.close());
  // Seeded with the client key the OPC UA driver would make on its first connect (CPU this test is not about).
  const dataDir = await opcuaDataDir('kedge-sparkplug-opcua-data-');
  // After the stops registered below: the gateway writes its log and PKI there until its stop.
  afterEverything(t, () => removeDir(dataDir));
  const configPath = join(dir, 'kedge.yaml');
  writeFileSync(
    configPath,
    JSON.stringify({
      gateway: { id: 'gw-opc', region: 'kuzbass', municipality: 'kemerovo' },
      dataDir,
      log: { flushMs: 20, synchronous: 'normal' },
      uplink: { url: broker.url, codec: 'sparkplug', batchMaxDelayMs: 50, reconnectMinMs: 200, reconnectMaxMs: 1000, sparkplug: { birthWaitMs: OPCUA_TIMEOUT_MS } },
      web: { enabled: false },
      devices: [
        {
          id: 'plc',
          driver: 'opcua',
          endpointUrl: sim.endpointUrl,
          publishingIntervalMs: 50,
          samplingIntervalMs: 50,
          backoff: { minMs: 200, maxMs: 1000 },
          // No `type`: the driver reads each node's DataType attribute.
          points: [
            { id: 'setpoint', nodeId: sim.nodeId('Setpoint') },
            { id: 'temp', nodeId: sim.nodeId('Temp') },
            { id: 'count', nodeId: sim.nodeId('Count') },
          ],
        },
      ],
    }),
  );
  const gateway = new Gateway(await loadConfigFile(configPath), pino({ level: 'silent' }, new Writable({ write: (_c, _e, cb) => cb() })));
  t.after(() => gateway.stop());
  await gateway.start();

  const dbirth = await host.until((g) => g.find((m) => m.type === 'DBIRTH' && m.device === 'plc'), 'the DBIRTH', OPCUA_TIMEOUT_MS);
  assert.deepEqual(
    dbirth.metrics.map((m) => [m.name, m.type, m.value]),
    [
      ['setpoint', 'Double', 20],
      ['temp', 'Float', 1.5],
      ['count', 'Int32', 5],
    ],
    'datatypes from the server (tck-id-payloads-metric-datatype-req), current values (tck-id-operational-behavior-data-publish-dbirth-values)',
  );
  const alias = dbirth.metrics[0]!.alias!;
  sim.set('Setpoint', 20.5);
  await host.until((g) => g.some((m) => m.type === 'DDATA' && m.metrics.some((x) => x.alias === alias && x.value === 20.5)), '20.5 in a DDATA', OPCUA_TIMEOUT_MS);
  sim.set('Setpoint', 20.1);
  await host.until((g) => g.some((m) => m.type === 'DDATA' && m.metrics.some((x) => x.alias === alias && x.value === 20.1)), '20.1, exactly, in a DDATA', OPCUA_TIMEOUT_MS);
  const setpoints = host.ofType('DDATA', 'plc').flatMap((m) => m.metrics).filter((x) => x.alias === alias);
  assert.ok(setpoints.every((x) => x.value !== null && x.type === 'Double'), `never null, always the born Double: ${JSON.stringify(setpoints.map((x) => x.value))}`);
  assert.equal(host.ofType('DBIRTH', 'plc').length, 1, 'no extra DBIRTH for the device');
});
