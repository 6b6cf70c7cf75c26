/**
 * kedge beside Node-RED on the same Modbus work (issue 20). Per device count: one device farm
 * (its own process), one mosquitto, one independent delivery counter (its own process and MQTT
 * connection, delivery-counter.ts); then, alternating which goes first in each round, kedge's
 * production daemon and a Node-RED flow poll the farm and publish everything to that broker.
 * Over a steady window: readings DELIVERED (what the counter saw arrive), the process's
 * utime+stime, RSS sampled every second (steady = median, max) and VmHWM (peak since start).
 *
 * kedge runs as shipped: `dist/gateway.mjs` (npm run build), SQLite log `synchronous: full`,
 * compact codec, QoS 1, center ack mode with the center's ingest (`dist/ingest.mjs`, its own
 * process, not counted) confirming, web UI on, a deadband on every point. Node-RED runs
 * nodered/flow-template.json per device (modbus-read of all registers -> mqtt out QoS 1) with
 * its editor on; it has no durable buffer.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMosquitto, type MosquittoHandle } from '@kedge/testkit/mosquitto.ts';
import { startProcess, type ManagedProcess } from '@kedge/testkit/proc.ts';
import { tsEntry } from '@kedge/testkit/entry.ts';
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from '@kedge/gateway/ota/entry.ts';
import { sleep, waitFor } from '@kedge/testkit/wait.ts';
import { startFarm, type Farm } from './farm.ts';
import { benchFlow, nodeRedInstall, startNodeRed } from './nodered.ts';
import { sampleProc, type ProcSample } from './proc-stats.ts';
import { fmt, formatTable, verdict, type Row } from './report.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const COUNTER = fileURLToPath(new URL('./delivery-counter.ts', import.meta.url));
const HEAP_PROBE = fileURLToPath(new URL('./heap-probe.mjs', import.meta.url));
const KEDGE_TOPIC = 'kedge/v1/+/+/+/data';
const NODE_RED_TOPIC = 'bench/nodered/#';
/** The deadband configured on every kedge point: on, and evaluated for every reading; the farm's registers move by ~140 counts a second, so every poll passes it. */
export const BENCH_DEADBAND = 1;
/**
 * A short reconnect backoff on every bench device: with the default (up to a minute) one
 * first-poll timeout on a loaded box silences a device for the whole window.
 */
export const BENCH_BACKOFF = { minMs: 200, maxMs: 1000 };
/**
 * How long a system may take from its start to the first reading the independent counter sees
 * (and, with `minDeliveries`, how far the window may stretch past `windowMs`): generous, for a
 * loaded 2-core box; it bounds a wait for an event, it is not a measured time.
 */
export const FIRST_DELIVERY_TIMEOUT_MS = 60_000;
/** The release entry's V8 flags (gateway/src/ota/entry.ts): the daemon is measured as the launcher starts it. */
export const RELEASE_NODE_FLAGS: readonly string[] = DAEMON_NODE_FLAGS;
/** The production units' environment (DAEMON_ENV: MALLOC_ARENA_MAX), overridable from the bench's own environment for experiments. */
export const KEDGE_DAEMON_ENV: Readonly<Record<string, string>> = {
  ...DAEMON_ENV,
  ...Object.fromEntries(Object.entries(process.env).filter(([k, v]) => v !== undefined && (k.startsWith('MALLOC_') || k === 'UV_THREADPOOL_SIZE')) as Array<[string, string]>),
};
/** More node flags for kedge's daemon (profiling, V8 experiments): KEDGE_BENCH_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/p'. Printed with the configuration. */
export const EXTRA_FLAGS = (process.env.KEDGE_BENCH_FLAGS ?? '').split(' ').filter(Boolean);

export type System = 'kedge' | 'node-red';

export interface SideBySidePlan {
  deviceCounts: number[];
  registers: number;
  intervalMs: number;
  rounds: number;
  warmupMs: number;
  windowMs: number;
  /**
   * The window ends at `windowMs` and once the counter saw at least this many readings in it
   * (stretching by at most FIRST_DELIVERY_TIMEOUT_MS): a test's floor on a loaded box. Rates
   * are over the window's real length either way.
   */
  minDeliveries?: number;
  /** Also run kedge alone at `highRate.devices` devices every `highRate.intervalMs` (the 40,000 tags/s goal). */
  highRate?: { devices: number; intervalMs: number };
  /** Measure the live heap at 1 and `heapDevices` devices (heap after GC, per point). */
  heapDevices?: number;
  /** Folder holding gateway.mjs and ingest.mjs; default dist/ of the repository. */
  kedgeDist?: string;
  /** Leave Node-RED out (not installed, or kedge alone). */
  skipNodeRed?: boolean;
}

