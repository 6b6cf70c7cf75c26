/**
 * Several test files in one process (test-groups.ts, test-group-entry.ts): each file keeps its
 * own hooks and its place in the order, a failure names its file, each file gets its timing
 * record, and files that change what the process shares run alone.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GROUP_BUDGET_MS, groupBudgetMs, groupModuleSource, planGroups, sharesProcess, type GroupInput } from './test-groups.ts';
import { TIMING_DIR_ENV, type FileTiming } from './test-timing.ts';
import type { RunSummary } from './test-runner.ts';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const run = promisify(execFile);

/** The environment of a run of its own: not a file of this run, not writing into its timings. */
function withoutTestContext(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  delete env[TIMING_DIR_ENV];
  return env;
}

const file = (body: string) =>
  [
    "import { after, before, test } from 'node:test';",
    "import { appendFileSync } from 'node:fs';",
    "const log = (s: string): void => appendFileSync(process.env.GROUP_LOG!, s + '\\n');",
    body,
    '',
  ].join('\n');

interface GroupRun {
  /** Each file's path, by the name given. */
  paths: Record<string, string>;
  /** What the files logged, in order. */
  log: string[];
  summary: RunSummary;
  /** The spec output. */
  out: string;
  timings: FileTiming[];
  dir: string;
}

/** Runs `files` (name -> body, in this order) as one group through npm test's runner. */
async function runAsGroup(t: test.TestContext, files: Record<string, string>): Promise<GroupRun> {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-test-groups-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const logFile = join(dir, 'log.txt');
  writeFileSync(logFile, '');
  const paths = Object.fromEntries(Object.keys(files).map((name) => [name, join(dir, `${name}.ts`)]));
  for (const [name, body] of Object.entries(files)) writeFileSync(paths[name]!, file(body));
  const group = join(dir, 'group.mjs');
  writeFileSync(group, groupModuleSource(dir, Object.values(paths)));
  const timings = join(dir, 'timings');
  mkdirSync(timings);
  const summary = join(dir, 'summary.json');
  const out = await run(
    process.execPath,
    ['--import', here('./ts-loader.mjs'), '--import', here('./test-timing.ts'), here('./test-runner.ts'), `--summary=${summary}`, '--', group],
    { env: { ...withoutTestContext(), GROUP_LOG: logFile, [TIMING_DIR_ENV]: timings } },
  ).then(
    (r) => r.stdout,
    (e: { stdout: string; stderr: string }) => e.stdout + e.stderr,
  );
  return {
    paths,
    log: readFileSync(logFile, 'utf8').trim().split('\n'),
    summary: JSON.parse(readFileSync(summary, 'utf8')) as RunSummary,
    out,
    timings: readdirSync(timings).map((n) => JSON.parse(readFileSync(join(timings, n), 'utf8')) as FileTiming),
    dir,
  };
}

test('a group runs its files one after the other, each with its own hooks; a failure is reported under its file, and each file is timed', async (t) => {
  const r = await runAsGroup(t, {
    a: "before(() => log('a before'));\nafter(() => log('a after'));\ntest('a one', async () => { await new Promise((r) => setTimeout(r, 20)); log('a one'); });",
    // Its tests are registered after a top-level await: they still belong to b's suite.
    b: "await new Promise((r) => setImmediate(r));\nafter(() => log('b after'));\ntest('b one', () => log('b one'));",
    c: "test('c passes', () => log('c passes'));\ntest('c fails', () => { throw new Error('broken on purpose'); });",
  });
  assert.deepEqual(r.log, ['a before', 'a one', 'a after', 'b one', 'b after', 'c passes']);
  assert.deepEqual(r.summary, { pass: 3, fail: 1, cancelled: 0 });
  // The spec output names the file around its failing test.
  assert.match(r.out, /▶ c\.ts\n(.*\n)*?\s+✖ c fails/);
  const start = join(r.dir, '(start of the process of a.ts + 2)');
  assert.deepEqual(r.timings.map((x) => x.file).sort(), [start, r.paths.a, r.paths.b, r.paths.c].sort());
  const ofA = r.timings.find((x) => x.file === r.paths.a)!;
  assert.ok(ofA.wallMs >= 20, `a's record covers its test: ${JSON.stringify(ofA)}`);
  assert.ok(r.timings.find((x) => x.file === start)!.cpuMs > 0, 'the start-up has its own record');
});

