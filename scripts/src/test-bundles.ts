/**
 * The bundles `npm test` starts kedge's programs from (see testkit/src/entry.ts): the
 * production build (build.ts, same entries, externals and asset rewriting) of the current
 * sources, made at the start of every run into a folder of that run's own, removed at its end.
 *
 * The folder sits under node_modules/.cache/kedge, inside the repository: a bundle resolves its
 * external packages (better-sqlite3, node-opcua, ...) from node_modules above it, which a folder
 * under /tmp would not have. Several runs may go on at once (each engineer runs their own
 * files), so each has its own folder, named by the runner's pid; a run that was killed leaves
 * its folder behind, and the next run removes every folder whose runner is gone.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ENTRIES, buildDist } from './build.ts';

const PREFIX = 'test-bundles-';

export interface TestBundles {
  dir: string;
  /** Entry source relative to the repository root -> absolute path of its bundle. */
  bundles: Record<string, string>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function removeAbandoned(cacheDir: string): void {
  let names: string[];
  try {
    names = readdirSync(cacheDir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(PREFIX)) continue;
    const pid = Number(name.slice(PREFIX.length));
    if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) rmSync(join(cacheDir, name), { recursive: true, force: true });
  }
}

/** Builds every entry of build.ts from the sources under `root`; throws the build's errors. */
export async function buildTestBundles(root: string): Promise<TestBundles> {
  const cacheDir = join(root, 'node_modules/.cache/kedge');
  mkdirSync(cacheDir, { recursive: true });
  removeAbandoned(cacheDir);
  const dir = join(cacheDir, `${PREFIX}${process.pid}`);
  // Not minified: a daemon's stack trace in a failing test's output keeps readable names and lines.
  await buildDist({ root, outDir: dir, minify: false });
  const bundles = Object.fromEntries(Object.entries(ENTRIES).map(([name, source]) => [source, join(dir, `${name}.mjs`)]));
  return { dir, bundles };
}

export function removeTestBundles(b: TestBundles): void {
  rmSync(b.dir, { recursive: true, force: true });
}
