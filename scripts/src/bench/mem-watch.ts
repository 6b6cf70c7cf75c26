/**
 * Where the daemon's RSS goes, over time (issue 20): the side-by-side's kedge (dist/, the
 * release entry's flags, center ack mode, web UI on) against the bench's farm, sampled every
 * second from the kernel (/proc/<pid>/status: RssAnon = malloc + V8 heap, RssFile = mapped code
 * and libraries) and from V8 (mem-probe.mjs: heapTotal, heapUsed, external). RSS minus heapTotal
 * is native memory (glibc malloc arenas: SQLite's page cache, sockets, libuv, V8's off-heap).
 *
 *   node --import tsx scripts/src/bench/mem-watch.ts --devices 100 --seconds 60
 *   MALLOC_ARENA_MAX=2 node --import tsx scripts/src/bench/mem-watch.ts ...   (env reaches the daemon)
 *   ... --flag=--max-old-space-size=64   (node flags for the daemon, repeatable)
 *   ... --breakdown   (at the end: memoryUsage before/after GC, heap spaces, smaps, loaded modules)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { sleep, waitFor } from '@kedge/testkit/wait.ts';
import { intArg, usageExit } from '../cli-args.ts';
import { startFarm } from './farm.ts';
import { sampleProc } from './proc-stats.ts';
import { RELEASE_NODE_FLAGS, startKedge } from './side-by-side.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PROBE = fileURLToPath(new URL('./mem-probe.mjs', import.meta.url));
const BREAKDOWN = fileURLToPath(new URL('./mem-breakdown.mjs', import.meta.url));

const program = usageExit(
  new Command('bench-mem-watch')
    .description("the daemon's memory over time, kernel and V8 side by side")
    .option('--devices <n>', 'devices', intArg(1), 100)
    .option('--registers <n>', 'registers per device', intArg(1, 125), 100)
    .option('--interval <ms>', 'poll interval', intArg(1), 1000)
    .option('--seconds <s>', 'how long to sample', intArg(1), 60)
    .option('--every <s>', 'seconds between printed lines', intArg(1), 5)
    .option('--kedge-dist <dir>', 'folder with gateway.mjs and ingest.mjs', join(ROOT, 'dist'))
    .option('--breakdown', 'at the end, where the memory is (mem-breakdown.mjs; adds --expose-gc)')
    .option('--flag <flag>', 'node flag for the daemon (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[]),
);
program.parse();
const a = program.opts<{ devices: number; registers: number; interval: number; seconds: number; every: number; kedgeDist: string; flag: string[]; breakdown?: boolean }>();

const kb = (status: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) / 1024;
const env = Object.entries(process.env)
  .filter(([k]) => k.startsWith('MALLOC_') || k.startsWith('KEDGE_') || k === 'UV_THREADPOOL_SIZE')
  .map(([k, v]) => `${k}=${v}`);
const dir = mkdtempSync(join(os.tmpdir(), 'kedge-memwatch-'));
const farm = await startFarm(a.devices, a.registers);
const broker = await startMosquitto();
try {
  const k = await startKedge(farm.ports, { registers: a.registers, intervalMs: a.interval }, broker, dir, a.kedgeDist, [...a.flag, '--import', PROBE, ...(a.breakdown ? ['--expose-gc', '--import', BREAKDOWN] : [])]);
  try {
    process.stdout.write(
      `kedge ${a.devices} x ${a.registers} @${a.interval} ms; node ${[...RELEASE_NODE_FLAGS, ...a.flag].join(' ')}; env ${env.join(' ') || '(none)'}; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n` +
        `   s   RSS  anon  file  heapTot heapUsed external native thr  CPU s\n`,
    );
    const t0 = Date.now();
    const c0 = sampleProc(k.pid).cpuSec;
    const rows: number[][] = [];
    while (Date.now() - t0 < a.seconds * 1000) {
      await sleep(1000);
      const status = readFileSync(`/proc/${k.pid}/status`, 'utf8');
      const probe = [...k.proc.output().matchAll(/MEM-PROBE rss=(\d+) heapTotal=(\d+) heapUsed=(\d+) external=(\d+)/g)].at(-1);
      const [heapTotal, heapUsed, external] = [2, 3, 4].map((i) => Number(probe?.[i] ?? 0) / 2 ** 20) as [number, number, number];
      const rss = kb(status, 'VmRSS');
      const row = [(Date.now() - t0) / 1000, rss, kb(status, 'RssAnon'), kb(status, 'RssFile'), heapTotal, heapUsed, external, kb(status, 'RssAnon') - heapTotal, Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 0), sampleProc(k.pid).cpuSec - c0];
      rows.push(row);
      if (rows.length % a.every === 0) process.stdout.write(`${row.map((v, i) => (i === 8 ? String(v).padStart(3) : v.toFixed(i === 0 ? 0 : 1).padStart(i === 0 ? 4 : i >= 4 && i <= 6 ? 8 : 5))).join(' ')}\n`);
    }
    const col = (i: number) => rows.map((r) => r[i]!).sort((x, y) => x - y);
    const med = (i: number) => col(i)[Math.floor(rows.length / 2)]!;
    const max = (i: number) => col(i).at(-1)!;
    const hwm = kb(readFileSync(`/proc/${k.pid}/status`, 'utf8'), 'VmHWM');
    process.stdout.write(
      `median RSS ${med(1).toFixed(1)} (max ${max(1).toFixed(1)}, VmHWM ${hwm.toFixed(1)}) anon ${med(2).toFixed(1)} file ${med(3).toFixed(1)} heapTotal ${med(4).toFixed(1)} (max ${max(4).toFixed(1)}) heapUsed ${med(5).toFixed(1)} native ${med(7).toFixed(1)} (max ${max(7).toFixed(1)}) MB; CPU ${((rows.at(-1)![9]! / rows.at(-1)![0]!) * 100).toFixed(1)} % of a core; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`,
    );
    if (a.breakdown) {
      const lines = () => [...k.proc.output().matchAll(/^MEM-BREAKDOWN (.*)$/gm)];
      const n = lines().length;
      process.kill(k.pid, 'SIGUSR2');
      await waitFor(() => lines().length > n, { what: 'the breakdown probe to answer', timeoutMs: 30_000 });
      process.stdout.write(`breakdown ${JSON.stringify(JSON.parse(lines().at(-1)![1]!), null, 1)}\n`);
    }
    if (process.env.KEDGE_MEM_WATCH_LOG) process.stdout.write(`${k.proc.output().split('\n').filter((l) => !l.startsWith('MEM-PROBE')).slice(-Number(process.env.KEDGE_MEM_WATCH_LOG)).join('\n')}\n`);
  } finally {
    await k.stop();
  }
} finally {
  await broker.stop();
  await farm.stop();
  rmSync(dir, { recursive: true, force: true });
}
