/**
 * The test run proper, started by `npm test` (scripts/src/run-tests.ts) as
 * `node --import tsx --import ./test-timing.ts test-runner.ts --summary <json> -- <files...>`:
 * node's test runner on the files in the order given (the `--test` CLI sorts them by name,
 * which would start the longest files last), spec output on stdout, and the run's own counts
 * written to the summary file.
 */
import { writeFileSync } from 'node:fs';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { Command } from 'commander';
import { intArg, usageExit } from './cli-args.ts';

const program = usageExit(new Command('test-runner.ts'))
  .description('runs node:test on the files in the order given and writes the counts to the summary file')
  .requiredOption('--summary <file>', 'where the run writes its pass/fail/cancelled counts (JSON)')
  .option('--concurrency <n>', 'test files run at a time', intArg(1), 1)
  .option('--timeout <ms>', 'per test file, in ms (default: none)', intArg(1))
  .argument('<files...>', 'test files, in the order to start them')
  .parse();
const values = program.opts<{ summary: string; concurrency: number; timeout?: number }>();
const files = program.args;

export interface RunSummary {
  pass: number;
  fail: number;
  cancelled: number;
}

const counts: Partial<RunSummary> = {};
/**
 * Suites that failed by themselves, not through a test of theirs: node counts them in no total.
 * A file that shares a process is a suite (test-group-entry.ts), so an import that throws or an
 * `after` hook that throws at its top level is one of these; alone, node counts it as a failed
 * test of the file.
 */
let suiteFailures = 0;
const stream = run({ files, concurrency: values.concurrency, timeout: values.timeout ?? Infinity });
stream.on('test:fail', (d: { details?: { type?: string; error?: { failureType?: string } } }) => {
  if (d.details?.type === 'suite' && d.details.error?.failureType !== 'subtestsFailed') suiteFailures++;
});
// The run ends with its own summary as top-level diagnostics ("pass 940"); the files' own
// summaries are not passed on. The last of each name is the run's.
stream.on('test:diagnostic', (d: { nesting: number; message: string }) => {
  const m = d.nesting === 0 ? /^(pass|fail|cancelled) (\d+)$/.exec(d.message) : null;
  if (m) counts[m[1] as keyof RunSummary] = Number(m[2]);
});
stream.on('end', () => {
  if (suiteFailures > 0) counts.fail = (counts.fail ?? 0) + suiteFailures;
  writeFileSync(values.summary, JSON.stringify(counts));
});
stream.pipe(new spec()).pipe(process.stdout);
