import { closeSync, fsyncSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Writes a secret (key, password hash, token) readable by the daemon's user only, atomically:
 * a power cut leaves the old file or the new one, never half of either.
 */
export function writeSecretFile(path: string, data: string | Buffer): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** A warning when a secret file can be read by other users, else null. */
export function secretFileProblem(path: string): string | null {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) === 0) return null;
  return `${path} holds a secret but has mode ${mode.toString(8).padStart(4, '0')}; run: chmod 600 ${path}`;
}
