/**
 * How a test starts one of kedge's programs (the gateway daemon, the ingest, the OTA launcher)
 * as a child process: the node arguments before the program's own.
 *
 * Under `npm test` the runner bundles those programs from the current sources with the
 * production build (scripts/src/build.ts) into a folder of its own at the start of every run,
 * and names the bundles in KEDGE_TEST_BUNDLES. A child then starts from its bundle: what ships,
 * and about 1.3 s of CPU less per start than TypeScript through tsx, which loads and hooks every
 * module one by one. A test file run by hand (`node --import tsx --test file.test.ts`) has no
 * bundles and starts the source through tsx, so no test ever runs code older than its sources.
 */
import { isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** JSON object: entry source relative to the repository root -> absolute path of its bundle. */
export const TEST_BUNDLES_ENV = 'KEDGE_TEST_BUNDLES';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function bundles(): Record<string, string> {
  const raw = process.env[TEST_BUNDLES_ENV];
  if (!raw) return {};
  try {
    return JSON.parse(raw) as Record<string, string>;
  } catch {
    throw new Error(`${TEST_BUNDLES_ENV} is not a JSON object of entry -> bundle: ${raw}`);
  }
}

/**
 * `source`: the entry point, relative to the repository root (`gateway/src/main.ts`) or absolute.
 * Returns `[bundle]` when this run built one for it, else `['--import', 'tsx', source]`.
 */
export function nodeEntry(source: string): string[] {
  const abs = isAbsolute(source) ? source : join(ROOT, source);
  const bundle = bundles()[relative(ROOT, abs).split('\\').join('/')];
  return bundle ? [bundle] : ['--import', 'tsx', abs];
}

/**
 * A TypeScript file no bundle is built for (a test's fixture program): the node arguments that
 * start it with the loader this test process runs under when that is `npm test`'s
 * (scripts/src/ts-loader.mjs, about half the CPU of tsx per start), else through tsx.
 */
export function tsEntry(source: string): string[] {
  const abs = isAbsolute(source) ? source : join(ROOT, source);
  const args = process.execArgv;
  const loader = args.findIndex((a, i) => args[i - 1] === '--import' && /\/ts-loader\.mjs$/.test(a));
  return loader >= 0 ? ['--import', args[loader]!, abs] : ['--import', 'tsx', abs];
}
