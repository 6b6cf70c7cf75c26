import { readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { writeFileAtomic } from './write-file-atomic.ts';

// Files only: which config fields name secret files is config/secret-files.ts's (with the
// drivers' secretFiles hooks), so this module, which every driver reads secrets through
// (driver-context.ts), imports no driver and no config.

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

/**
 * Folders secret and TLS files may be read from: `<dataDir>/secrets`, `<dataDir>/tls` (where the
 * web UI stores uploads) and `secretsDir` when the config names one. Anything else the daemon
 * could read (/etc/hostname, another service's key) must never become a "password" that the
 * uplink sends to a broker of someone's choosing.
 */
export function secretRoots(config: { dataDir: string; secretsDir?: string | undefined }): string[] {
  return [join(config.dataDir, 'secrets'), join(config.dataDir, 'tls'), ...(config.secretsDir !== undefined ? [config.secretsDir] : [])].map((p) =>
    resolve(p),
  );
}

const inside = (path: string, root: string) => {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
};

/** Why `path` may not hold a secret (outside every root), or null. Lexical: see readSecretFile for links. */
export function secretPathProblem(path: string, roots: readonly string[]): string | null {
  if (roots.some((root) => inside(resolve(path), root))) return null;
  return `${path} is outside the folders secret files may be read from (${roots.join(', ')}): move the file there, or set secretsDir in the config file on the box`;
}

/** Raised when a secret file lies (or its links lead) outside the allowed folders. */
export class SecretPathError extends Error {
  override name = 'SecretPathError';
}

/**
 * Reads a secret or TLS file after checking that it, with every symbolic link resolved, lies
 * inside one of `roots`: a link planted in the secrets folder must not lead elsewhere.
 */
export function readSecretFile(path: string, roots: readonly string[]): Buffer {
  const lexical = secretPathProblem(path, roots);
  if (lexical) throw new SecretPathError(lexical);
  const real = realpathSync(path);
  const realRoots = roots.map((r) => {
    try {
      return realpathSync(r);
    } catch {
      return r;
    }
  });
  if (!realRoots.some((root) => inside(real, root))) {
    throw new SecretPathError(`${path} leads to ${real}, outside the folders secret files may be read from (${roots.join(', ')})`);
  }
  return readFileSync(real);
}
