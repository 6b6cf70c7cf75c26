/**
 * `npm run bench [-- --quick] [-- --out file.json]`: kedge's numbers on this machine, each next
 * to its limit measured in the same run. Prints ONE table and writes the results as JSON.
 * What each figure means and how it is measured: README.md beside this file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { usageExit } from '../cli-args.ts';
import { benchBacklog, BACKLOG_READINGS, BACKLOG_STEPS } from './backlog.ts';
import { startFarm } from './farm.ts';
import { benchIngest } from './ingest.ts';
import { meterReadings } from './meter-data.ts';
import { benchPoll, runtimeFloorMB, type PollBenchResult } from './poll.ts';
import { fmt, formatTable, verdict, type Row } from './report.ts';
import { nodeRedInstall } from './nodered.ts';
import { benchSideBySide, sideBySidePlan, sideBySideRows, type SideBySidePlan } from './side-by-side.ts';
import { benchReconnect, benchSlowLink, SLOW_LINK, SLOW_LINK_STEPS } from './slow-link.ts';
import { benchUplink, UPLINK_DEFAULTS } from './uplink.ts';
import { benchWire, benchWireSizes } from './wire.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const TARGETS = {
  tagsPerSec: 20_000,
  cpuPercent: 50,
  rssMB: 80,
  ingestRatio: 0.8,
  uplinkReadingsPerSec: 100_000,
  compactBytesPerReading: 8,
} as const;

export interface BenchPlan {
  quick: boolean;
  devices: number;
  registers: number;
  pollIntervals: number[];
  warmupMs: number;
  windowMs: number;
  ingestReadings: number;
  uplinkReadings: number;
  backlogSteps: number;
  backlogBudgetMs: number;
  /** Slow link (issue 19): polls of 1,000 points in the backlog, and the time allowed per run. */
  slowLinkSteps?: number;
  slowLinkBudgetMs?: number;
  /** kedge beside Node-RED (issue 20): delivery, CPU per reading, RSS; absent = skipped. */
  sideBySide?: SideBySidePlan;
}

export function plan(quick: boolean): BenchPlan {
  return quick
    ? { quick, devices: 100, registers: 100, pollIntervals: [500], warmupMs: 3000, windowMs: 6000, ingestReadings: 50_000, uplinkReadings: 50_000, backlogSteps: 173, backlogBudgetMs: 20_000, slowLinkSteps: 100, slowLinkBudgetMs: 60_000 }
    : { quick, devices: 100, registers: 100, pollIntervals: [1000, 500, 250], warmupMs: 5000, windowMs: 20_000, ingestReadings: 500_000, uplinkReadings: 500_000, backlogSteps: BACKLOG_STEPS, backlogBudgetMs: 300_000, slowLinkSteps: SLOW_LINK_STEPS, slowLinkBudgetMs: 400_000 };
}

