/**
 * The high-rate scenario of the side-by-side bench states delivery against polling (issue 19):
 * polled/s counted at the farm, logged/s, delivered/s counted by the independent subscriber,
 * the verdict delivered >= 99 % of polled, and the backlog at the window's start and end.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { nodeEntry } from '@kedge/testkit/entry.ts';
import { BACKLOG_GROWTH_LIMIT_SEC, DELIVERED_SHARE_OF_POLLED, benchSideBySide, sideBySideRows, type SideBySideResult, type SystemRun } from './side-by-side.ts';
import { tempDir } from '@kedge/testkit/temp-dirs.ts';

const HIGH = { devices: 100, intervalMs: 250 };
/** Readings the high-rate window must hold: a floor that makes "delivered" more than a lucky batch, not a measured figure. */
const MIN_DELIVERIES = 20;
/**
 * Under `npm test` the bundle of the current sources (testkit/src/entry.ts); its folder holds
 * gateway.mjs and ingest.mjs, as dist/ does. Run by hand: null, and the sources through tsx.
 */
const GATEWAY_ENTRY = nodeEntry('gateway/src/main.ts');
const GATEWAY_BUNDLE = GATEWAY_ENTRY.length === 1 ? GATEWAY_ENTRY[0]! : null;
const PLAN = { deviceCounts: [], intervalMs: 1000, registers: 100, highRate: HIGH };

function kedgeRun(o: { polledPerSec: number; deliveredPerSec: number; backlogStart: number; backlogEnd: number }): SystemRun {
  const windowSec = 20;
  return {
    system: 'kedge',
    build: 'dist',
    devices: HIGH.devices,
    intervalMs: HIGH.intervalMs,
    round: 0,
    windowSec,
    nominalPerSec: 40_000,
    delivered: o.deliveredPerSec * windowSec,
    deliveredPerSec: o.deliveredPerSec,
    cpuSec: 5,
    cpuSecPer10k: 0.1,
    usPerReading: 10,
    cpuPercentOfOneCore: 25,
    rssSteadyMB: 100,
    rssMaxMB: 110,
    peakMB: 120,
    logged: o.polledPerSec * windowSec,
    loggedPerSec: o.polledPerSec,
    polled: o.polledPerSec * windowSec,
    polledPerSec: o.polledPerSec,
    backlogStart: o.backlogStart,
    backlogEnd: o.backlogEnd,
    undecodable: 0,
  };
}

function rowsOf(run: SystemRun) {
  const r: SideBySideResult = { configuration: [], runs: [run], heap: null };
  const rows = sideBySideRows(r, PLAN);
  const delivery = rows.find((row) => row.metric.includes('polled/s (farm) | logged/s | delivered/s (independent subscriber)'));
  const backlog = rows.find((row) => row.metric.includes('backlog (logged, not yet delivered)'));
  assert.ok(delivery && backlog, 'both high-rate rows are printed');
  return { delivery, backlog };
}

test('high rate: delivered at the poll rate with a flat backlog passes; the measured figures stand in the row', () => {
  const { delivery, backlog } = rowsOf(kedgeRun({ polledPerSec: 40_000, deliveredPerSec: 39_700, backlogStart: 2000, backlogEnd: 4000 }));
  assert.equal(delivery.verdict, 'pass');
  assert.equal(delivery.measured, '40,000 | 40,000 | 39,700');
  assert.match(delivery.limit, new RegExp(`${DELIVERED_SHARE_OF_POLLED * 100} % of polled`));
  assert.equal(backlog.verdict, 'pass');
  assert.equal(backlog.measured, '2,000 -> 4,000');
});

test('high rate: delivery capped below the poll rate fails, and so does a backlog that grows', () => {
  // The figures of the issue: 40,000 polled, 27,781 delivered; the rest piles up in the log.
  const { delivery, backlog } = rowsOf(kedgeRun({ polledPerSec: 40_000, deliveredPerSec: 27_781, backlogStart: 10_000, backlogEnd: 10_000 + 20 * 12_219 }));
  assert.equal(delivery.verdict, 'FAIL');
  assert.equal(backlog.verdict, 'FAIL');
  const edge = rowsOf(kedgeRun({ polledPerSec: 40_000, deliveredPerSec: 39_500, backlogStart: 0, backlogEnd: BACKLOG_GROWTH_LIMIT_SEC * 40_000 + 1 }));
  assert.equal(edge.delivery.verdict, 'FAIL', '98.75 % of polled is below 99 %');
  assert.equal(edge.backlog.verdict, 'FAIL', 'one reading more than the growth limit');
});

test('the high-rate run measures polled at the farm, logged, delivered and the backlog of a running daemon', async (t) => {
  const dir = tempDir(t, 'kedge-sbs-delivery-');
  // The current sources: the run's bundles or, run by hand, through tsx (as bench.test.ts does);
  // a named build when KEDGE_BENCH_DIST says so.
  const kedgeDist = process.env.KEDGE_BENCH_DIST ?? (GATEWAY_BUNDLE ? dirname(GATEWAY_BUNDLE) : join(dir, 'no-dist'));
  // The window opens at the first delivery (no warm-up: that delivery proves the daemon runs) and
  // ends after one RSS sample's second and MIN_DELIVERIES readings: a loaded box stretches it.
  const plan = { deviceCounts: [], registers: 10, intervalMs: 1000, rounds: 1, warmupMs: 0, windowMs: 1000, minDeliveries: MIN_DELIVERIES, highRate: { devices: 2, intervalMs: 250 }, skipNodeRed: true, kedgeDist };
  const r = await benchSideBySide(plan, dir, () => {});
  assert.equal(r.runs.length, 1);
  const k = r.runs[0]!;
  if (!process.env.KEDGE_BENCH_DIST) assert.equal(k.build, GATEWAY_BUNDLE ? 'dist' : 'tsx', 'kedge ran from the current sources');
  assert.equal(k.undecodable, 0);
  assert.ok(k.polled !== undefined && k.polled > 0, `the farm counted the registers it served (${k.polled})`);
  assert.ok(k.logged !== undefined && k.logged > 0);
  assert.ok(k.delivered >= MIN_DELIVERIES, `delivered ${k.delivered} (>= ${MIN_DELIVERIES}) readings the counter saw`);
  assert.ok(k.backlogStart !== undefined && k.backlogEnd !== undefined);
  // The counter's line is read before the log's sequence: what it saw was logged already.
  assert.ok(k.backlogEnd >= 0, `backlog at the end ${k.backlogEnd}`);
  const rows = sideBySideRows(r, plan);
  assert.ok(rows.some((row) => row.metric.includes('polled/s (farm)') && row.measured.includes('|')));
});
