import { statSync } from 'node:fs';
import { writeFileAtomic } from './write-file-atomic.ts';

/** Writes a secret (key, password hash, token) readable by the daemon's user only, atomically. */
export function writeSecretFile(path: string, data: string | Buffer): void {
  writeFileAtomic(path, data, 0o600);
}

/** A warning when a secret file can be read by other users, else null. */
export function secretFileProblem(path: string): string | null {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) === 0) return null;
  return `${path} holds a secret but has mode ${mode.toString(8).padStart(4, '0')}; run: chmod 600 ${path}`;
}