export interface SystemRun {
  system: System;
  /** How the system ran: 'dist' / 'tsx' for kedge, Node-RED's version. */
  build: string;
  devices: number;
  intervalMs: number;
  round: number;
  windowSec: number;
  nominalPerSec: number;
  delivered: number;
  deliveredPerSec: number;
  cpuSec: number;
  cpuSecPer10k: number;
  usPerReading: number;
  cpuPercentOfOneCore: number;
  rssSteadyMB: number;
  rssMaxMB: number;
  peakMB: number;
  /** kedge: readings committed to the log in the window (not the headline: delivery is). */
  logged?: number;
  /** Registers the farm served in the window: the readings polled, counted at the devices. */
  polled?: number;
  polledPerSec?: number;
  loggedPerSec?: number;
  /**
   * kedge: readings logged and not yet seen by the counter (lastSeq - delivered since the
   * daemon started), at the window's start and end. Delivery keeps up when it does not grow.
   */
  backlogStart?: number;
  backlogEnd?: number;
  /** Messages on the data topics the counter could not decode in the window (a dist/ older than the codec sources shows here). */
  undecodable: number;
}

export interface HeapPerPoint {
  points: [number, number];
  heapAfterGcMB: [number, number];
  bytesPerPoint: number;
}

export interface SideBySideResult {
  configuration: string[];
  runs: SystemRun[];
  heap: HeapPerPoint | null;
}

interface Counter {
  proc: ManagedProcess;
  /** Latest count line: readings delivered so far, with the counter's clock. */
  read(): { readings: number; at: number; undecodable: number };
}

async function startCounter(broker: MosquittoHandle): Promise<Counter> {
  const proc = await startProcess(process.execPath, [...tsEntry(COUNTER), '--url', broker.url, '--topic', KEDGE_TOPIC, '--topic', NODE_RED_TOPIC], {
    name: 'delivery-counter',
    readyLine: /COUNTER READY/,
    timeoutMs: 60_000,
  });
  return {
    proc,
    read() {
      const out = proc.output();
      const i = out.lastIndexOf('count ');
      const m = /^count (\d+) \d+ (\d+) (\d+)/.exec(out.slice(i));
      return { readings: Number(m?.[1] ?? 0), at: Number(m?.[2] ?? Date.now()), undecodable: Number(m?.[3] ?? 0) };
    },
  };
}

/**
 * Waits until the counter sees a reading it had not seen when this was called (and, for kedge,
 * the log holds one): the system polls, logs and delivers. A system that never does fails here,
 * naming it, instead of reporting "delivered 0" for a window that opened too early.
 */
async function firstDelivery(system: System, running: Running, counter: Counter): Promise<void> {
  const base = (await freshCount(counter)).readings;
  await waitFor(() => counter.read().readings > base && (running.logged === undefined || running.logged() > 0), {
    what: `${system}'s first delivery`,
    timeoutMs: FIRST_DELIVERY_TIMEOUT_MS,
    intervalMs: 250,
  }).catch((err: Error) => {
    throw new Error(`${system}: no first delivery in ${FIRST_DELIVERY_TIMEOUT_MS / 1000} s (${err.message})`);
  });
}

/** A fresh count line, printed after now (the counter prints every 250 ms). */
async function freshCount(c: Counter): Promise<{ readings: number; at: number; undecodable: number }> {
  const now = Date.now();
  let r = c.read();
  await waitFor(() => (r = c.read()).at > now, { what: 'a fresh line of the delivery counter', timeoutMs: 10_000 });
  return r;
}

function kedgeBuild(distDir: string): { kind: 'dist' | 'tsx'; gateway: string[]; ingest: string[] } {
  const gw = join(distDir, 'gateway.mjs');
  const ingest = join(distDir, 'ingest.mjs');
  if (existsSync(gw) && existsSync(ingest)) return { kind: 'dist', gateway: [gw], ingest: [ingest] };
  return {
    kind: 'tsx',
    gateway: ['--import', 'tsx', join(ROOT, 'gateway/src/main.ts')],
    ingest: ['--import', 'tsx', join(ROOT, 'cloud-sync/src/ingest/main.ts')],
  };
}

