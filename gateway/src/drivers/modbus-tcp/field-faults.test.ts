/**
 * Southbound faults as a field engineer meets them, against Debian's pymodbus and the whole
 * gateway (scheduler, pipeline, log, uplink, center): a meter whose map names one register
 * it does not have, and a meter killed and restarted while the gateway backs off.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogRecord, Reading } from '@kedge/cloud-sync/model.ts';
import { startPymodbus, type PymodbusHandle } from '@kedge/testkit/pymodbus.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { parseConfig } from '../../config/load.ts';
import { Gateway } from '../../gateway.ts';
import { createLogger } from '../../logger.ts';
import { Center } from '../../chaos/harness.ts';
import { ModbusRTU } from '../modbus/modbus-serial.ts';

/** Generous bound for anything that waits on polls of a loaded 2-core machine. */
const EVENT_TIMEOUT_MS = 30_000;
/** The meter's request timeout where only exceptions are under test: pymodbus on a loaded box can be slow. */
const SLOW_ANSWER_MS = 10_000;
/** Counter changes the meter goes through while one of its registers is refused (the issue saw 19). */
const COUNTER_CHANGES = 19;

interface Line {
  level: number;
  msg: string;
  event?: string;
  device?: string;
}

function startGateway(t: test.TestContext, id: string, brokerUrl: string, device: Record<string, unknown>) {
  const dir = mkdtempSync(join(tmpdir(), `kedge-${id}-`));
  const lines: Line[] = [];
  const logger = createLogger({
    name: 'test',
    level: 'info',
    destination: { write: (s: string) => void s.split('\n').filter(Boolean).forEach((l) => lines.push(JSON.parse(l) as Line)) },
  });
  const config = parseConfig(
    JSON.stringify({
      gateway: { id, region: 'kuzbass', municipality: 'kemerovo' },
      dataDir: join(dir, 'data'),
      uplink: { url: brokerUrl, codec: 'json', batchMaxDelayMs: 50 },
      devices: [device],
    }),
  );
  const gateway = new Gateway(config, logger);
  const readings: Reading[] = [];
  gateway.onReadings((rs) => readings.push(...rs));
  gateway.start();
  t.after(async () => {
    await gateway.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { gateway, readings, lines };
}

const of = (rs: readonly Reading[], point: string) => rs.filter((r) => r.point === point);

// One center (mosquitto + ingest) for the file: what reaches it is what the engineer sees.
let center: Center;
test.before(async () => {
  center = await Center.start('field-faults');
});
test.after(() => center.close());
const atCenter = (gateway: string, point: string): LogRecord[] =>
  center.store.readings(gateway, 0, 100_000).filter((r) => r.point === point);
const deviceState = (gateway: Gateway) => gateway.status().devices[0]!;

test('a meter refusing one register (exception 02): only that point is bad, the others keep their interval and every counter change arrives', async (t) => {
  // Vendor-manual numbering (addressBase 1): registers 101..112 exist, the map also names 115.
  const holding: Record<number, number> = {};
  for (let a = 100; a <= 111; a++) holding[a] = a;
  holding[100] = 0; // the counter
  const server = await startPymodbus({ image: { holding, sparse: true } });
  t.after(() => server.stop());
  const points = [
    { id: 'counter', table: 'holding', address: 101 },
    ...Array.from({ length: 11 }, (_, i) => ({ id: `reg${102 + i}`, table: 'holding', address: 102 + i })),
    { id: 'ghost', table: 'holding', address: 115 },
  ];
  const { gateway, readings, lines } = startGateway(t, 'gw-refused', center.broker.url, {
    id: 'meter',
    driver: 'modbus-tcp',
    host: '127.0.0.1',
    port: server.port,
    addressBase: 1,
    intervalMs: 100,
    // Generous: a slow answer of a loaded box must not count as a timeout (the test is about exceptions).
    timeoutMs: SLOW_ANSWER_MS,
    backoff: { minMs: 2000, maxMs: 60_000 },
    points,
  });

  // The counter steps once the gateway has logged its current value: if the device backed off,
  // the steps would wait for its retries, and the states recorded below would show the backoff.
  const writer = new ModbusRTU();
  await writer.connectTCP('127.0.0.1', { port: server.port });
  // The server may be gone by then: a closed client never calls back.
  t.after(() => (writer.isOpen ? new Promise<void>((r) => writer.destroy(() => r())) : undefined));
  const polls: Array<ReturnType<typeof deviceState>> = [];
  const unsubscribe = gateway.onPoll((_d, _r, _ms, state) => polls.push(state));
  t.after(unsubscribe);
  for (let v = 1; v <= COUNTER_CHANGES; v++) {
    await waitFor(() => of(readings, 'meter/counter').some((r) => r.value === v - 1), { timeoutMs: EVENT_TIMEOUT_MS, what: `counter ${v - 1} logged` });
    await writer.writeRegister(100, v);
  }
  await waitFor(() => of(readings, 'meter/counter').some((r) => r.value === COUNTER_CHANGES), { timeoutMs: EVENT_TIMEOUT_MS, what: 'the last counter value' });
  gateway.log.flush();
  const logged = gateway.log.readAfter(0, 1_000_000).filter((r) => r.point === 'meter/counter');
  const lastSeq = logged.at(-1)!.seq;
  await waitFor(() => center.confirmed('gw-refused') >= lastSeq, { timeoutMs: EVENT_TIMEOUT_MS, what: 'the log to reach the center' });
  const counterAtCenter = atCenter('gw-refused', 'meter/counter').filter((r) => r.seq <= lastSeq);
  const row = (r: LogRecord) => [r.seq, r.value, r.quality];
  assert.deepEqual(counterAtCenter.map(row), logged.map(row), 'the center holds every counter reading the gateway logged');
  assert.deepEqual([...new Set(counterAtCenter.map((r) => r.value))], Array.from({ length: COUNTER_CHANGES + 1 }, (_, i) => i));

  // Every change, in order, none skipped (deadband 0 logs every poll, so repeats are dropped here).
  const counter = of(readings, 'meter/counter').map((r) => r.value);
  assert.deepEqual([...new Set(counter)], Array.from({ length: COUNTER_CHANGES + 1 }, (_, i) => i));
  assert.ok(of(readings, 'meter/counter').every((r) => r.quality === 'good'));
  // No poll of the run was a device failure or put the device into backoff.
  assert.ok(polls.length > COUNTER_CHANGES);
  for (const s of polls) assert.deepEqual([s.consecutiveFailures, s.backoffUntil], [0, null]);
  // The refused point: one bad reading (the pipeline logs a quality once), in the configured numbering.
  const ghost = of(readings, 'meter/ghost');
  assert.equal(ghost.length, 1);
  assert.equal(ghost[0]!.quality, 'bad_device_error');
  for (const p of points.filter((x) => x.id !== 'ghost')) assert.ok(of(readings, `meter/${p.id}`).every((r) => r.quality === 'good'), p.id);

  // What the UI shows and the console said.
  const state = deviceState(gateway);
  assert.ok(state.lastOkAt !== null);
  assert.deepEqual(state.blockErrors, ['Modbus exception 2 (illegal data address) reading holding 115 (protocol 114)']);
  assert.equal(state.findings.length, 1);
  assert.match(state.findings[0]!, /^holding 101\.\.115 \(protocol 100\.\.114\) answered Modbus exception 2 \(illegal data address\); read point by point, 1 of 13 points are refused: "ghost" at holding 115 \(protocol 114\)/);
  const said = (event: string) => lines.filter((l) => l.event === event);
  assert.equal(said('register_map_finding').length, 1);
  assert.equal(said('reads_refused').length, 1, 'rate-limited: said once, not once per poll');
  assert.match(said('reads_refused')[0]!.msg, /^device "meter" refuses reads of 1 point \(its other points are polled as usual\): .*holding 115 \(protocol 114\)/);
  assert.equal(said('device_failed').length, 0);
});

test('a meter killed and restarted while the gateway backs off: every point shows bad then good at the center, whatever the backoff', async (t) => {
  const image = { holding: { 0: 11, 1: 22 }, input: { 5: 33 } };
  let server: PymodbusHandle = await startPymodbus({ image });
  t.after(() => server.stop());
  const port = server.port;
  const { gateway, lines } = startGateway(t, 'gw-killed', center.broker.url, {
    id: 'meter',
    driver: 'modbus-tcp',
    host: '127.0.0.1',
    port,
    intervalMs: 100,
    timeoutMs: 1000,
    backoff: { minMs: 200, maxMs: 1000 },
    points: [
      { id: 'level', table: 'holding', address: 0 },
      { id: 'flow', table: 'holding', address: 1 },
      // Polled once an hour: only the outage logic can give it a bad and a fresh good reading.
      { id: 'total', table: 'input', address: 5, intervalMs: 3_600_000 },
    ],
  });
  const at = (point: string): LogRecord[] => atCenter('gw-killed', `meter/${point}`);
  const POINTS = ['level', 'flow', 'total'];
  await waitFor(() => POINTS.every((p) => at(p).some((r) => r.quality === 'good')), { timeoutMs: EVENT_TIMEOUT_MS, what: 'good readings at the center' });

  process.kill(server.pid, 'SIGKILL');
  await server.stop();
  await waitFor(() => deviceState(gateway).consecutiveFailures >= 2, { timeoutMs: EVENT_TIMEOUT_MS, what: 'the gateway backing off' });
  assert.ok(deviceState(gateway).backoffUntil !== null);
  server = await startPymodbus({ image, port });
  await waitFor(() => POINTS.every((p) => at(p).at(-1)?.quality === 'good' && at(p).some((r) => r.quality !== 'good')), {
    timeoutMs: EVENT_TIMEOUT_MS,
    what: 'bad then good readings of every point at the center',
  });

  for (const p of POINTS) {
    const qualities = at(p).map((r) => (r.quality === 'good' ? 'good' : 'bad'));
    const transitions = qualities.filter((q, i) => i === 0 || q !== qualities[i - 1]);
    assert.deepEqual(transitions, ['good', 'bad', 'good'], `${p}: ${qualities.join(',')}`);
    const bad = at(p).filter((r) => r.quality !== 'good');
    // Not one per failed poll: a bad reading only when the kind of failure changes. A request in
    // flight at the kill waits out its timeout (modbus-serial does not fail it when the socket
    // closes: bad_no_response), the reconnects are refused (bad_comm); a kill between requests
    // gives bad_comm alone.
    const kinds = bad.map((r) => r.quality);
    assert.equal(new Set(kinds).size, kinds.length, `${p}: each bad quality once (${kinds.join(',')})`);
    assert.ok(kinds.every((q) => q === 'bad_comm' || q === 'bad_no_response') && kinds.at(-1) === 'bad_comm', `${p}: ${kinds.join(',')}`);
  }
  const said = (event: string) => lines.filter((l) => l.event === event);
  assert.equal(said('device_failed').length, 1);
  assert.match(said('device_failed')[0]!.msg, /^device "meter" stopped answering: .*; next try in /);
  assert.equal(said('device_recovered').length, 1);
  assert.match(said('device_recovered')[0]!.msg, /^device "meter" answers again after [\d.]+ s \(\d+ failed polls?\)$/);
});
