import test from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startOpcuaSim, type OpcuaSim } from '@kedge/testkit/sim/opcua-sim.ts';
import { freePort } from '@kedge/testkit/ports.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { pino } from 'pino';
import { OpcuaDevice } from './opcua-device.ts';
import { opcuaDataDir, opcuaDevice, SampleLog } from './test-support.ts';

/** The promise to the field: values flow again within this after the server is ready, whatever the backoff. */
const VALUES_AFTER_READY_MS = 10_000;
/**
 * Failed reconnects to wait for: the lost session is the first failure (1 s), each failed
 * connect doubles it, so with minMs 1000 the wait after the 5th failed connect is 32 s, far
 * beyond the promise.
 */
const FAILED_CONNECTS = 5;

test('after a long outage the backoff has grown past 10 s, yet values flow within 10 s of the server being ready, with the same monitored items', async (t) => {
  const dataDir = await opcuaDataDir('kedge-opcua-timing-');
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const lines: Array<{ event?: string; msg: string }> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as { event?: string; msg: string }) });
  let sim: OpcuaSim = await startOpcuaSim({ port, security: 'none', tickMs: 50 });
  t.after(() => sim.stop());
  const driver = new OpcuaDevice(
    opcuaDevice({
      endpointUrl: `opc.tcp://127.0.0.1:${port}`,
      publishingIntervalMs: 100,
      samplingIntervalMs: 50,
      timeoutMs: 2000,
      backoff: { minMs: 1000, maxMs: 60_000 },
      points: [
        { id: 'level', nodeId: 'ns=1;s=Level' },
        { id: 'pulses', nodeId: 'ns=1;s=PulseCount', samplingIntervalMs: 100 },
      ],
    }),
    { dataDir, logger },
  );
  t.after(() => driver.close());
  const log = new SampleLog();
  driver.subscribe(log.sink);
  const good = (p: string, from: number) => log.of(p).slice(from).filter((s) => s.quality === 'good').length;
  await waitFor(() => good('level', 0) >= 2 && good('pulses', 0) >= 2, { timeoutMs: 20_000, what: 'values before the outage' });

  await sim.stop();
  await waitFor(() => driver.failedConnects >= FAILED_CONNECTS, { timeoutMs: 120_000, intervalMs: 200, what: `${FAILED_CONNECTS} failed reconnects` });
  const before = { level: log.of('level').length, pulses: log.of('pulses').length };
  const sessions = driver.sessions;
  sim = await startOpcuaSim({ port, security: 'none', tickMs: 50 });
  const ready = performance.now();
  await waitFor(() => good('level', before.level) >= 1 && good('pulses', before.pulses) >= 1, {
    timeoutMs: 60_000,
    what: 'values after the server came back',
  });
  const waited = performance.now() - ready;
  assert.ok(waited < VALUES_AFTER_READY_MS, `values came ${Math.round(waited)} ms after the server was ready`);
  // One new session, and every monitored item of before delivers again.
  assert.equal(driver.sessions, sessions + 1);
  for (const p of ['level', 'pulses']) assert.equal(log.of(p).slice(0, before[p as 'level']).filter((s) => s.quality !== 'good').length, 1, `${p}: one outage sample`);
  // The console: one line when the server went away, one when it answered again.
  const said = (event: string) => lines.filter((l) => l.event === event);
  assert.equal(said('device_failed').length, 1, JSON.stringify(lines.map((l) => l.msg)));
  assert.match(said('device_failed')[0]!.msg, /^device "station" stopped answering: /);
  assert.equal(said('device_recovered').length, 1);
  assert.match(said('device_recovered')[0]!.msg, /^device "station" answers again after [\d.]+ s \(OPC UA session 2 with opc\.tcp:/);
});
