/**
 * The bench machinery produces numbers: each piece runs on a tiny load. Values are never
 * asserted (timings on shared machines prove nothing), only that every figure is measured.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { benchBacklog } from './backlog.ts';
import { startFarm } from './farm.ts';
import { benchIngest } from './ingest.ts';
import { meterReadings } from './meter-data.ts';
import { benchPoll, daemonRun, type DaemonRun } from './poll.ts';
import { sampleProc } from './proc-stats.ts';
import { formatTable } from './report.ts';
import { benchUplink } from './uplink.ts';
import { benchWire } from './wire.ts';
import { compactCodec } from '@kedge/cloud-sync/codec/compact.ts';
import { countMessage, SeqSeen } from './delivery-counter.ts';
import { benchFlow, nodeRedInstall } from './nodered.ts';
import { BENCH_BACKOFF, benchSideBySide, FIRST_DELIVERY_TIMEOUT_MS, kedgeBenchConfig, sideBySideRows } from './side-by-side.ts';
import { parseConfigWithWarnings } from '@kedge/gateway/config/load.ts';
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from '@kedge/gateway/ota/entry.ts';
import { nodeEntry } from '@kedge/testkit/entry.ts';
import { tempDir as testTempDir } from '@kedge/testkit/temp-dirs.ts';

/** Readings each system's side-by-side window must hold: a floor, not a measured figure. */
const MIN_DELIVERIES = 20;

/**
 * The daemon the bench pieces start: under `npm test` the bundle the run built from the current
 * sources (testkit/src/entry.ts), else the sources through tsx; never a dist/ that may be older
 * than them.
 */
const GATEWAY_ENTRY = nodeEntry('gateway/src/main.ts');
const GATEWAY_BUNDLE = GATEWAY_ENTRY.length === 1 ? GATEWAY_ENTRY[0]! : null;
const DAEMON: DaemonRun = GATEWAY_BUNDLE ? { kind: 'dist', args: GATEWAY_ENTRY } : daemonRun('tsx');

/** Removed after the stops of what the test started in it (testkit/src/temp-dirs.ts). */
const tempDir = (t: test.TestContext) => testTempDir(t, 'kedge-bench-test-');

const measured = (x: number | null) => typeof x === 'number' && Number.isFinite(x) && x >= 0;

test('process sampling reads CPU seconds, RSS and peak RSS from /proc', () => {
  const s = sampleProc('self');
  assert.ok(s.cpuSec > 0 && s.rssBytes > 0 && s.hwmBytes >= s.rssBytes);
});

test('meter data: every point of the simulated meters once per poll, sequence numbers from 1', () => {
  const r = meterReadings({ durationMs: 2000, intervalMs: 1000 });
  assert.equal(r.length, 44);
  assert.deepEqual(
    r.map((x) => x.seq),
    Array.from({ length: 44 }, (_, i) => i + 1),
  );
  assert.equal(r[0]!.point, 'water-meter/flow');
});

test('log ingest measures the log and the raw loop on the same rows', (t) => {
  const r = benchIngest(meterReadings({ durationMs: 100_000 }), tempDir(t));
  assert.equal(r.readings, 2200);
  for (const x of [r.logReadingsPerSec, r.rawReadingsPerSec, r.ratio, r.diskBytesPerReading, r.writtenBytesPerReading]) assert.ok(measured(x), String(x));
});

test('uplink measures the kedge uplink and a raw mqtt.js loop to a local mosquitto', async (t) => {
  // More batches than in flight at once: the window refills as acknowledgements come back.
  const rows = meterReadings({ durationMs: 100_000 });
  const r = await benchUplink(rows, tempDir(t), { batchMaxReadings: 250, inflight: 4 });
  assert.equal(r.readings, 2200);
  assert.equal(r.messages, 9);
  assert.ok(measured(r.uplinkReadingsPerSec) && measured(r.rawReadingsPerSec));
});

test('backlog drain reports a run that did not cover 8.64 M readings as extrapolated', async (t) => {
  const r = await benchBacklog(tempDir(t), 5, 30_000, () => {});
  assert.equal(r.readings, 5000);
  assert.equal(r.extrapolated, true);
  assert.ok(measured(r.fullDrainSec) && measured(r.readingsPerSec));
});

