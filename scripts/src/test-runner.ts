/**
 * The test run proper, started by `npm test` (scripts/src/run-tests.ts) as
 * `node --import tsx --import ./test-timing.ts test-runner.ts --summary <json> -- <files...>`:
 * node's test runner on the files in the order given (the `--test` CLI sorts them by name,
 * which would start the longest files last), spec output on stdout, and the run's own counts
 * written to the summary file.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';

const { values, positionals: files } = parseArgs({
  options: {
    concurrency: { type: 'string' },
    timeout: { type: 'string' },
    summary: { type: 'string' },
  },
  allowPositionals: true,
});
if (!values.summary || files.length === 0) {
  process.stderr.write('usage: test-runner.ts --concurrency N --timeout MS --summary FILE -- FILE...\n');
  process.exit(2);
}

export interface RunSummary {
  pass: number;
  fail: number;
  cancelled: number;
}

const counts: Partial<RunSummary> = {};
const stream = run({ files, concurrency: Number(values.concurrency ?? 1), timeout: Number(values.timeout ?? Infinity) });
// The run ends with its own summary as top-level diagnostics ("pass 940"); the files' own
// summaries are not passed on. The last of each name is the run's.
stream.on('test:diagnostic', (d: { nesting: number; message: string }) => {
  const m = d.nesting === 0 ? /^(pass|fail|cancelled) (\d+)$/.exec(d.message) : null;
  if (m) counts[m[1] as keyof RunSummary] = Number(m[2]);
});
stream.on('end', () => {
  writeFileSync(values.summary!, JSON.stringify(counts));
});
stream.pipe(new spec()).pipe(process.stdout);