const t0 = Date.now();
function progress(msg: string): void {
  process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`);
}

/** Meter readings of the simulated meters, as many as asked (22 per simulated second). */
function readingsOf(n: number) {
  const r = meterReadings({ durationMs: Math.ceil(n / 22) * 1000 + 1000 });
  return r.slice(0, n);
}

export async function runBench(p: BenchPlan, dir: string) {
  const results: Record<string, unknown> = {};
  const rows: Row[] = [];

  if (p.sideBySide) {
    // The headline: readings DELIVERED to the broker (an independent subscriber counts them), beside Node-RED.
    const sbs = await benchSideBySide(p.sideBySide, dir, progress);
    results.sideBySide = sbs;
    rows.push(...sideBySideRows(sbs, p.sideBySide));
    progress(`side by side, measured configuration:\n${sbs.configuration.map((c) => `         - ${c}`).join('\n')}`);
  }

  progress(`poll throughput: starting ${p.devices} simulated Modbus TCP devices (one port each) in a separate process`);
  const farm = await startFarm(p.devices, p.registers);
  const broker = await startMosquitto();
  const polls: PollBenchResult[] = [];
  try {
    for (const intervalMs of p.pollIntervals) {
      const runDir = join(dir, `poll-${intervalMs}`);
      const r = await benchPoll({ farm, registers: p.registers, intervalMs, brokerUrl: broker.url, dir: runDir, warmupMs: p.warmupMs, windowMs: p.windowMs, progress });
      polls.push(r);
      progress(`  ${fmt.int(r.tagsPerSec)} tags/s, CPU ${fmt.dec(r.cpuPercentOfOneCore)} %, RSS ${fmt.dec(r.rssMB)} MB`);
      // Which daemon ran: the production bundle (dist/, `npm run build`) or TypeScript through tsx.
      const at = `poll ${p.devices}x${p.registers} @${intervalMs} ms (${r.daemon})`;
      rows.push(
        {
          metric: `${at}: tags/s logged`,
          measured: fmt.int(r.tagsPerSec),
          limit: `>= 98 % of nominal`,
          baseline: `nominal ${fmt.int(r.nominalTagsPerSec)}`,
          verdict: verdict(r.tagsPerSec >= 0.98 * r.nominalTagsPerSec),
        },
        { metric: `${at}: gateway CPU (% of one core)`, measured: fmt.dec(r.cpuPercentOfOneCore), limit: `< ${TARGETS.cpuPercent}`, baseline: '-', verdict: verdict(r.cpuPercentOfOneCore < TARGETS.cpuPercent) },
        { metric: `${at}: gateway RSS MB (peak)`, measured: `${fmt.dec(r.rssMB)} (${fmt.dec(r.peakRssMB)})`, limit: `< ${TARGETS.rssMB}`, baseline: '-', verdict: verdict(r.peakRssMB < TARGETS.rssMB) },
        {
          metric: `${at}: Modbus requests per cycle`,
          measured: fmt.dec(r.requestsPerCycle),
          limit: `planned ${r.plannedRequestsPerCycle}`,
          baseline: `minimum ${r.minimumRequestsPerCycle}`,
          verdict: verdict(r.plannedRequestsPerCycle === r.minimumRequestsPerCycle && Math.abs(r.requestsPerCycle - r.plannedRequestsPerCycle) <= 0.03 * r.plannedRequestsPerCycle),
        },
      );
    }
  } finally {
    await broker.stop();
    await farm.stop();
  }
  results.poll = polls;
  const withinCpu = polls.filter((r) => r.cpuPercentOfOneCore < TARGETS.cpuPercent).sort((a, b) => b.tagsPerSec - a.tagsPerSec)[0];
  rows.push({
    metric: `poll target: tags/s at < ${TARGETS.cpuPercent} % of one core (best interval)`,
    measured: withinCpu ? `${fmt.int(withinCpu.tagsPerSec)} @${withinCpu.intervalMs} ms, ${fmt.dec(withinCpu.cpuPercentOfOneCore)} %` : 'none under the CPU limit',
    limit: `>= ${fmt.int(TARGETS.tagsPerSec)}`,
    baseline: '-',
    verdict: verdict((withinCpu?.tagsPerSec ?? 0) >= TARGETS.tagsPerSec),
  });
  const floor = await runtimeFloorMB();
  const nodeFloor = await runtimeFloorMB(false);
  results.runtimeFloorMB = floor;
  results.nodeFloorMB = nodeFloor;
  const best = polls.filter((r) => r.daemon === 'dist').sort((a, b) => a.peakRssMB - b.peakRssMB)[0];
  rows.push(
    {
      metric: `bundled daemon RSS MB (dist/gateway.mjs, ${p.devices} devices, lowest peak)`,
      measured: best ? `${fmt.dec(best.rssMB)} (${fmt.dec(best.peakRssMB)}) @${best.intervalMs} ms` : 'not built: npm run build',
      limit: `< ${TARGETS.rssMB}`,
      baseline: `node alone ${fmt.dec(nodeFloor)}`,
      verdict: best ? verdict(best.peakRssMB < TARGETS.rssMB) : 'FAIL',
    },
    { metric: 'RSS floor: node + tsx, no kedge code loaded', measured: fmt.dec(floor), limit: '-', baseline: `node alone ${fmt.dec(nodeFloor)}`, verdict: 'info' },
  );

  progress(`log ingest: ${fmt.int(p.ingestReadings)} readings through ReadingLog vs a raw better-sqlite3 loop`);
  const ingest = benchIngest(readingsOf(p.ingestReadings), dir);
  results.ingest = ingest;
  rows.push(
    {
      metric: `log ingest readings/s (synchronous ${ingest.synchronous}, ${ingest.flushRows}/commit)`,
      measured: fmt.int(ingest.logReadingsPerSec),
      limit: `>= ${TARGETS.ingestRatio}x raw (${fmt.dec(ingest.ratio, 2)}x)`,
      baseline: fmt.int(ingest.rawReadingsPerSec),
      verdict: verdict(ingest.ratio >= TARGETS.ingestRatio),
    },
    { metric: 'disk bytes/reading (db file after close)', measured: fmt.dec(ingest.diskBytesPerReading), limit: '-', baseline: '-', verdict: 'info' },
    {
      metric: 'disk bytes written/reading (write_bytes: WAL + checkpoint)',
      measured: ingest.writtenBytesPerReading === null ? 'n/a' : fmt.dec(ingest.writtenBytesPerReading),
      limit: '-',
      baseline: '-',
      verdict: 'info',
    },
  );

  progress(`uplink: ${fmt.int(p.uplinkReadings)} readings from a pre-filled log to mosquitto, QoS 1 (batch ${UPLINK_DEFAULTS.batchMaxReadings}, ${UPLINK_DEFAULTS.inflight} in flight)`);
  const uplink = await benchUplink(readingsOf(p.uplinkReadings), dir);
  results.uplink = uplink;
  progress(`  ${fmt.int(uplink.uplinkReadingsPerSec)} readings/s (raw mqtt.js ${fmt.int(uplink.rawReadingsPerSec)})`);
  rows.push({
    metric: `uplink readings/s (compact, QoS 1, cursor on PUBACK)`,
    measured: fmt.int(uplink.uplinkReadingsPerSec),
    limit: `>= ${fmt.int(TARGETS.uplinkReadingsPerSec)}`,
    baseline: fmt.int(uplink.rawReadingsPerSec),
    verdict: verdict(uplink.uplinkReadingsPerSec >= TARGETS.uplinkReadingsPerSec),
  });

  progress(`backlog drain: ${fmt.int(p.backlogSteps * 1000)} readings (1,000 points x ${p.backlogSteps} steps at 10 s) then the broker comes back`);
  const backlog = await benchBacklog(dir, p.backlogSteps, p.backlogBudgetMs, progress);
  results.backlog = backlog;
  rows.push({
    metric: `backlog drain 24 h x 1,000 points (${fmt.int(BACKLOG_READINGS)} readings)`,
    measured: `${fmt.dec(backlog.fullDrainSec)} s${backlog.extrapolated ? ` EXTRAPOLATED from ${fmt.int(backlog.readings)} (${fmt.dec(backlog.fraction * 100, 1)} %)` : ''}`,
    limit: '-',
    baseline: `${fmt.int(backlog.readingsPerSec)} readings/s`,
    verdict: 'info',
  });

  if (p.slowLinkSteps) {
    const n = p.slowLinkSteps * 1000;
    progress(`slow link: ${fmt.int(n)} readings of backlog, broker back behind ${SLOW_LINK.bytesPerSec / 1000} KB/s + ${SLOW_LINK.latencyMs} ms; live-first on, then off`);
    const slow = await benchSlowLink(dir, p.slowLinkSteps, p.slowLinkBudgetMs ?? 400_000, progress);
    results.slowLink = slow;
    const sec = (s: number | null) => (s === null ? 'never' : `${fmt.dec(s, 2)} s`);
    const label = `${fmt.int(n)} backlog, ${SLOW_LINK.bytesPerSec / 1000} KB/s, ${SLOW_LINK.latencyMs} ms`;
    rows.push({
      metric: `slow link: reconnect -> newest values at the center (${label})`,
      measured: sec(slow.on.firstNewestSec),
      limit: '< 5 s',
      baseline: `off: ${sec(slow.off.firstNewestSec)}`,
      verdict: verdict(slow.on.firstNewestSec !== null && slow.on.firstNewestSec < 5),
    });
    rows.push({
      metric: 'slow link: reconnect -> first freshly polled reading at the center',
      measured: sec(slow.on.firstPolledSec),
      limit: '< 5 s',
      baseline: `off: ${sec(slow.off.firstPolledSec)}`,
      verdict: verdict(slow.on.firstPolledSec !== null && slow.on.firstPolledSec < 5),
    });
    rows.push({
      metric: `slow link: backlog drain, live-first on (off beside)${slow.on.complete && slow.off.complete ? '' : ' NOT COMPLETE in the budget'}`,
      measured: `${fmt.dec(slow.on.drainSec)} s`,
      limit: '<= 1.10 x off',
      baseline: `${fmt.dec(slow.off.drainSec)} s`,
      verdict: verdict(slow.on.complete && slow.off.complete && slow.drainRatio <= 1.1),
    });
    const outages = p.quick ? 3 : 12;
    progress(`reconnect: ${outages} broker outages of 2-12 s, shipped backoff`);
    const rc = await benchReconnect(outages, { min: 2000, max: 12_000 }, progress);
    results.reconnect = rc;
    rows.push({
      metric: `reconnect after the broker is back, p95 of ${rc.runs} outages`,
      measured: `${fmt.dec(rc.p95Sec, 2)} s`,
      limit: '<= 10 s',
      baseline: `max ${fmt.dec(rc.maxSec, 2)} s`,
      verdict: verdict(rc.p95Sec <= 10),
    });
    rows.push({
      metric: 'slow link: extra bytes of live-first (the newest-per-point snapshot)',
      measured: `${fmt.int(slow.on.extraBytes)} B`,
      limit: '-',
      baseline: `${fmt.dec((slow.on.extraBytes / slow.off.bytesUp) * 100, 2)} % of ${fmt.int(slow.off.bytesUp)} B`,
      verdict: 'info',
    });
  }

  progress(`bytes per reading: one hour of the simulated meters at 1 s, batches of ${UPLINK_DEFAULTS.batchMaxReadings} (the default)`);
  const wire = benchWire(meterReadings({ durationMs: 3_600_000, intervalMs: 1000 }), UPLINK_DEFAULTS.batchMaxReadings);
  results.wire = wire;
  for (const w of wire) {
    const compact = w.codec === 'compact';
    rows.push({
      metric: `wire bytes/reading: ${w.codec} (payload ${fmt.dec(w.payloadBytesPerReading, 2)})`,
      measured: fmt.dec(w.wireBytesPerReading, 2),
      limit: compact ? `<= ${TARGETS.compactBytesPerReading}` : '-',
      baseline: '-',
      verdict: compact ? verdict(w.wireBytesPerReading <= TARGETS.compactBytesPerReading) : 'info',
    });
  }

  progress('payload bytes per reading at 22, 2,000 and 10,000 points per poll: compact v3 / v2, json, Node-RED bare arrays');
  const sizes = benchWireSizes();
  results.wireSizes = sizes;
  for (const s of sizes) {
    // Issue 19: <= 3 B on the meters, <= 5 B on random 16-bit registers, at every batch size.
    const limit = s.scenario.includes('random') ? 5 : 3;
    rows.push({
      metric: `payload B/reading, ${s.scenario}: compact (v2 ${fmt.dec(s.compactV2, 2)}, json ${fmt.dec(s.json, 1)})`,
      measured: fmt.dec(s.compact, 2),
      limit: `<= ${limit}`,
      baseline: `Node-RED arrays ${fmt.dec(s.noderedArrays, 2)}`,
      verdict: verdict(s.compact <= limit),
    });
  }
  return { results, rows };
}

async function main(): Promise<void> {
  const program = usageExit(
    new Command('bench')
      .description('the performance figures of the README (poll, uplink, ingest, wire, backlog)')
      .option('--quick', 'a short run (CI)', false)
      .option('--out <file>', 'where the JSON results go')
      .option('--side-by-side', 'the full kedge / Node-RED comparison: 1, 20, 100 devices, 3 rounds, 40,000 tags/s (about 12 minutes more)', false)
      .option('--no-node-red', 'measure kedge alone in the side-by-side section')
      .option('--no-compare', 'skip the side-by-side section'),
  );
  program.parse();
  const values = program.opts<{ quick: boolean; out?: string; sideBySide: boolean; nodeRed: boolean; compare: boolean }>();
  const p = plan(values.quick ?? false);
  // Without the devDependencies (npm ci --omit=dev) the comparison runs kedge alone and says so in its configuration.
  if (values.compare) p.sideBySide = sideBySidePlan(values.sideBySide ? 'full' : values.quick ? 'quick' : 'default', !values.nodeRed || nodeRedInstall() === null);
  const out = resolve(values.out ?? join(ROOT, values.quick ? 'bench-results-quick.json' : 'bench-results.json'));
  const cpus = os.cpus();
  progress(`kedge bench${p.quick ? ' --quick' : ''}: ${cpus.length} x ${cpus[0]?.model ?? 'cpu'}, node ${process.version}`);
  const loadAtStart = os.loadavg();
  progress(`load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')} (figures are pessimistic when it exceeds ${cpus.length})`);
  const dir = mkdtempSync(join(os.tmpdir(), 'kedge-bench-'));
  try {
    const { results, rows } = await runBench(p, dir);
    process.stdout.write(`\n${formatTable(rows)}\n\n`);
    const json = {
      at: new Date().toISOString(),
      machine: { cpus: cpus.length, model: cpus[0]?.model, node: process.version, platform: `${os.platform()} ${os.release()}` },
      // The cores are shared: a load average above the core count means every figure is pessimistic.
      loadAverage: { atStart: loadAtStart, atEnd: os.loadavg() },
      plan: p,
      targets: TARGETS,
      results,
      table: rows,
    };
    writeFileSync(out, JSON.stringify(json, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2));
    process.stdout.write(`load average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\nresults written to ${out}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
