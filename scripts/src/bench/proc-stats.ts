import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Kernel clock ticks per second, the unit of utime/stime in /proc/<pid>/stat. */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface ProcSample {
  at: number;
  /** utime + stime in seconds. */
  cpuSec: number;
  rssBytes: number;
  /** Peak RSS so far (VmHWM). */
  hwmBytes: number;
  /** Bytes this process caused to be written to storage (/proc/<pid>/io write_bytes); null when not readable. */
  writeBytes: number | null;
}

export function sampleProc(pid: number | 'self'): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces and parentheses: fields are counted after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  let writeBytes: number | null = null;
  try {
    writeBytes = Number(/^write_bytes:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? NaN);
    if (Number.isNaN(writeBytes)) writeBytes = null;
  } catch {
    writeBytes = null;
  }
  return { at: performance.now(), cpuSec: (utime + stime) / CLK_TCK, rssBytes: kb('VmRSS'), hwmBytes: kb('VmHWM'), writeBytes };
}

/** CPU use between two samples as a percentage of ONE core. */
export function cpuPercent(a: ProcSample, b: ProcSample): number {
  return ((b.cpuSec - a.cpuSec) / ((b.at - a.at) / 1000)) * 100;
}
