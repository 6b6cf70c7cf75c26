import test from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { RIVER_STATION, startOpcuaSim, type OpcuaSim } from '@kedge/testkit/sim/opcua-sim.ts';
import { WriteError } from '../write-error.ts';
import { OpcuaDevice } from './opcua-device.ts';
import { opcuaDataDir, opcuaDevice } from './test-support.ts';

let sim: OpcuaSim;
let dataDir: string;
let driver: OpcuaDevice;

test.before(async () => {
  dataDir = await opcuaDataDir('kedge-opcua-write-');
  sim = await startOpcuaSim({
    security: 'none',
    tickMs: 100,
    variables: [...RIVER_STATION, { name: 'Speed', dataType: 'Int16', writable: true, value: () => 0 }],
  });
  driver = new OpcuaDevice(
    opcuaDevice({
      endpointUrl: sim.endpointUrl,
      points: [
        { id: 'pump', nodeId: sim.nodeId('PumpRunning'), mode: 'poll', writable: true },
        { id: 'speed', nodeId: sim.nodeId('Speed'), mode: 'poll', writable: true },
        // Marked writable here, but read-only on the server: the server has the last word.
        { id: 'level', nodeId: sim.nodeId('Level'), mode: 'poll', writable: true },
      ],
    }),
    { dataDir },
  );
});

test.after(async () => {
  await driver.close();
  await sim.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function rejects(p: Promise<unknown>, code: WriteError['code'], message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof WriteError, `expected a WriteError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

test('a Boolean node is written and the next read returns the new value', async () => {
  await driver.write('pump', true);
  const { samples } = await driver.poll(['pump']);
  assert.equal(samples[0]!.value, true);
  await driver.write('pump', false);
  assert.equal((await driver.poll(['pump'])).samples[0]!.value, false);
});

test('an Int16 node is written with its own data type, the number rounded', async () => {
  await driver.write('speed', 1200.4);
  assert.equal((await driver.poll(['speed'])).samples[0]!.value, 1200);
});

test('values outside the node type are refused before the server is asked', async () => {
  await rejects(driver.write('speed', 40000), 'invalid_value', /station\/speed \(ns=1;s=Speed\): Int16 value 40000 is out of range -32768\.\.32767/);
  await rejects(driver.write('pump', 1), 'invalid_value', /the node is Boolean, got number 1/);
});

test('a Bad status from the server becomes a WriteError naming the status', async () => {
  await rejects(driver.write('level', 5), 'not_writable', /the server refused the write of station\/level \(ns=1;s=Level\): BadNotWritable/);
});

test('an unknown point is not_found', async () => {
  await rejects(driver.write('nope', 1), 'not_found', /device station has no point "nope"/);
});
