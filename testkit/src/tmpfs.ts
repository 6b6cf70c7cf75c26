import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A small real file system for disk-full tests: a tmpfs of a fixed size, mounted by a test
 * run as root and unmounted in its cleanup, or at exit when that never ran. `fill()` takes
 * every free byte with a filler file, `free()` deletes it, so a test decides exactly when the
 * disk is full.
 */
export interface Tmpfs {
  dir: string;
  /** Writes a filler file until the file system says ENOSPC; returns the bytes taken. */
  fill(): number;
  /** Deletes the filler: the space is back. */
  free(): void;
  unmount(): void;
}

/** Why these tests cannot run here, or null when they can (root, mount works). */
export function tmpfsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs (run the suite as root, as .ci/run does)';
  return null;
}

/**
 * Mounts not unmounted yet, unmounted when the process exits: node:test skips a test's later
 * `after` hooks once one throws, and a root tmpfs left mounted outlives the run.
 */
const stillMounted = new Set<string>();
let exitHookInstalled = false;

function umountLazily(dir: string): void {
  stillMounted.delete(dir);
  // Lazy: a process of the test that still has a file open must not leave the mount behind.
  execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  rmSync(dir, { recursive: true, force: true });
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const dir of [...stillMounted]) {
      try {
        umountLazily(dir);
      } catch (err) {
        process.stderr.write(`tmpfs: could not unmount ${dir} at exit: ${(err as Error).message}\n`);
      }
    }
  });
}

export function mountTmpfs(sizeBytes: number, name = 'kedge-tmpfs'): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`cannot mount a tmpfs on ${dir}: ${(err as Error).message}`, { cause: err });
  }
  installExitHook();
  stillMounted.add(dir);
  const filler = join(dir, 'filler');
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a');
      const chunk = Buffer.alloc(64 * 1024, 0x55);
      let taken = 0;
      try {
        for (;;) {
          try {
            taken += writeSync(fd, chunk);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
            // The last partial chunk: take the remaining bytes one page at a time.
            return taken + fillRest(fd);
          }
        }
      } finally {
        closeSync(fd);
      }
    },
    free() {
      try {
        unlinkSync(filler);
      } catch {
        // nothing to free
      }
    },
    unmount() {
      if (stillMounted.has(dir)) umountLazily(dir);
    },
  };
}

function fillRest(fd: number): number {
  const page = Buffer.alloc(4096, 0x55);
  let taken = 0;
  for (;;) {
    try {
      taken += writeSync(fd, page);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return taken;
      throw err;
    }
  }
}
