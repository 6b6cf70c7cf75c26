/**
 * Clock jumps (issue 14 point 4): the real daemon's wall clock is set back a year, right, back
 * ten minutes, right, and ahead a year (KEDGE_TEST_WALL_OFFSET_FILE, cloud-sync/src/clock.ts),
 * while it polls and syncs to mosquitto and the ingest. Polling, the paced uplink and the
 * center's accounting must not notice: every sequence reaches the center once, as the log
 * holds it, and what was stamped by the wrong clock is marked uncertain_clock there too.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WALL_OFFSET_FILE_ENV } from '@kedge/cloud-sync/clock.ts';
import { startModbusSim } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { closeAll } from '@kedge/testkit/clean-up.ts';
import { assertEverySequenceOnce, assertSameReadings, Center, GatewayUnderTest } from './harness.ts';

const YEAR = 365 * 86_400_000;
const STEPS: { offsetMs: number; line: RegExp }[] = [
  { offsetMs: -YEAR, line: /wall clock jumped back by 365d/ },
  { offsetMs: 0, line: /wall clock jumped forward by 365d/ },
  { offsetMs: -600_000, line: /wall clock jumped back by 10m/ },
  { offsetMs: 0, line: /wall clock jumped forward by 10m/ },
  { offsetMs: YEAR, line: /wall clock jumped forward by 365d/ },
];
/** Readings that must reach the center after each jump: the uplink (pace, batching, acks) is alive. */
const FLOW_AFTER_JUMP = 200;

test('wall clock jumps both ways, small and a year: the daemon polls and syncs on, the center gets every sequence once and sees the marks', async (t) => {
  const sim = await startModbusSim();
  const center = await Center.start('chaos-clock');
  const offsetFile = join(center.dir, 'wall-offset');
  writeFileSync(offsetFile, '0\n');
  // The daemon inherits it; this test process itself never reads it.
  const saved = process.env[WALL_OFFSET_FILE_ENV];
  process.env[WALL_OFFSET_FILE_ENV] = offsetFile;
  const gw = GatewayUnderTest.sim(center.dir, {
    gatewayId: 'gw-chaos-clock',
    simPort: sim.port,
    brokerUrl: center.broker.url,
    intervalMs: 50,
    // The pace is on: a token bucket on the wall clock would owe a year of tokens after the first jump.
    uplink: { maxReadingsPerSec: 5000 },
  });
  t.after(() => {
    if (saved === undefined) delete process.env[WALL_OFFSET_FILE_ENV];
    else process.env[WALL_OFFSET_FILE_ENV] = saved;
    return closeAll(
      () => gw.stop(),
      () => center.close(),
      () => sim.close(),
    );
  });

  await gw.start();
  await gw.waitFor(() => center.maxSeq(gw.id) > 0, { timeoutMs: 20_000, what: 'first readings at the center' });
  for (const [i, step] of STEPS.entries()) {
    writeFileSync(offsetFile, `${step.offsetMs}\n`);
    await gw.waitFor(() => gw.output().split('\n').filter((l) => /wall clock jumped/.test(l)).length === i + 1, {
      timeoutMs: 20_000,
      what: `step ${i + 1}: the jump noticed`,
    });
    const lines = gw.output().split('\n').filter((l) => /wall clock jumped/.test(l));
    assert.match(lines.at(-1)!, step.line, `step ${i + 1}: one line naming the jump`);
    const before = center.maxSeq(gw.id);
    await gw.waitFor(() => center.maxSeq(gw.id) >= before + FLOW_AFTER_JUMP, { timeoutMs: 20_000, what: `step ${i + 1}: readings flowing to the center` });
  }

  assert.equal((await gw.stop()).code, 0, 'a clean stop');
  const log = gw.inspectLog();
  assert.equal(log.integrity, 'ok');
  await gw.waitFor(() => center.confirmed(gw.id) === log.lastSeq, { timeoutMs: 20_000, what: `the ingest to reach sequence ${log.lastSeq}` });
  const coverage = assertEverySequenceOnce(center.store, gw.id, log.lastSeq);
  assert.deepEqual(coverage, { stored: log.lastSeq, evicted: 0 });
  // Same seq, point, ts and quality at the center as in the log: the marks and the (wrong) stamps travelled.
  assert.equal(assertSameReadings(center.store, gw), log.lastSeq);

  const stored = center.store.readings(gw.id, 0, Number.MAX_SAFE_INTEGER);
  const now = Date.now();
  const yearBack = stored.filter((r) => r.ts < now - YEAR / 2 && r.value !== null);
  assert.ok(yearBack.length > 0, 'readings stamped a year back reached the center');
  assert.deepEqual([...new Set(yearBack.map((r) => r.quality))], ['uncertain_clock'], 'each of them marked');
  const marked = stored.filter((r) => r.quality === 'uncertain_clock');
  assert.ok(marked.some((r) => r.ts > now - YEAR / 2), 'the ten-minute step back was marked too (stamps near now)');
  const ahead = stored.filter((r) => r.ts > now + YEAR / 2 && r.value !== null);
  assert.ok(ahead.length > 0 && ahead.every((r) => r.quality === 'good'), 'a step ahead is a correction: not marked');
  const overflows = (gw.runs.join('\n') + gw.output()).split('\n').filter((l) => l.includes('TimeoutOverflowWarning'));
  assert.deepEqual(overflows.slice(0, 3), [], `no delay above 2^31 ms reached setTimeout (${overflows.length} did)`);
});