test('in a group, a file whose import throws and a file whose top-level after hook throws are failures of the run', async (t) => {
  const r = await runAsGroup(t, {
    broken: "import './no-such-module.ts';\ntest('never registered', () => log('broken ran'));",
    hook: "after(() => { throw new Error('clean-up failed on purpose'); });\ntest('hook test', () => log('hook test'));",
    fine: "test('fine test', () => log('fine test'));",
  });
  assert.deepEqual(r.log, ['hook test', 'fine test']);
  assert.deepEqual(r.summary, { pass: 2, fail: 2, cancelled: 0 });
});

test('a file that changes what the process shares runs alone', () => {
  const alone = [
    "t.mock.timers.enable({ apis: ['setTimeout'] });",
    "mock.method(fs, 'readFileSync');",
    'Date.now = () => 0;',
    "process.env.TZ = 'UTC';",
    "process.env['KEDGE_X'] = '1';",
    'delete process.env.KEDGE_X;',
    "process.on('exit', () => {});",
    "process.once('uncaughtException', () => {});",
    'process.exit(1);',
    'process.chdir(dir);',
    "const self = process.argv[1];",
    'global.gc?.();',
    'const { heapUsed } = process.memoryUsage();',
    'globalThis.fetch = fake;',
    'Error.stackTraceLimit = 50;',
    'Scheduler.prototype.start = function () {};',
    "const helper = load('node-red-node-test-helper');",
    'await ready;',
    'const server = await startServer();',
    'export const { port } = (await listen());',
  ];
  for (const line of alone) assert.equal(sharesProcess(`import test from 'node:test';\n${line}\n`), false, line);
  const shared = [
    "assert.equal(env.TZ, 'UTC');",
    "const child = spawn(process.execPath, ['x'], { env: { ...process.env, A: '1' } });",
    'if (process.env.CI === undefined) skip();',
    '  await once(child, "exit");',
    '  const out = await run();',
    'if (Scheduler.prototype.start === undefined) skip();',
  ];
  for (const line of shared) assert.equal(sharesProcess(`import test from 'node:test';\n${line}\n`), true, line);
});

test('files are grouped in path order within the budget; long and unshareable files run alone; every file runs exactly once', () => {
  const input: GroupInput[] = [
    { file: 'gateway/src/web/b.test.ts', estimateMs: 3_000, shareable: true },
    { file: 'gateway/src/chaos/kill.chaos.test.ts', estimateMs: 20_000, shareable: true },
    { file: 'gateway/src/web/a.test.ts', estimateMs: 4_000, shareable: true },
    { file: 'gateway/src/scheduler/scheduler.test.ts', estimateMs: 500, shareable: false },
    { file: 'gateway/src/web/c.test.ts', estimateMs: 5_000, shareable: true },
    { file: 'gateway/src/web/d.test.ts', estimateMs: 1_000, shareable: true },
  ];
  const groups = planGroups(input, { soloMs: 6_000, budgetMs: 10_000 });
  assert.deepEqual(groups, [
    ['gateway/src/chaos/kill.chaos.test.ts'],
    ['gateway/src/scheduler/scheduler.test.ts'],
    ['gateway/src/web/a.test.ts', 'gateway/src/web/b.test.ts'],
    ['gateway/src/web/c.test.ts', 'gateway/src/web/d.test.ts'],
  ]);
  // A file over the budget by itself still runs, alone.
  assert.deepEqual(planGroups([{ file: 'x.test.ts', estimateMs: 5_000, shareable: true }], { soloMs: 6_000, budgetMs: 1_000 }), [['x.test.ts']]);
  assert.deepEqual(planGroups([]), []);
});

test('the budget leaves each slot several processes in a narrowed run, and stays at most GROUP_BUDGET_MS', () => {
  assert.equal(groupBudgetMs(600_000, 4), GROUP_BUDGET_MS);
  assert.equal(groupBudgetMs(24_000, 4), 2_000);
});