test('wire sizes: every codec, plus Sparkplug DDATA by alias', () => {
  const r = benchWire(meterReadings({ durationMs: 60_000 }), 500);
  assert.deepEqual(
    r.map((w) => w.codec),
    ['json', 'compact', 'sparkplug (one payload, names)', 'sparkplug DDATA (aliases)'],
  );
  assert.ok(r.every((w) => measured(w.wireBytesPerReading) && w.wireBytesPerReading > w.payloadBytesPerReading));
});

test('poll: the gateway daemon polls a device farm in another process; tags/s, CPU, RSS and requests per cycle are measured', async (t) => {
  const farm = await startFarm(2, 10);
  t.after(() => farm.stop());
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  // benchPoll's warm-up and window are fixed sleeps: the shortest that still spans several of
  // the farm's 250 ms counter lines (requests per cycle) and poll cycles; the figures are not asserted.
  const r = await benchPoll({ farm, registers: 10, intervalMs: 200, brokerUrl: broker.url, dir: tempDir(t), warmupMs: 500, windowMs: 1000, progress: () => {}, daemon: DAEMON });
  assert.equal(r.daemon, DAEMON.kind);
  assert.equal(r.devices, 2);
  assert.equal(r.nominalTagsPerSec, 100);
  assert.equal(r.minimumRequestsPerCycle, 2);
  assert.equal(r.plannedRequestsPerCycle, 2);
  for (const x of [r.tagsPerSec, r.cpuPercentOfOneCore, r.rssMB, r.requestsPerCycle]) assert.ok(measured(x), String(x));
});

test('the table has one line per row under a header, columns aligned', () => {
  const table = formatTable([
    { metric: 'a', measured: '1', limit: '< 2', baseline: '-', verdict: 'pass' },
    { metric: 'longer metric', measured: '10', limit: '-', baseline: '3', verdict: 'info' },
  ]);
  const lines = table.split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[0]!, /^metric\s+\| measured \| limit\/target \| raw baseline \| verdict$/);
  assert.equal(new Set(lines.map((l) => l.indexOf('|'))).size, 1);
});

test('the delivery counter counts a kedge batch once however often it arrives, and a Node-RED array by its length', () => {
  const seen = new Map<string, SeqSeen>();
  const batch = (first: number, n: number, epoch = 'e1') =>
    compactCodec.encode({
      gateway: 'gw',
      epoch,
      first,
      last: first + n - 1,
      evicted: [],
      readings: Array.from({ length: n }, (_, i) => ({ seq: first + i, ts: 1_700_000_000_000 + i, point: 'd/r0', value: i, quality: 'good' as const })),
    });
  assert.equal(countMessage(batch(1, 100), seen), 100);
  assert.equal(countMessage(batch(1, 100), seen), 0, 'the same batch again (a resend) is not delivery');
  assert.equal(countMessage(batch(51, 100), seen), 50, 'an overlapping batch counts only its new sequences');
  assert.equal(countMessage(batch(1, 10, 'e2'), seen), 10, 'another epoch is another log');
  assert.equal(countMessage(batch(70_000, 1), seen), 1, 'the bitmap grows past its first size');
  assert.equal(countMessage(Buffer.from(JSON.stringify([1, 2, 3])), seen), 3);
  assert.throws(() => countMessage(Buffer.from('not a reading'), seen));
});

test('the Node-RED flow repeats the template per device: own ids, own port, own topic, one broker', () => {
  const flow = benchFlow({ ports: [5020, 5021, 5022], registers: 10, intervalMs: 500, brokerPort: 1999 });
  assert.equal(new Set(flow.map((n) => n.id)).size, flow.length, 'ids are unique');
  const of = (type: string) => flow.filter((n) => n.type === type);
  assert.deepEqual(of('modbus-client').map((n) => n.tcpPort), ['5020', '5021', '5022']);
  assert.deepEqual(of('modbus-read').map((n) => [n.server, n.quantity, n.rate, (n.wires as string[][])[0]![0]]), [
    ['dev-0-client', '10', '500', 'dev-0-out'],
    ['dev-1-client', '10', '500', 'dev-1-out'],
    ['dev-2-client', '10', '500', 'dev-2-out'],
  ]);
  assert.deepEqual(of('mqtt out').map((n) => [n.topic, n.qos, n.broker]), [
    ['bench/nodered/dev-0', '1', 'bench-broker'],
    ['bench/nodered/dev-1', '1', 'bench-broker'],
    ['bench/nodered/dev-2', '1', 'bench-broker'],
  ]);
  assert.deepEqual(of('mqtt-broker').map((n) => n.port), ['1999']);
});

