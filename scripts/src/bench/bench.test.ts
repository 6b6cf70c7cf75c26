/**
 * The bench machinery produces numbers: each piece runs on a tiny load. Values are never
 * asserted (timings on shared machines prove nothing), only that every figure is measured.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { benchBacklog } from './backlog.ts';
import { startFarm } from './farm.ts';
import { benchIngest } from './ingest.ts';
import { meterReadings } from './meter-data.ts';
import { benchPoll } from './poll.ts';
import { sampleProc } from './proc-stats.ts';
import { formatTable } from './report.ts';
import { benchUplink } from './uplink.ts';
import { benchWire } from './wire.ts';

function tempDir(t: test.TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-bench-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

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
  const rows = meterReadings({ durationMs: 200_000 });
  const r = await benchUplink(rows, tempDir(t), { batchMaxReadings: 500, inflight: 4 });
  assert.equal(r.readings, 4400);
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
  const r = await benchPoll({ farm, registers: 10, intervalMs: 200, brokerUrl: broker.url, dir: tempDir(t), warmupMs: 1500, windowMs: 2000, progress: () => {} });
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
