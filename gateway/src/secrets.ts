import { readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { driverDefinition } from './drivers/registry.ts';
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

/** The fields of an uplink that name secret or TLS files. */
interface SecretUplinkFields {
  passwordFile?: string | undefined;
  tokenFile?: string | undefined;
  tls?: { ca?: string | undefined; cert?: string | undefined; key?: string | undefined } | undefined;
}

/** The config fields that name secret or TLS files, with their paths (as resolved by the loader). */
export function secretFilePaths(config: {
  uplink: SecretUplinkFields;
  /** Every configured uplink (config.uplink is one of them). */
  uplinks?: readonly SecretUplinkFields[] | undefined;
  legacyUplinkKey?: boolean | undefined;
  devices: ReadonlyArray<object>;
}): SecretFileRef[] {
  const out: SecretFileRef[] = [];
  const add = (segments: Array<string | number>, file: unknown) => {
    const path = segments.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
    if (typeof file === 'string') out.push({ path, segments, file });
  };
  // Every uplink's files; the deprecated single `uplink:` is named as the file has it.
  const uplinks = config.uplinks && !config.legacyUplinkKey ? config.uplinks.map((u, i) => ({ u, at: ['uplinks', i] as Array<string | number> })) : [{ u: config.uplink, at: ['uplink'] as Array<string | number> }];
  for (const { u, at } of uplinks) {
    add([...at, 'passwordFile'], u.passwordFile);
    add([...at, 'tokenFile'], u.tokenFile);
    for (const k of ['ca', 'cert', 'key'] as const) add([...at, 'tls', k], u.tls?.[k]);
  }
  // Which fields of a device name files is its driver's knowledge (DriverDefinition.secretFiles).
  config.devices.forEach((d, i) => {
    const files = driverDefinition(String((d as { driver?: unknown }).driver))?.secretFiles?.(d as Record<string, unknown>) ?? [];
    for (const f of files) add(['devices', i, ...f.segments], f.file);
  });
  return out;
}

export interface SecretFileRef {
  /** Field path as config issues name it (`uplink.tls.key`, `devices[2].auth.passwordFile`). */
  path: string;
  segments: Array<string | number>;
  file: string;
}

/** Every secret or TLS file the config names outside the allowed folders, as config issues. */
export function secretPathIssues(
  config: Parameters<typeof secretFilePaths>[0] & Parameters<typeof secretRoots>[0],
): Array<{ path: string; segments: Array<string | number>; message: string }> {
  const roots = secretRoots(config);
  return secretFilePaths(config).flatMap(({ path, segments, file }) => {
    const problem = secretPathProblem(file, roots);
    return problem ? [{ path, segments, message: problem }] : [];
  });
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
