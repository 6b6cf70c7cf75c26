import { closeSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** Makes a rename or a new entry in `dir` durable: without it a power cut can undo it. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces a file so that after a power cut it holds the old content or the new one, never a
 * torn mix: temp file in the same folder, fsync, rename, fsync of the folder. `mode` defaults to
 * the mode of the file being replaced, or 0600 for a new one (it may hold credentials).
 */
export function writeFileAtomic(path: string, data: string | Buffer, mode?: number): void {
  let fileMode = mode ?? 0o600;
  if (mode === undefined) {
    try {
      fileMode = statSync(path).mode & 0o777;
    } catch {
      // a new file keeps the private default
    }
  }
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', fileMode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    try {
      unlinkSync(tmp);
    } catch {
      // renamed or never written
    }
    throw err;
  }
  fsyncDir(dirname(path));
}
