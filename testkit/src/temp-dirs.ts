/**
 * Temp folders for tests that start daemons, brokers or other children writing into them.
 *
 * node:test runs a test's `t.after` hooks in the order they were registered, so a removal
 * registered together with the folder (before the daemon's stop) runs while the daemon still
 * writes there: ENOTEMPTY fails the test, the stop after it never runs, and the orphaned daemon
 * keeps the file's process alive until the runner's per-file limit. A folder from `tempDir` is
 * removed after everything else the test registered, whenever it was registered.
 */
import type { TestContext } from 'node:test';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killChildrenSync } from './proc.ts';

/**
 * Removal retries on ENOTEMPTY/EBUSY (node waits retryDelay * attempt between them: about 5 s in
 * all): a child's last writes may still land just after its stop resolved (a grandchild's, or
 * the kernel's close of a killed child's files).
 */
const REMOVE_RETRIES = 10;
const RETRY_DELAY_MS = 100;

/** Folders not removed yet: whatever a failed hook left is removed when the process exits. */
const pending = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    // Children first: an orphan still writing would make the removal fail.
    killChildrenSync();
    for (const dir of pending) {
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: REMOVE_RETRIES, retryDelay: RETRY_DELAY_MS });
      } catch (err) {
        process.stderr.write(`temp-dirs: could not remove ${dir} at exit: ${(err as Error).message}\n`);
      }
    }
    pending.clear();
  });
}

/**
 * Runs `fn` after every other `t.after` hook of the test, including those registered after this
 * call. node:test walks a test's hooks by index over the live list, so a hook added while they
 * run is run last; when the first of them runs the test body is over and has registered all it
 * will. (temp-dirs.test.ts fails if a node release changes that.)
 */
export function afterEverything(t: Pick<TestContext, 'after'>, fn: () => unknown): void {
  t.after(() => {
    t.after(fn);
  });
}

/** Removes a folder a stopped child wrote to, retrying while its last writes land. */
export async function removeDir(dir: string): Promise<void> {
  try {
    await rm(dir, { recursive: true, force: true, maxRetries: REMOVE_RETRIES, retryDelay: RETRY_DELAY_MS });
  } catch (err) {
    let left = '';
    try {
      left = readdirSync(dir).slice(0, 20).join(', ');
    } catch {
      // gone after all
    }
    throw new Error(`cannot remove ${dir} (${(err as NodeJS.ErrnoException).code}): something still writes there after every stop ran; left: ${left}`, {
      cause: err,
    });
  }
  pending.delete(dir);
}

/**
 * A fresh folder in `parent` (default the system temp dir), removed after every other clean-up
 * the test registered (the stops of what it started), or at exit if a hook before it failed.
 * `prefix` as for mkdtemp, e.g. 'kedge-main-'.
 */
export function tempDir(t: Pick<TestContext, 'after'>, prefix: string, parent = tmpdir()): string {
  const dir = fileTempDir(prefix, parent);
  afterEverything(t, () => removeDir(dir));
  return dir;
}

/**
 * A folder for a whole test file (shared by its tests, or made in a `before`): removed when
 * the process exits, after the children still running were killed; `removeDir` earlier if the
 * file's own clean-up wants to.
 */
export function fileTempDir(prefix: string, parent = tmpdir()): string {
  installExitHook();
  const dir = mkdtempSync(join(parent, prefix));
  pending.add(dir);
  return dir;
}
