/**
 * The body of a process that runs several test files (test-groups.ts says which): `npm test`
 * writes a small module per group that calls `runGroup` with the group's files.
 *
 * Each file is imported inside a suite named by its path, so the hooks it registers at its top
 * level (`before`, `after`) belong to that suite and run around its own tests, as when the file
 * had the process to itself; the suites run one after the other. Each file gets the timing
 * record test-timing.ts writes for a file alone, from its suite's start; the process's start and
 * imports get a record of their own.
 */
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe } from 'node:test';
import { pathToFileURL } from 'node:url';
import { childCpuMs, TIMING_DIR_ENV, type FileTiming } from './test-timing.ts';

interface Mark {
  wallMs: number;
  cpuMs: number;
  childCpuMs: number;
}

function mark(): Mark {
  const cpu = process.cpuUsage();
  return { wallMs: performance.now(), cpuMs: (cpu.user + cpu.system) / 1000, childCpuMs: childCpuMs() };
}

function write(dir: string | undefined, name: string, timing: FileTiming): void {
  if (!dir) return;
  try {
    writeFileSync(join(dir, `${process.pid}-${name}.json`), JSON.stringify(timing));
  } catch {
    // a timing record must never fail a file
  }
}

const since = (file: string, start: Mark, end: Mark): FileTiming => ({
  file,
  wallMs: Math.round(end.wallMs - start.wallMs),
  cpuMs: Math.round(end.cpuMs - start.cpuMs),
  childCpuMs: Math.round(end.childCpuMs - start.childCpuMs),
});

export function runGroup(root: string, files: readonly string[]): void {
  const dir = process.env[TIMING_DIR_ENV];
  const processStart: Mark = { wallMs: 0, cpuMs: 0, childCpuMs: 0 };
  files.forEach((file, i) => {
    describe(relative(root, file), async () => {
      let start = processStart;
      // Registered before the file's own hooks, so its set-up counts as its time.
      before(() => {
        start = mark();
        // Node's start and the group's imports: a record of their own (its name is no file, so
        // the next plan does not count it as the first file's), for the run's CPU total.
        if (i === 0) write(dir, 'start', since(join(root, `(start of the process of ${relative(root, file)} + ${files.length - 1})`), processStart, start));
      });
      await import(pathToFileURL(file).href);
      after(() => write(dir, String(i), since(file, start, mark())));
    });
  });
}
