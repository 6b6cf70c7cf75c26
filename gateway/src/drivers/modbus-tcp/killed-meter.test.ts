/**
 * A meter that dies with a request in flight (power cut, process killed): its socket closes,
 * and the request must fail then, as bad_comm, not after the device's whole timeoutMs.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { startModbusTap } from '@kedge/testkit/modbus-tap.ts';
import { startPymodbus } from '@kedge/testkit/pymodbus.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { parseConfig } from '../../config/load.ts';
import type { ModbusTcpDeviceConfig } from './schema.ts';
import type { PollResult } from '../driver.ts';
import { createModbusTcpDriver } from './index.ts';

/** The devices' request timeout: a failure seen before it cannot have come from the timeout. */
const REQUEST_TIMEOUT_MS = 60_000;
/** Generous bound for the failure to arrive on a loaded 2-core machine, far below the timeout. */
const FAILURE_BOUND_MS = 15_000;

function devices(port: number): ModbusTcpDeviceConfig[] {
  const common = { driver: 'modbus-tcp', host: '127.0.0.1', port, timeoutMs: REQUEST_TIMEOUT_MS };
  const cfg = parseConfig(
    JSON.stringify({
      gateway: { id: 'gw-kill', region: 'kuzbass', municipality: 'kemerovo' },
      uplink: { url: 'mqtt://127.0.0.1:1' },
      devices: [
        { id: 'meter', unitId: 1, ...common, points: [{ id: 'energy', table: 'holding', address: 0, type: 'uint16' }] },
        // pymodbus silently drops requests for unit ids it does not serve: this one stays in flight.
        { id: 'behind', unitId: 2, ...common, points: [{ id: 'level', table: 'holding', address: 0, type: 'uint16' }] },
      ],
    }),
  );
  return cfg.devices as ModbusTcpDeviceConfig[];
}

/** A promise and whether it has settled, so a test can wait for it within its own bound. */
function settled<T>(p: Promise<T>): { promise: Promise<T>; done: () => boolean } {
  let done = false;
  void p.finally(() => {
    done = true;
  });
  return { promise: p, done: () => done };
}

test('a meter killed (SIGKILL) with a request in flight gives bad_comm at once, not after its 60 s timeout', async (t) => {
  const server = await startPymodbus({ image: { holding: { 0: 42 }, units: [1] } });
  t.after(() => server.stop());
  // The tap proves the request reached pymodbus before the kill; it closes the gateway's
  // connection when pymodbus's closes, as the kernel does for a killed process.
  const tap = await startModbusTap({ port: server.port });
  t.after(() => tap.close());

  const [meterConfig, behindConfig] = devices(tap.port);
  const meter = createModbusTcpDriver(meterConfig!);
  const behind = createModbusTcpDriver(behindConfig!);
  t.after(() => Promise.all([meter.close(), behind.close()]));
  const qualities: string[] = [];
  const note = (r: PollResult) => {
    qualities.push(...r.samples.map((s) => `${s.point}:${s.quality}`));
    return r;
  };

  note(await meter.poll(['energy']));
  assert.deepEqual(qualities, ['energy:good']);

  const started = performance.now();
  // One link, one transaction at a time: the meter's next poll waits behind the unanswered one.
  const inFlight = settled(behind.poll(['level']).then(note));
  const next = settled(meter.poll(['energy']).then(note));
  await waitFor(() => tap.requests.some((r) => r.unitId === 2), { what: 'the request to unit 2 at the meter' });
  process.kill(server.pid, 'SIGKILL');

  await waitFor(() => inFlight.done() && next.done(), { timeoutMs: FAILURE_BOUND_MS, what: 'the in-flight request to fail' });
  const elapsed = performance.now() - started;
  const [lost, refused] = [await inFlight.promise, await next.promise];
  assert.ok(elapsed < FAILURE_BOUND_MS, `${Math.round(elapsed)} ms`);
  assert.deepEqual(qualities, ['energy:good', 'level:bad_comm', 'energy:bad_comm']);
  assert.match(lost.samples[0]!.error!, /the link closed before the device answered/);
  assert.equal(lost.failed, true);
  assert.equal(refused.failed, true);
  // The tap accepts the reconnect and closes it, finding nobody behind: a closed link again.
  assert.match(refused.samples[0]!.error!, /ECONNCLOSED|ECONNREFUSED/);
});
