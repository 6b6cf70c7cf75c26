/**
 * RSS of the gateway daemon over time, to tell a leak (RSS that keeps climbing) from a
 * working set (RSS that levels off) and to try node flags:
 *
 *   node --import tsx scripts/src/bench/rss.ts --devices 100 --interval 250 --seconds 120
 *   ... --tsx                                   (TypeScript through tsx instead of dist/)
 *   ... --flag=--max-semi-space-size=1          (node flags for the daemon, repeatable)
 *
 * Prints one line per sample: seconds, RSS MB, peak MB, tags logged per second and CPU (% of
 * one core) since the last sample. Uses the bench's device farm (one port per device) and a local mosquitto.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import Database from 'better-sqlite3';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { startProcess } from '@kedge/testkit/proc.ts';
import { sleep } from '@kedge/testkit/wait.ts';
import { intArg, usageExit } from '../cli-args.ts';
import { startFarm } from './farm.ts';
import { daemonRun } from './poll.ts';
import { cpuPercent, sampleProc } from './proc-stats.ts';

const program = usageExit(
  new Command('bench-rss')
    .description("the daemon's memory and CPU over time, polling a farm of Modbus devices")
    .option('--devices <n>', 'devices', intArg(1), 100)
    .option('--registers <n>', 'registers per device', intArg(1, 65536), 100)
    .option('--interval <ms>', 'poll interval', intArg(1), 1000)
    .option('--seconds <s>', 'how long to run', intArg(1), 60)
    .option('--every <s>', 'seconds between samples', intArg(1), 5)
    .option('--tsx', 'run the daemon from source (tsx) instead of dist/', false)
    .option('--flag <flag>', 'node flag for the daemon (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[]),
);
program.parse();
const a = program.opts<{ devices: number; registers: number; interval: number; seconds: number; every: number; tsx: boolean; flag: string[] }>();
const { devices, registers } = a;
const dir = mkdtempSync(join(os.tmpdir(), 'kedge-rss-'));
const farm = await startFarm(devices, registers);
const broker = await startMosquitto();
const daemon = daemonRun(a.tsx ? 'tsx' : 'dist', a.flag);
try {
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, 'gw.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      gateway: { id: 'rss-gw', region: 'kuzbass', municipality: 'kemerovo' },
      dataDir: dir,
      uplink: { url: broker.url, codec: 'compact' },
      web: { enabled: true, host: '127.0.0.1', port: 0 },
      devices: farm.ports.map((port, i) => ({
        id: `dev-${i}`,
        driver: 'modbus-tcp',
        host: '127.0.0.1',
        port,
        unitId: 1,
        intervalMs: Number(a.interval),
        timeoutMs: 1000,
        points: Array.from({ length: registers }, (_, r) => ({ id: `r${r}`, table: 'holding', address: r, type: 'uint16' })),
      })),
    }),
  );
  const gw = await startProcess(process.execPath, [...daemon.args, '--config', configPath], { name: 'gateway', readyLine: /gateway started/, timeoutMs: 60_000 });
  try {
    process.stdout.write(`${daemon.kind}: node ${daemon.args.join(' ')}\n${devices} devices x ${registers} registers every ${a.interval} ms\n   s   RSS MB  peak MB   tags/s    CPU %\n`);
    const db = new Database(join(dir, 'log.db'), { readonly: true, fileMustExist: true });
    const seq = () => (db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'readings'").pluck().get() as number | undefined) ?? 0;
    const t0 = Date.now();
    let last = { at: Date.now(), seq: seq() };
    let lastProc = sampleProc(gw.pid);
    while (Date.now() - t0 < Number(a.seconds) * 1000) {
      await sleep(Number(a.every) * 1000);
      const s = sampleProc(gw.pid);
      const now = { at: Date.now(), seq: seq() };
      const rate = ((now.seq - last.seq) / (now.at - last.at)) * 1000;
      const cpu = cpuPercent(lastProc, s);
      last = now;
      lastProc = s;
      process.stdout.write(
        `${String(Math.round((now.at - t0) / 1000)).padStart(4)} ${(s.rssBytes / 2 ** 20).toFixed(1).padStart(8)} ${(s.hwmBytes / 2 ** 20).toFixed(1).padStart(8)} ${Math.round(rate).toString().padStart(8)} ${cpu.toFixed(1).padStart(8)}\n`,
      );
    }
    db.close();
  } finally {
    await gw.stop();
  }
} finally {
  await broker.stop();
  await farm.stop();
  rmSync(dir, { recursive: true, force: true });
}
