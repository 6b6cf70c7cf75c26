/**
 * Preloaded (`--import`) into every test file's process by scripts/src/test-runner.ts: when the
 * file's process exits, it writes how long it ran and the CPU it and its children (daemons,
 * brokers, servers it started and reaped) used. `npm test` lists the slowest files from these
 * and starts the longest first next time.
 *
 * The test runner's own events cannot tell this: it holds back each file's events until the
 * files before it have reported, and process start-up and module-level hooks belong to no test.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where the records go; set by the runner, so processes the tests start write nothing. */
export const TIMING_DIR_ENV = 'KEDGE_TEST_TIMING_DIR';

export interface FileTiming {
  file: string;
  /** From the process's start (node and tsx loading included) to its exit. */
  wallMs: number;
  /** user + system CPU of the test file's own process. */
  cpuMs: number;
  /** user + system CPU of the child processes it started and waited for. */
  childCpuMs: number;
}

/** Clock ticks of /proc/<pid>/stat: USER_HZ, 100 on every Linux architecture node runs on. */
const TICK_MS = 10;

/** CPU of the children this process started and reaped, so far. */
export function childCpuMs(): number {
  try {
    // Fields after "(comm) ": state is [0]; cutime and cstime (fields 16, 17) are [13], [14].
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[13]) + Number(fields[14])) * TICK_MS;
  } catch {
    return 0; // not Linux: the wall time still tells the story
  }
}

const dir = process.env[TIMING_DIR_ENV];
const file = process.argv[1];
// A group of files (test-group-entry.ts) writes a record per file itself.
if (dir && file?.endsWith('.test.ts')) {
  process.on('exit', () => {
    const cpu = process.cpuUsage();
    const timing: FileTiming = {
      file,
      wallMs: Math.round(performance.now()),
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      childCpuMs: childCpuMs(),
    };
    try {
      writeFileSync(join(dir, `${process.pid}.json`), JSON.stringify(timing));
    } catch {
      // A timing record is a convenience; it must never turn a passing file into a failing one.
    }
  });
}