export function kedgeBenchConfig(o: { ports: number[]; registers: number; intervalMs: number; brokerUrl: string; dataDir: string }) {
  return {
    gateway: { id: 'bench-gw', region: 'kuzbass', municipality: 'kemerovo' },
    dataDir: o.dataDir,
    // Defaults kept on purpose: synchronous full, ackMode center, batch size and window.
    // The current form (a list), not the deprecated single `uplink:`: a config without warnings,
    // as a box is provisioned (a warning's line and column need the YAML document: json-config.ts).
    uplinks: [{ name: 'uplink', kind: 'mqtt', url: o.brokerUrl, codec: 'compact' }],
    web: { enabled: true, host: '127.0.0.1', port: 0 },
    devices: o.ports.map((port, i) => ({
      id: `dev-${i}`,
      driver: 'modbus-tcp',
      host: '127.0.0.1',
      port,
      unitId: 1,
      intervalMs: o.intervalMs,
      timeoutMs: 1000,
      backoff: BENCH_BACKOFF,
      points: Array.from({ length: o.registers }, (_, r) => ({ id: `r${r}`, table: 'holding', address: r, type: 'uint16', deadband: BENCH_DEADBAND })),
    })),
  };
}

interface Running {
  pid: number;
  build: string;
  /** Readings committed to kedge's log so far (kedge only). */
  logged?: () => number;
  stop(): Promise<void>;
}

