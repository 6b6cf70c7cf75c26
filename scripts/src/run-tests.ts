/**
 * `npm test`: typechecks while it runs every `*.test.ts` of the workspaces with node's test
 * runner (scripts/src/test-runner.ts), lists the slowest files, and ends with the one line CI
 * reads: `N passed, N failed`.
 * Arguments narrow the run to files whose path contains one of them (no typecheck then).
 *
 * Short files run several to a process (test-groups.ts, test-group-entry.ts): about half of a
 * short file's CPU was node's start-up and imports its neighbours load too.
 * Processes start longest first, by their files' wall times in the last run (kept in
 * node_modules/.cache/kedge/test-times.json; a file never timed is guessed from its name):
 * started last, a 40 s chaos file would run alone at the end while a core idles.
 *
 * CPU, not waiting, is what makes the suite long on a 2-core box, and most of it went into
 * loading TypeScript: so the files load through ts-loader.mjs (node's resolver, esbuild's
 * compile, cached) instead of tsx, and the daemons and ingests they start run from bundles of
 * the current sources built at the start of the run (test-bundles.ts, testkit/src/entry.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TIMING_DIR_ENV, type FileTiming } from './test-timing.ts';
import { buildTestBundles, removeTestBundles, type TestBundles } from './test-bundles.ts';
import { TEST_BUNDLES_ENV } from '@kedge/testkit/entry.ts';
import { groupBudgetMs, groupModuleSource, planGroups, sharesProcess } from './test-groups.ts';
import type { RunSummary } from './test-runner.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TIMES_CACHE = join(ROOT, 'node_modules/.cache/kedge/test-times.json');
/** Every file's record (wall, own CPU, children's CPU) of the last whole run: where the CPU goes. */
const LAST_RUN = join(ROOT, 'node_modules/.cache/kedge/last-run.json');
/** ts-hooks.mjs's compiled files, one per version of a source file ever loaded. */
const COMPILE_CACHE = join(ROOT, 'node_modules/.cache/kedge/ts');
/** A compiled file not written for this long goes (an unchanged source is compiled again, once). */
const COMPILE_CACHE_MAX_AGE_MS = 7 * 86_400_000;

/** Keeps the compile cache from growing with every edit ever made. */
function pruneCompileCache(): void {
  let names: string[];
  try {
    names = readdirSync(COMPILE_CACHE);
  } catch {
    return;
  }
  const cutoff = Date.now() - COMPILE_CACHE_MAX_AGE_MS;
  for (const name of names) {
    const path = join(COMPILE_CACHE, name);
    try {
      if (statSync(path).mtimeMs < cutoff) rmSync(path, { force: true });
    } catch {
      // removed by a run beside this one
    }
  }
}

