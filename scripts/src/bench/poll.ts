import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { minimumRequests, requestCount } from '@kedge/gateway/drivers/modbus/plan.ts';
import type { ModbusPointRef } from '@kedge/gateway/drivers/modbus/types.ts';
import { startProcess } from '@kedge/testkit/proc.ts';
import { sleep } from '@kedge/testkit/wait.ts';
import type { Farm } from './farm.ts';
import { cpuPercent, sampleProc } from './proc-stats.ts';

const GATEWAY_MAIN = fileURLToPath(new URL('../../../gateway/src/main.ts', import.meta.url));
const GATEWAY_DIST = fileURLToPath(new URL('../../../dist/gateway.mjs', import.meta.url));

/** How the daemon is started: the production bundle (`npm run build`) when dist/ holds one, else TypeScript through tsx. */
export interface DaemonRun {
  kind: 'dist' | 'tsx';
  /** node arguments before the daemon's own. */
  args: string[];
}

export function daemonRun(prefer: 'dist' | 'tsx' = 'dist', nodeFlags: string[] = []): DaemonRun {
  return prefer === 'dist' && existsSync(GATEWAY_DIST)
    ? { kind: 'dist', args: [...nodeFlags, GATEWAY_DIST] }
    : { kind: 'tsx', args: [...nodeFlags, '--import', 'tsx', GATEWAY_MAIN] };
}

export interface PollBenchOptions {
  farm: Farm;
  registers: number;
  intervalMs: number;
  brokerUrl: string;
  dir: string;
  warmupMs: number;
  windowMs: number;
  progress: (msg: string) => void;
  /** Default daemonRun(): the bundle when built. */
  daemon?: DaemonRun;
}

export interface PollBenchResult {
  daemon: DaemonRun['kind'];
  devices: number;
  registers: number;
  intervalMs: number;
  windowSec: number;
  nominalTagsPerSec: number;
  tagsPerSec: number;
  cpuPercentOfOneCore: number;
  rssMB: number;
  peakRssMB: number;
  requestsPerCycle: number;
  plannedRequestsPerCycle: number;
  minimumRequestsPerCycle: number;
}

function devicePoints(registers: number) {
  return Array.from({ length: registers }, (_, i) => ({ id: `r${i}`, table: 'holding' as const, address: i, type: 'uint16' as const }));
}

/**
 * The gateway daemon as a child process on a generated config of `farm.ports.length` devices
 * x `registers` uint16 registers every `intervalMs`; tags/s from the growth of its log's
 * sequence, CPU and RSS from /proc over the steady window.
 */
/** RSS of node running nothing (with tsx: the floor every TypeScript entry point pays before kedge loads). */
export async function runtimeFloorMB(withTsx = true): Promise<number> {
  const args = [...(withTsx ? ['--import', 'tsx'] : []), '-e', "console.log('IDLE'); setInterval(() => {}, 1000)"];
  const idle = await startProcess(process.execPath, args, { name: 'idle-node', readyLine: /IDLE/ });
  try {
    await sleep(300);
    return sampleProc(idle.pid).rssBytes / 2 ** 20;
  } finally {
    await idle.stop();
  }
}

export async function benchPoll(o: PollBenchOptions): Promise<PollBenchResult> {
  const devices = o.farm.ports.length;
  const points = devicePoints(o.registers);
  const config = {
    gateway: { id: 'bench-gw', region: 'kuzbass', municipality: 'kemerovo' },
    dataDir: o.dir,
    uplink: { url: o.brokerUrl, codec: 'compact' },
    devices: o.farm.ports.map((port, i) => ({
      id: `dev-${i}`,
      driver: 'modbus-tcp',
      host: '127.0.0.1',
      port,
      unitId: 1,
      intervalMs: o.intervalMs,
      timeoutMs: 1000,
      points: points.map((p) => ({ id: p.id, table: p.table, address: p.address, type: p.type })),
    })),
  };
  mkdirSync(o.dir, { recursive: true });
  const configPath = join(o.dir, 'bench-gateway.json');
  writeFileSync(configPath, JSON.stringify(config));
  const daemon = o.daemon ?? daemonRun();
  const gw = await startProcess(process.execPath, [...daemon.args, '--config', configPath, '--log-level', 'info'], {
    name: 'gateway',
    readyLine: /gateway started/,
    timeoutMs: 60_000,
  });
  try {
    o.progress(`  gateway pid ${gw.pid} polling ${devices} devices x ${o.registers} registers every ${o.intervalMs} ms; warming up ${o.warmupMs / 1000} s`);
    await sleep(o.warmupMs);
    const db = new Database(join(o.dir, 'log.db'), { readonly: true, fileMustExist: true });
    const seq = () => (db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'readings'").pluck().get() as number | undefined) ?? 0;
    const s0 = sampleProc(gw.pid);
    const q0 = seq();
    const r0 = o.farm.requests();
    o.progress(`  measuring ${o.windowMs / 1000} s`);
    await sleep(o.windowMs);
    const s1 = sampleProc(gw.pid);
    const q1 = seq();
    const r1 = o.farm.requests();
    db.close();
    const sec = (s1.at - s0.at) / 1000;
    const cyclesPerSec = 1000 / o.intervalMs;
    const planned = requestCount(points as ModbusPointRef[], { maxGap: 10, maxRegisters: 125, maxBits: 2000 });
    const minimum = minimumRequests(points as ModbusPointRef[], { maxRegisters: 125, maxBits: 2000 });
    return {
      daemon: daemon.kind,
      devices,
      registers: o.registers,
      intervalMs: o.intervalMs,
      windowSec: sec,
      nominalTagsPerSec: devices * o.registers * cyclesPerSec,
      tagsPerSec: (q1 - q0) / sec,
      cpuPercentOfOneCore: cpuPercent(s0, s1),
      rssMB: s1.rssBytes / 2 ** 20,
      peakRssMB: s1.hwmBytes / 2 ** 20,
      requestsPerCycle: (r1.total - r0.total) / ((r1.at - r0.at) / 1000) / cyclesPerSec,
      plannedRequestsPerCycle: planned * devices,
      minimumRequestsPerCycle: minimum * devices,
    };
  } finally {
    await gw.stop();
  }
}