test("the bench's kedge config parses without warnings and gives every device the short backoff, so one first-poll timeout cannot silence a device for the window", () => {
  const config = kedgeBenchConfig({ ports: [5020, 5021], registers: 3, intervalMs: 500, brokerUrl: 'mqtt://127.0.0.1:1883', dataDir: '/tmp/kedge-bench-config' });
  const checked = parseConfigWithWarnings(JSON.stringify(config));
  assert.deepEqual(checked.warnings, []);
  assert.deepEqual(checked.config.devices.map((d) => (d as { backoff: unknown }).backoff), [BENCH_BACKOFF, BENCH_BACKOFF]);
  assert.ok(BENCH_BACKOFF.maxMs < FIRST_DELIVERY_TIMEOUT_MS / 10, 'a backed-off device retries well within the first-delivery wait');
});

test('side by side: kedge and Node-RED poll the same farm; delivery counted by the independent subscriber, CPU, RSS and the heap per point measured', { skip: nodeRedInstall() ? false : 'node-red not installed (npm ci)' }, async (t) => {
  const dir = tempDir(t);
  // The current sources: the run's bundles (their folder holds gateway.mjs and ingest.mjs, as
  // dist/ does) or, run by hand, through tsx; not a dist/ that may be older than them (a
  // before/after comparison of builds sets KEDGE_BENCH_DIST).
  const kedgeDist = process.env.KEDGE_BENCH_DIST ?? (GATEWAY_BUNDLE ? dirname(GATEWAY_BUNDLE) : join(dir, 'no-dist'));
  // Each window opens after the system's first delivery (FIRST_DELIVERY_TIMEOUT_MS bounds that
  // wait) and ends after windowMs and MIN_DELIVERIES readings: a loaded box stretches it, never
  // empties it. No warm-up (the first delivery already proves the system runs) and one RSS
  // sample's window; a 200 ms poll fills the floor within it and shortens the heap probes'
  // spacing (1.2 intervals each). The heap figure is only checked to be measured, so probing
  // soon after the daemon's start does not matter here.
  const plan = { deviceCounts: [2], registers: 10, intervalMs: 200, rounds: 1, warmupMs: 0, windowMs: 1000, minDeliveries: MIN_DELIVERIES, heapDevices: 2, kedgeDist };
  const r = await benchSideBySide(plan, dir, () => {});
  assert.deepEqual(
    r.runs.map((x) => [x.system, x.devices]),
    [
      ['kedge', 2],
      ['node-red', 2],
    ],
  );
  if (!process.env.KEDGE_BENCH_DIST) assert.equal(r.runs[0]!.build, GATEWAY_BUNDLE ? 'dist' : 'tsx', 'kedge ran from the current sources');
  for (const x of r.runs) {
    assert.ok(x.delivered >= MIN_DELIVERIES, `${x.system} delivered ${x.delivered} (>= ${MIN_DELIVERIES}) readings the counter saw (${x.undecodable} messages it could not decode: a dist/ older than the codec sources? npm run build)`);
    assert.equal(x.undecodable, 0, `${x.system}: every message on the data topics decodes`);
    for (const v of [x.cpuSecPer10k, x.rssSteadyMB, x.peakMB, x.deliveredPerSec]) assert.ok(measured(v), `${x.system}: ${v}`);
  }
  assert.ok(r.heap && Number.isFinite(r.heap.bytesPerPoint));
  assert.match(r.configuration.join('\n'), /synchronous: full.*web UI on.*deadband/);
  // The daemon is measured as the production launcher starts it, and the table says so.
  for (const shipped of [...DAEMON_NODE_FLAGS, ...Object.entries(DAEMON_ENV).map(([k, v]) => `${k}=${v}`)]) assert.ok(r.configuration[0]!.includes(shipped), `configuration names ${shipped}`);
  const rows = sideBySideRows(r, plan);
  assert.ok(rows.some((row) => row.metric.includes('CPU s per 10k delivered') && row.baseline.startsWith('Node-RED')));
});