export async function startKedge(ports: number[], plan: { registers: number; intervalMs: number }, broker: MosquittoHandle, dir: string, distDir: string, extraFlags: string[] = []): Promise<Running & { proc: ManagedProcess }> {
  mkdirSync(dir, { recursive: true });
  const build = kedgeBuild(distDir);
  const center = await startProcess(process.execPath, [...build.ingest, '--url', broker.url, '--db', join(dir, 'center.db'), '--report-every', '0', '--client-id', `bench-center-${Date.now()}`], {
    name: 'center-ingest',
    readyLine: /ingest subscribed/,
    timeoutMs: 60_000,
  });
  const configPath = join(dir, 'gateway.json');
  writeFileSync(configPath, JSON.stringify(kedgeBenchConfig({ ports, registers: plan.registers, intervalMs: plan.intervalMs, brokerUrl: broker.url, dataDir: join(dir, 'data') })));
  let gw: ManagedProcess;
  try {
    gw = await startProcess(process.execPath, [...RELEASE_NODE_FLAGS, ...EXTRA_FLAGS, ...extraFlags, ...build.gateway, '--config', configPath, '--log-level', 'info'], {
      name: 'kedge',
      env: { ...process.env, ...KEDGE_DAEMON_ENV },
      readyLine: /gateway started/,
      timeoutMs: 60_000,
    });
  } catch (err) {
    await center.stop();
    throw err;
  }
  const Database = (await import('better-sqlite3')).default;
  let db: InstanceType<typeof Database> | null = null;
  const logged = () => {
    db ??= new Database(join(dir, 'data', 'log.db'), { readonly: true, fileMustExist: true });
    return (db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'readings'").pluck().get() as number | undefined) ?? 0;
  };
  return {
    proc: gw,
    pid: gw.pid,
    build: build.kind,
    logged,
    async stop() {
      db?.close();
      await gw.stop();
      await center.stop();
    },
  };
}

const mb = (bytes: number) => bytes / 2 ** 20;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function measure(
  system: System,
  running: Running,
  counter: Counter,
  o: { devices: number; registers: number; intervalMs: number; round: number; warmupMs: number; windowMs: number; minDeliveries?: number; farm?: Farm; counterBase?: number },
): Promise<SystemRun> {
  await firstDelivery(system, running, counter);
  // The warm-up and the window start once the system delivers: a slow start on a loaded box
  // delays the window instead of emptying it. The window itself stays a time for the rates.
  await sleep(o.warmupMs);
  const c0 = await freshCount(counter);
  const f0 = o.farm?.requests();
  const s0 = sampleProc(running.pid);
  const l0 = running.logged?.();
  const rss: number[] = [];
  let last: ProcSample = s0;
  const minDeliveries = o.minDeliveries ?? 0;
  const windowDone = () => last.at - s0.at >= o.windowMs && (counter.read().readings - c0.readings >= minDeliveries || last.at - s0.at >= o.windowMs + FIRST_DELIVERY_TIMEOUT_MS);
  while (!windowDone()) {
    await sleep(1000);
    last = sampleProc(running.pid);
    rss.push(last.rssBytes);
  }
  const c1 = await freshCount(counter);
  const f1 = o.farm?.requests();
  const s1 = sampleProc(running.pid);
  const l1 = running.logged?.();
  const polled = f0 && f1 ? f1.registers - f0.registers : undefined;
  const farmSec = f0 && f1 ? (f1.at - f0.at) / 1000 : 0;
  // Delivered since the daemon started: the counter's count less what it had counted before.
  const backlog = (logged: number | undefined, c: { readings: number }) => (logged !== undefined && o.counterBase !== undefined ? logged - (c.readings - o.counterBase) : undefined);
  const backlogStart = backlog(l0, c0);
  const backlogEnd = backlog(l1, c1);
  const windowSec = (c1.at - c0.at) / 1000;
  const delivered = c1.readings - c0.readings;
  const cpuSec = s1.cpuSec - s0.cpuSec;
  return {
    system,
    build: running.build,
    devices: o.devices,
    intervalMs: o.intervalMs,
    round: o.round,
    windowSec,
    nominalPerSec: (o.devices * o.registers * 1000) / o.intervalMs,
    delivered,
    undecodable: c1.undecodable - c0.undecodable,
    deliveredPerSec: delivered / windowSec,
    cpuSec,
    cpuSecPer10k: delivered > 0 ? (cpuSec / delivered) * 10_000 : Number.POSITIVE_INFINITY,
    usPerReading: delivered > 0 ? (cpuSec / delivered) * 1e6 : Number.POSITIVE_INFINITY,
    cpuPercentOfOneCore: (cpuSec / ((s1.at - s0.at) / 1000)) * 100,
    rssSteadyMB: mb(median(rss)),
    rssMaxMB: mb(Math.max(...rss)),
    peakMB: mb(s1.hwmBytes),
    ...(l0 !== undefined && l1 !== undefined ? { logged: l1 - l0, loggedPerSec: (l1 - l0) / windowSec } : {}),
    ...(polled !== undefined && farmSec > 0 ? { polled, polledPerSec: polled / farmSec } : {}),
    ...(backlogStart !== undefined && backlogEnd !== undefined ? { backlogStart, backlogEnd } : {}),
  };
}

/**
 * The high-rate verdicts (issue 19): delivered >= this share of polled, and the backlog (logged,
 * not yet at the counter) growing by at most this many seconds of polling over the window (the
 * counter's line is up to 250 ms old, a poll cycle and the in-flight window are on their way).
 */
export const DELIVERED_SHARE_OF_POLLED = 0.99;
export const BACKLOG_GROWTH_LIMIT_SEC = 1;

/** polled/s, logged/s, delivered/s and the backlog, as the progress line and the rows say them. */
function deliveryLine(r: SystemRun): string {
  const parts = [`polled ${r.polledPerSec !== undefined ? Math.round(r.polledPerSec) : '?'}/s`];
  if (r.loggedPerSec !== undefined) parts.push(`logged ${Math.round(r.loggedPerSec)}/s`);
  parts.push(`delivered ${Math.round(r.deliveredPerSec)}/s (independent subscriber)`);
  if (r.polledPerSec) parts.push(`${((100 * r.deliveredPerSec) / r.polledPerSec).toFixed(1)} % of polled`);
  if (r.backlogStart !== undefined && r.backlogEnd !== undefined) parts.push(`backlog ${r.backlogStart} -> ${r.backlogEnd}`);
  return parts.join(', ');
}

/** Heap probes per measurement of the live heap; the lowest counts. */
export const HEAP_SAMPLES = 5;

/** Live heap of kedge's daemon after GC (heap-probe.mjs) polling `ports`, after a warm-up. */
async function kedgeHeapAfterGc(ports: number[], registers: number, intervalMs: number, broker: MosquittoHandle, dir: string, distDir: string, warmupMs: number): Promise<number> {
  const k = await startKedge(ports, { registers, intervalMs }, broker, dir, distDir, ['--expose-gc', '--import', HEAP_PROBE]);
  try {
    await sleep(warmupMs);
    const probes = () => [...k.proc.output().matchAll(/HEAP-PROBE heapUsed=(\d+)/g)].map((m) => Number(m[1]));
    const samples: number[] = [];
    for (let i = 0; i < HEAP_SAMPLES; i++) {
      const before = probes().length;
      process.kill(k.pid, 'SIGUSR2');
      await waitFor(() => probes().length > before, { what: 'the heap probe to answer', timeoutMs: 30_000 });
      samples.push(probes().at(-1)!);
      // Not a whole poll interval: each sample at another phase of the poll and ack cycle.
      await sleep(intervalMs + intervalMs / HEAP_SAMPLES);
    }
    // The lowest: a collection in the middle of a poll burst, or with a batch waiting for the
    // center's confirmation, still holds those readings (they vary by +-200 B/point between runs).
    return Math.min(...samples);
  } finally {
    await k.stop();
  }
}

export async function benchSideBySide(p: SideBySidePlan, dir: string, progress: (msg: string) => void): Promise<SideBySideResult> {
  // KEDGE_BENCH_DIST: another build (a before/after comparison; the tests against a build of a known tree).
  const distDir = p.kedgeDist ?? process.env.KEDGE_BENCH_DIST ?? join(ROOT, 'dist');
  const build = kedgeBuild(distDir);
  const nodeRed = p.skipNodeRed ? null : nodeRedInstall();
  if (!p.skipNodeRed && !nodeRed) throw new Error('node-red / node-red-contrib-modbus missing: npm ci (devDependencies of @kedge/scripts), or --no-node-red');
  const configuration = [
    `kedge: ${build.kind === 'dist' ? join(distDir, 'gateway.mjs') : 'gateway/src/main.ts through tsx (no dist/: npm run build)'}, node ${[...RELEASE_NODE_FLAGS, ...EXTRA_FLAGS].join(' ')} (${EXTRA_FLAGS.length ? 'the release entry + KEDGE_BENCH_FLAGS' : 'the release entry'}), env ${Object.entries(KEDGE_DAEMON_ENV).map(([k, v]) => `${k}=${v}`).join(' ')} (the production units' Environment); SQLite log synchronous: full, flush defaults; compact codec, QoS 1, ack mode center with the center ingest confirming (its own process, not counted); web UI on (127.0.0.1, free port); deadband ${BENCH_DEADBAND} on every point (evaluated per reading; the farm's values move ~140 counts/s, so every poll passes); reconnect backoff ${BENCH_BACKOFF.minMs}-${BENCH_BACKOFF.maxMs} ms`,
    nodeRed ? `Node-RED ${nodeRed.version} + node-red-contrib-modbus: per device modbus-client (TCP) -> modbus-read (holding 0..${p.registers - 1}, every ${p.intervalMs} ms) -> mqtt out (QoS 1, JSON array); editor on (127.0.0.1, free port); no durable buffer` : 'Node-RED: not measured',
    `workload: Modbus TCP farm in its own process (one port per device, ${p.registers} holding registers), local mosquitto, readings counted by an independent MQTT subscriber (delivery-counter.ts: kedge batches deduplicated by epoch+seq, Node-RED arrays by length)`,
    `windows: from the first reading the counter sees, warm-up ${p.warmupMs / 1000} s, steady ${p.windowMs / 1000} s${p.minDeliveries ? ` and >= ${p.minDeliveries} readings` : ''}, ${p.rounds} round(s) alternating which system goes first; CPU = utime+stime of the system's process; RSS steady = median of 1 s samples, peak = VmHWM`,
  ];
  const runs: SystemRun[] = [];
  let heap: HeapPerPoint | null = null;
  const counts = [...p.deviceCounts];
  const farmSize = Math.max(...counts, p.highRate?.devices ?? 0, p.heapDevices ?? 0);
  progress(`side by side: starting a farm of ${farmSize} Modbus TCP devices x ${p.registers} registers (own process), mosquitto and the delivery counter`);
  const farm = await startFarm(farmSize, p.registers);
  let broker: MosquittoHandle | null = null;
  let counter: Counter | null = null;
  try {
    broker = await startMosquitto();
    counter = await startCounter(broker);
    const brokerPort = Number(new URL(broker.url).port);
    let n = 0;
    for (const devices of counts) {
      const ports = farm.ports.slice(0, devices);
      for (let round = 0; round < p.rounds; round++) {
        const order: System[] = nodeRed ? (round % 2 === 0 ? ['kedge', 'node-red'] : ['node-red', 'kedge']) : ['kedge'];
        for (const system of order) {
          const runDir = join(dir, `sbs-${n++}-${system}-${devices}`);
          progress(`  ${system} ${devices} devices x ${p.registers} @${p.intervalMs} ms, round ${round + 1}/${p.rounds}`);
          const running: Running =
            system === 'kedge'
              ? await startKedge(ports, { registers: p.registers, intervalMs: p.intervalMs }, broker, runDir, distDir)
              : await (async () => {
                  const nr = await startNodeRed(runDir, benchFlow({ ports, registers: p.registers, intervalMs: p.intervalMs, brokerPort }));
                  return { pid: nr.pid, build: `Node-RED ${nr.version}`, stop: nr.stop };
                })();
          try {
            const r = await measure(system, running, counter, { devices, registers: p.registers, intervalMs: p.intervalMs, round, warmupMs: p.warmupMs, windowMs: p.windowMs, minDeliveries: p.minDeliveries });
            runs.push(r);
            progress(`    delivered ${Math.round(r.deliveredPerSec)}/s of ${r.nominalPerSec} nominal, ${r.cpuSecPer10k.toFixed(3)} CPU s/10k (${r.usPerReading.toFixed(2)} us/reading), RSS ${r.rssSteadyMB.toFixed(1)} MB (max ${r.rssMaxMB.toFixed(1)}, peak ${r.peakMB.toFixed(1)})`);
          } finally {
            await running.stop();
          }
        }
      }
    }
    if (p.highRate) {
      const ports = farm.ports.slice(0, p.highRate.devices);
      const systems: System[] = nodeRed ? ['kedge', 'node-red'] : ['kedge'];
      for (const system of systems) {
        const runDir = join(dir, `sbs-${n++}-${system}-rate`);
        progress(`  ${system} ${p.highRate.devices} devices x ${p.registers} @${p.highRate.intervalMs} ms (high rate)`);
        // What the counter had counted before this system started: the backlog is counted from here.
        const counterBase = (await freshCount(counter)).readings;
        const running: Running =
          system === 'kedge'
            ? await startKedge(ports, { registers: p.registers, intervalMs: p.highRate.intervalMs }, broker, runDir, distDir)
            : await (async () => {
                const nr = await startNodeRed(runDir, benchFlow({ ports, registers: p.registers, intervalMs: p.highRate!.intervalMs, brokerPort }));
                return { pid: nr.pid, build: `Node-RED ${nr.version}`, stop: nr.stop };
              })();
        try {
          const r = await measure(system, running, counter, { devices: p.highRate.devices, registers: p.registers, intervalMs: p.highRate.intervalMs, round: 0, warmupMs: p.warmupMs, windowMs: p.windowMs, minDeliveries: p.minDeliveries, farm, counterBase });
          runs.push(r);
          progress(`    ${deliveryLine(r)}, ${r.usPerReading.toFixed(2)} us/reading, CPU ${r.cpuPercentOfOneCore.toFixed(0)} %`);
        } finally {
          await running.stop();
        }
      }
    }
    if (p.heapDevices) {
      progress(`  kedge live heap after GC: 1 device vs ${p.heapDevices} devices (x ${p.registers} points)`);
      const small = await kedgeHeapAfterGc(farm.ports.slice(0, 1), p.registers, p.intervalMs, broker, join(dir, `heap-1`), distDir, p.warmupMs);
      const large = await kedgeHeapAfterGc(farm.ports.slice(0, p.heapDevices), p.registers, p.intervalMs, broker, join(dir, `heap-${p.heapDevices}`), distDir, p.warmupMs);
      const points: [number, number] = [p.registers, p.registers * p.heapDevices];
      heap = { points, heapAfterGcMB: [mb(small), mb(large)], bytesPerPoint: (large - small) / (points[1] - points[0]) };
      progress(`    ${mb(small).toFixed(1)} MB at ${points[0]} points, ${mb(large).toFixed(1)} MB at ${points[1]}: ${heap.bytesPerPoint.toFixed(0)} B/point`);
    }
  } finally {
    await counter?.proc.stop();
    await broker?.stop();
    await farm.stop();
  }
  return { configuration, runs, heap };
}

/** Median of each system's runs at one device count and interval. */
export function medianOf(runs: SystemRun[], system: System, devices: number, intervalMs: number): SystemRun | null {
  const mine = runs.filter((r) => r.system === system && r.devices === devices && r.intervalMs === intervalMs);
  if (mine.length === 0) return null;
  const pick = (f: (r: SystemRun) => number) => median(mine.map(f));
  return {
    ...mine[0]!,
    round: -1,
    delivered: pick((r) => r.delivered),
    deliveredPerSec: pick((r) => r.deliveredPerSec),
    cpuSec: pick((r) => r.cpuSec),
    cpuSecPer10k: pick((r) => r.cpuSecPer10k),
    usPerReading: pick((r) => r.usPerReading),
    cpuPercentOfOneCore: pick((r) => r.cpuPercentOfOneCore),
    rssSteadyMB: pick((r) => r.rssSteadyMB),
    rssMaxMB: Math.max(...mine.map((r) => r.rssMaxMB)),
    peakMB: Math.max(...mine.map((r) => r.peakMB)),
  };
}

/** The goals of issue 20, printed beside each figure. */
export const FOOTPRINT_GOALS = {
  rssSteadyMB100: 80,
  rssPeakMB100: 90,
  rssMB1: 60,
  heapBytesPerPoint: 400,
  cpuShareOfNodeRed: 0.5,
  usPerReadingAtRate: 4,
} as const;

/** Table rows (report.ts) of a side-by-side result: medians per device count, each beside its goal and Node-RED. */
export function sideBySideRows(r: SideBySideResult, p: Pick<SideBySidePlan, 'deviceCounts' | 'intervalMs' | 'registers' | 'highRate'>): Row[] {
  const rows: Row[] = [];
  const G = FOOTPRINT_GOALS;
  const f3 = (n: number) => (Number.isFinite(n) ? n.toFixed(3) : 'n/a');
  for (const d of p.deviceCounts) {
    const k = medianOf(r.runs, 'kedge', d, p.intervalMs);
    const n = medianOf(r.runs, 'node-red', d, p.intervalMs);
    if (!k) continue;
    const at = `side by side ${d}x${p.registers} @${p.intervalMs} ms`;
    rows.push({
      metric: `${at}: readings delivered/s (kedge ${k.build})`,
      measured: fmt.int(k.deliveredPerSec),
      limit: `>= 95 % of nominal ${fmt.int(k.nominalPerSec)} (window edges: whole batches)`,
      baseline: n ? `Node-RED ${fmt.int(n.deliveredPerSec)}` : '-',
      verdict: verdict(k.deliveredPerSec >= 0.95 * k.nominalPerSec),
    });
    rows.push({
      metric: `${at}: CPU s per 10k delivered`,
      measured: f3(k.cpuSecPer10k),
      limit: n ? `<= ${f3(n.cpuSecPer10k * G.cpuShareOfNodeRed)} (half of Node-RED)` : '-',
      baseline: n ? `Node-RED ${f3(n.cpuSecPer10k)}` : '-',
      verdict: n ? verdict(k.cpuSecPer10k <= n.cpuSecPer10k * G.cpuShareOfNodeRed) : 'info',
    });
    const rssLimit = d === 1 ? `< ${G.rssMB1}` : d >= 100 ? `< ${G.rssSteadyMB100} steady, < ${G.rssPeakMB100} peak` : '-';
    const rssOk = d === 1 ? k.peakMB < G.rssMB1 : d >= 100 ? k.rssSteadyMB < G.rssSteadyMB100 && k.peakMB < G.rssPeakMB100 : null;
    rows.push({
      metric: `${at}: RSS MB steady (max; peak)`,
      measured: `${fmt.dec(k.rssSteadyMB)} (${fmt.dec(k.rssMaxMB)}; ${fmt.dec(k.peakMB)})`,
      limit: rssLimit,
      baseline: n ? `Node-RED ${fmt.dec(n.rssSteadyMB)} (${fmt.dec(n.rssMaxMB)}; ${fmt.dec(n.peakMB)})` : '-',
      verdict: rssOk === null ? 'info' : verdict(rssOk),
    });
  }
  if (p.highRate) {
    const k = medianOf(r.runs, 'kedge', p.highRate.devices, p.highRate.intervalMs);
    const n = medianOf(r.runs, 'node-red', p.highRate.devices, p.highRate.intervalMs);
    if (k) {
      const at = `high rate ${p.highRate.devices}x${p.registers} @${p.highRate.intervalMs} ms`;
      if (k.polledPerSec !== undefined) {
        rows.push({
          metric: `${at}: kedge readings polled/s (farm) | logged/s | delivered/s (independent subscriber)`,
          measured: `${fmt.int(k.polledPerSec)} | ${k.loggedPerSec !== undefined ? fmt.int(k.loggedPerSec) : '-'} | ${fmt.int(k.deliveredPerSec)}`,
          limit: `delivered >= ${DELIVERED_SHARE_OF_POLLED * 100} % of polled`,
          baseline: n ? `Node-RED polled ${n.polledPerSec !== undefined ? fmt.int(n.polledPerSec) : '-'}, delivered ${fmt.int(n.deliveredPerSec)}` : '-',
          verdict: verdict(k.polledPerSec > 0 && k.deliveredPerSec >= DELIVERED_SHARE_OF_POLLED * k.polledPerSec),
        });
      }
      if (k.backlogStart !== undefined && k.backlogEnd !== undefined) {
        rows.push({
          metric: `${at}: kedge backlog (logged, not yet delivered) at window start -> end`,
          measured: `${fmt.int(k.backlogStart)} -> ${fmt.int(k.backlogEnd)}`,
          limit: `grows by <= ${fmt.int(BACKLOG_GROWTH_LIMIT_SEC * k.nominalPerSec)} (${BACKLOG_GROWTH_LIMIT_SEC} s of polling)`,
          baseline: '-',
          verdict: verdict(k.backlogEnd - k.backlogStart <= BACKLOG_GROWTH_LIMIT_SEC * k.nominalPerSec),
        });
      }
      rows.push({
        metric: `kedge CPU us per reading delivered at ${fmt.int(k.deliveredPerSec)} tags/s (${p.highRate.devices}x${p.registers} @${p.highRate.intervalMs} ms)`,
        measured: fmt.dec(k.usPerReading, 2),
        limit: `<= ${G.usPerReadingAtRate} (at >= 98 % of ${fmt.int(k.nominalPerSec)}/s)`,
        baseline: n ? `Node-RED ${fmt.dec(n.usPerReading, 2)} at ${fmt.int(n.deliveredPerSec)}/s` : '-',
        verdict: verdict(k.usPerReading <= G.usPerReadingAtRate && k.deliveredPerSec >= 0.98 * k.nominalPerSec),
      });
    }
  }
  if (r.heap) {
    rows.push({
      metric: `kedge live heap per point (after GC, ${r.heap.points[0]} vs ${fmt.int(r.heap.points[1])} points)`,
      measured: `${fmt.int(r.heap.bytesPerPoint)} B`,
      limit: `< ${G.heapBytesPerPoint} B`,
      baseline: `${fmt.dec(r.heap.heapAfterGcMB[0])} / ${fmt.dec(r.heap.heapAfterGcMB[1])} MB`,
      verdict: verdict(r.heap.bytesPerPoint < G.heapBytesPerPoint),
    });
  }
  return rows;
}

async function main(): Promise<void> {
  const { Command } = await import('commander');
  const { intArg, usageExit } = await import('../cli-args.ts');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const os = await import('node:os');
  const program = usageExit(
    new Command('bench-side-by-side')
      .description('kedge beside Node-RED on the same Modbus work (issue 20): delivery, CPU per reading, RSS')
      .option('--devices <list>', 'device counts, comma separated', '1,20,100')
      .option('--registers <n>', 'holding registers per device', intArg(1, 125), 100)
      .option('--interval <ms>', 'poll interval', intArg(1), 1000)
      .option('--rounds <n>', 'alternating rounds per device count', intArg(1), 3)
      .option('--warmup <s>', 'warm-up seconds', intArg(1), 8)
      .option('--window <s>', 'steady window seconds', intArg(1), 20)
      .option('--rate-interval <ms>', 'the high-rate run (100 devices) at this interval; 0 = none', intArg(0), 250)
      .option('--no-heap', 'skip the live heap per point')
      .option('--no-node-red', 'kedge alone')
      .option('--kedge-dist <dir>', 'folder with gateway.mjs and ingest.mjs (default: dist/)'),
  );
  program.parse();
  const o = program.opts<{ devices: string; registers: number; interval: number; rounds: number; warmup: number; window: number; rateInterval: number; heap: boolean; nodeRed: boolean; kedgeDist?: string }>();
  const plan: SideBySidePlan = {
    // '--devices 0': no side-by-side runs (the heap or the high-rate run alone).
    deviceCounts: o.devices.split(',').map(Number).filter((n) => n > 0),
    registers: o.registers,
    intervalMs: o.interval,
    rounds: o.rounds,
    warmupMs: o.warmup * 1000,
    windowMs: o.window * 1000,
    ...(o.rateInterval > 0 ? { highRate: { devices: 100, intervalMs: o.rateInterval } } : {}),
    ...(o.heap ? { heapDevices: 100 } : {}),
    ...(o.kedgeDist ? { kedgeDist: o.kedgeDist } : {}),
    skipNodeRed: !o.nodeRed,
  };
  const t0 = Date.now();
  const progress = (m: string) => process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${m}\n`);
  progress(`load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} cores`);
  const dir = mkdtempSync(join(os.tmpdir(), 'kedge-sbs-'));
  try {
    const r = await benchSideBySide(plan, dir, progress);
    process.stdout.write(`\nmeasured configuration:\n${r.configuration.map((c) => `  - ${c}`).join('\n')}\n\n${formatTable(sideBySideRows(r, plan))}\n`);
    process.stdout.write(`load average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
    process.stdout.write(`${JSON.stringify(r.runs)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && process.argv[1] === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}

/**
 * What `npm run bench` runs: by default one round at 100 devices (plus the live heap per point);
 * `--side-by-side` the full comparison (1, 20 and 100 devices, 3 alternating rounds, the
 * 40,000 tags/s run); `--quick` a smoke round at 20 devices.
 */
export function sideBySidePlan(mode: 'quick' | 'default' | 'full', skipNodeRed = false): SideBySidePlan {
  const base = { registers: 100, intervalMs: 1000, skipNodeRed };
  if (mode === 'quick') return { ...base, deviceCounts: [20], rounds: 1, warmupMs: 4000, windowMs: 6000 };
  if (mode === 'default') return { ...base, deviceCounts: [100], rounds: 1, warmupMs: 8000, windowMs: 15_000, heapDevices: 100 };
  return { ...base, deviceCounts: [1, 20, 100], rounds: 3, warmupMs: 8000, windowMs: 20_000, highRate: { devices: 100, intervalMs: 250 }, heapDevices: 100 };
}