/** Every TypeScript source of the workspaces (tests, fixtures, the code they load). */
function findSources(dir: string): string[] {
  let out: string[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) out = out.concat(findSources(path));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/**
 * Compiles, in this process and once, every source edited since the cache last saw it: else
 * each test process that imports an edited file compiles it too, each loading esbuild (after an
 * edit of gateway.ts, ~150 processes). With nothing edited this only reads and hashes (~0.1 s).
 * A source that does not compile is left to the test files that load it, which report why.
 */
async function warmCompileCache(): Promise<{ compiled: number; failed: number }> {
  type Hooks = { compiled(path: string, source: string): Promise<string> };
  type Cache = { compiledPath(path: string, source: string): string };
  const hooks = (await import(pathToFileURL(join(ROOT, 'scripts/src/ts-hooks.mjs')).href)) as Hooks;
  const cache = (await import(pathToFileURL(join(ROOT, 'scripts/src/ts-compile-cache.mjs')).href)) as Cache;
  const results = await Promise.allSettled(
    WORKSPACES.flatMap((w) => findSources(join(ROOT, w))).map(async (path) => {
      const source = readFileSync(path, 'utf8');
      if (existsSync(cache.compiledPath(path, source))) return false;
      await hooks.compiled(path, source);
      return true;
    }),
  );
  return {
    compiled: results.filter((r) => r.status === 'fulfilled' && r.value).length,
    failed: results.filter((r) => r.status === 'rejected').length,
  };
}

/**
 * Processes at a time. Most of a file's time is spent waiting on the servers and daemons it
 * started, not on the CPU: two more files than cores keep both cores of the target box busy.
 */
const CONCURRENCY = availableParallelism() + 2;
/**
 * Per process (a long file has one to itself). The chaos files start the daemon up to 13 times:
 * about 40 s on an idle 2-core box, several times that on a loaded one. A hung file still
 * fails, after 10 minutes.
 */
const FILE_TIMEOUT_MS = 600_000;
/** How many of the slowest files the run lists at its end. */
const SLOWEST_SHOWN = 12;
const WORKSPACES = ['testkit', 'gateway', 'cloud-sync', 'device-profiles', 'firmware-ts', 'scripts', 'node-red-contrib-kedge'];

function findTests(dir: string): string[] {
  let out: string[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) out = out.concat(findTests(path));
    else if (e.name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

/** Runs a child; its output goes to ours, or is collected when `collect` is given. */
function run(cmd: string, args: string[], o: { env?: NodeJS.ProcessEnv; collect?: string[] } = {}): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: o.env ?? process.env, stdio: o.collect ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    if (o.collect) {
      child.stdout!.on('data', (d: Buffer) => o.collect!.push(d.toString()));
      child.stderr!.on('data', (d: Buffer) => o.collect!.push(d.toString()));
    }
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

type Times = Record<string, number>;

function readTimes(): Times {
  try {
    return JSON.parse(readFileSync(TIMES_CACHE, 'utf8')) as Times;
  } catch {
    return {};
  }
}

/** A file never timed: the kinds that start daemons, brokers or a browser are the long ones. */
function guessMs(file: string): number {
  return /\.(chaos|e2e|daemon)\.test\.ts$|readme-commands|start\.test/.test(file) ? 30_000 : 3_000;
}

function readTimings(dir: string): FileTiming[] {
  return readdirSync(dir).map((name) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as FileTiming);
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * Whether a file starts kedge's programs from the test bundles (itself, or through the chaos
 * harness): a run of only other files skips the build (~2.5 s of CPU). A file this misses still
 * runs right, its children through tsx from the sources.
 */
function startsChildren(file: string): boolean {
  try {
    return /\bnodeEntry\b|chaos\/harness\.ts|'\.\/harness\.ts'/.test(readFileSync(file, 'utf8'));
  } catch {
    return true;
  }
}

/** Whether a file may share its process (test-groups.ts); unreadable: alone, and it reports why. */
function shareable(file: string): boolean {
  try {
    return sharesProcess(readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
}

function writeGroupModule(dir: string, index: number, group: readonly string[]): string {
  // Named after its first file: a failure of the whole process (timeout, exit code) names it.
  const path = join(dir, `${basename(group[0]!, '.test.ts')}+${group.length - 1}-${index}.mjs`);
  writeFileSync(path, groupModuleSource(ROOT, group));
  return path;
}

const filters = process.argv.slice(2);
const times = readTimes();
const estimate = (f: string) => times[relative(ROOT, f)] ?? guessMs(f);
const files = WORKSPACES.flatMap((w) => findTests(join(ROOT, w)))
  // Against the path in the repository: `main` must not match every file under /work/main.
  .filter((f) => filters.length === 0 || filters.some((x) => relative(ROOT, f).includes(x)))
  .sort();
const groupMs = (g: readonly string[]) => g.reduce((sum, f) => sum + estimate(f), 0);
const groups = planGroups(
  files.map((f) => ({ file: f, estimateMs: estimate(f), shareable: shareable(f) })),
  { budgetMs: groupBudgetMs(groupMs(files), CONCURRENCY) },
).sort((a, b) => groupMs(b) - groupMs(a));

let passed = 0;
let failed = 0;

// Beside the tests, not before them: the files mostly wait, tsc mostly computes.
const typecheckOutput: string[] = [];
const typecheck =
  filters.length === 0
    ? run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.json'), '--noEmit'], { collect: typecheckOutput })
    : null;
if (typecheck) process.stdout.write('typecheck: tsc --noEmit (beside the tests; result at the end)\n');
if (filters.length === 0) pruneCompileCache();

if (files.length === 0) {
  process.stdout.write(`no test files match ${filters.join(' ')}\n`);
  failed++;
} else {
  process.stdout.write(
    `running ${files.length} test files in ${groups.length} processes, ${CONCURRENCY} at a time, longest first:\n` +
      groups.map((g) => g.map((f, i) => `${i === 0 ? '  ' : '    + '}${relative(ROOT, f)}`).join('\n')).join('\n') +
      '\n',
  );
  const workDir = mkdtempSync(join(tmpdir(), 'kedge-test-run-'));
  const groupDir = join(workDir, 'groups');
  mkdirSync(groupDir);
  const entries = groups.map((g, i) => (g.length === 1 ? g[0]! : writeGroupModule(groupDir, i, g)));
  const timingDir = join(workDir, 'timings');
  mkdirSync(timingDir);
  const summaryFile = join(workDir, 'summary.json');
  const started = performance.now();
  try {
    const { compiled, failed } = await warmCompileCache();
    if (compiled + failed > 0)
      process.stdout.write(
        `edited TypeScript files for the test processes: ${compiled} compiled, ${failed} failed (their files report the error), in ${seconds(performance.now() - started)}\n`,
      );
  } catch (err) {
    // each test process compiles what it loads, as without this
    process.stdout.write(`compile cache not warmed: ${(err as Error).message}\n`);
  }
  // The programs the tests start as children, bundled from the sources as they are now.
  let bundles: TestBundles | null = null;
  try {
    if (filters.length === 0 || files.some(startsChildren)) bundles = await buildTestBundles(ROOT);
    if (bundles) process.stdout.write(`bundled ${Object.keys(bundles.bundles).join(', ')} for the tests to start in ${seconds(performance.now() - started)}\n`);
  } catch (err) {
    failed++; // the production build is broken; the tests still run, their children through tsx
    process.stdout.write(`build of the test bundles FAILED (children start through tsx):\n${(err as Error).message}\n`);
  }
  await run(
    process.execPath,
    [
      // node:test starts every file with these flags too: the files load through ts-loader.mjs.
      '--import',
      pathToFileURL(join(ROOT, 'scripts/src/ts-loader.mjs')).href,
      '--import',
      pathToFileURL(join(ROOT, 'scripts/src/test-timing.ts')).href,
      join(ROOT, 'scripts/src/test-runner.ts'),
      `--concurrency=${CONCURRENCY}`,
      `--timeout=${FILE_TIMEOUT_MS}`,
      `--summary=${summaryFile}`,
      '--',
      ...entries,
    ],
    { env: { ...process.env, [TIMING_DIR_ENV]: timingDir, ...(bundles ? { [TEST_BUNDLES_ENV]: JSON.stringify(bundles.bundles) } : {}) } },
  );
  if (bundles) removeTestBundles(bundles);
  const wallMs = performance.now() - started;
  let summary: Partial<RunSummary> = {};
  try {
    summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as Partial<RunSummary>;
  } catch {
    // no summary: the runner died before reporting, counted as a failure below
  }
  const timings = readTimings(timingDir).sort((a, b) => b.wallMs - a.wallMs);
  rmSync(workDir, { recursive: true, force: true });

  const p = summary.pass ?? 0;
  const f = (summary.fail ?? 0) + (summary.cancelled ?? 0);
  if (p + f === 0) failed++; // the runner died before reporting: that is a failure, not a pass
  passed += p;
  failed += f;

  if (timings.length > 0) {
    const ownCpu = timings.reduce((sum, t) => sum + t.cpuMs, 0);
    const childCpu = timings.reduce((sum, t) => sum + t.childCpuMs, 0);
    process.stdout.write(
      `\ntest files: ${seconds(wallMs)} wall for ${timings.length} files, ${seconds(ownCpu + childCpu)} CPU ` +
        `(${seconds(ownCpu)} in the files, ${seconds(childCpu)} in the processes they started)\n` +
        `slowest files (wall; CPU of the file + of the processes it started):\n` +
        timings
          .slice(0, SLOWEST_SHOWN)
          .map((t) => `  ${seconds(t.wallMs).padStart(8)}  cpu ${seconds(t.cpuMs).padStart(7)} + ${seconds(t.childCpuMs).padStart(7)}  ${relative(ROOT, t.file)}`)
          .join('\n') +
        '\n',
    );
    for (const t of timings) times[relative(ROOT, t.file)] = t.wallMs;
    for (const file of Object.keys(times)) if (!existsSync(join(ROOT, file))) delete times[file]; // moved or removed
    try {
      mkdirSync(dirname(TIMES_CACHE), { recursive: true });
      writeFileSync(TIMES_CACHE, JSON.stringify(times, null, 1));
      // A whole run only: a run of a few files would hide where the suite's CPU goes.
      if (filters.length === 0) writeFileSync(LAST_RUN, JSON.stringify(timings.map((t) => ({ ...t, file: relative(ROOT, t.file) })), null, 1));
    } catch {
      // only the order of the next run depends on it
    }
  }
}

if (typecheck) {
  const code = await typecheck;
  if (code === 0) passed++;
  else failed++;
  if (code !== 0) process.stdout.write(typecheckOutput.join(''));
  process.stdout.write(`typecheck: ${code === 0 ? 'ok' : 'FAILED'}\n`);
}

process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);
