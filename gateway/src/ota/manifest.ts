/**
 * The signed manifest of an OTA bundle. A bundle is a tarball holding `manifest.json` and the
 * release tree under `payload/`; the manifest lists every payload file with its hash, and the
 * Ed25519 signature covers the canonical JSON of the manifest without `signature`.
 */
import semver from 'semver';
import { z } from 'zod';
import { canonicalJson } from '@kedge/cloud-sync/canonical-json.ts';

export const MANIFEST_FORMAT = 'kedge-ota/1';
export const MANIFEST_NAME = 'manifest.json';
export const PAYLOAD_DIR = 'payload';

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

export const semverSchema = z
  .string()
  .regex(SEMVER, { error: 'must be a semantic version such as 1.4.2' })
  // What the regex lets through but semver.org forbids (numeric pre-release parts with leading zeros: 1.2.3-01).
  .refine((v) => !SEMVER.test(v) || semver.valid(v) !== null, { error: 'must be a semantic version such as 1.4.2 (no leading zeros in numeric parts)' });

/** A relative path inside the payload: no absolute paths, no `..`, no backslashes. */
const relPath = z.string().superRefine((p, ctx) => {
  if (p.length === 0 || p.startsWith('/') || p.includes('\\') || p.split('/').some((s) => s === '..' || s === '.' || s === '')) {
    ctx.addIssue({ code: 'custom', message: `"${p}" is not a clean relative path` });
  }
});

export const manifestFileSchema = z.strictObject({
  path: relPath,
  sha256: z.string().regex(/^[0-9a-f]{64}$/, { error: 'must be 64 lowercase hex digits' }),
  size: z.number().int().min(0),
  mode: z.number().int().min(0).max(0o777),
});

export const manifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  version: semverSchema,
  /** Oldest version that may install this release (migrations it relies on). */
  minPreviousVersion: semverSchema,
  createdAt: z.string().datetime(),
  /** Arguments to `node`, relative to the slot directory, that start the daemon. */
  entry: z.array(z.string().min(1)).min(1),
  /** Present when node_modules is not shipped: run in the slot before switching to it. */
  rebuild: z.strictObject({ command: z.array(z.string().min(1)).min(1), reason: z.string() }).optional(),
  files: z.array(manifestFileSchema).min(1),
  /** Symbolic links inside the payload (npm workspaces link node_modules/@kedge/* to the sources). */
  links: z.array(z.strictObject({ path: relPath, target: z.string().min(1) })).default([]),
  keyId: z.string().min(1),
  signature: z.string().min(1),
});

export type Manifest = z.output<typeof manifestSchema>;
export type ManifestFile = z.output<typeof manifestFileSchema>;
export type UnsignedManifest = Omit<Manifest, 'signature'>;


export function signedBytes(manifest: UnsignedManifest | Manifest): Buffer {
  const { signature: _ignored, ...rest } = manifest as Manifest;
  return Buffer.from(canonicalJson(rest), 'utf8');
}

export class ManifestError extends Error {
  override name = 'ManifestError';
}

export function parseManifest(text: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(`manifest.json is not JSON: ${(err as Error).message}`);
  }
  const r = manifestSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ManifestError(`manifest.json is invalid: ${lines.join('; ')}`);
  }
  const seen = new Set<string>();
  for (const f of [...r.data.files, ...r.data.links]) {
    if (seen.has(f.path)) throw new ManifestError(`manifest.json lists ${f.path} twice`);
    seen.add(f.path);
  }
  checkLinks(r.data);
  return r.data;
}

/** Longest chain of links followed while resolving one path (Linux gives up at 40 too). */
const MAX_LINK_HOPS = 40;

/**
 * Resolves `path` inside the release as the kernel would, following the manifest's links at
 * every component (so `c -> a/b/..` is resolved through `a/b -> ..`, not normalised
 * lexically). Returns the components of the resolved path, or throws when it leaves the
 * release at any point (a `..` above the root, an absolute target) or loops.
 */
export function resolveInRelease(path: string, links: ReadonlyMap<string, string>, what = path): string[] {
  const at: string[] = [];
  const todo = path.split('/');
  let hops = 0;
  while (todo.length > 0) {
    const c = todo.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (at.length === 0) throw new ManifestError(`link ${what} points outside the release`);
      at.pop();
      continue;
    }
    at.push(c);
    const target = links.get(at.join('/'));
    if (target === undefined) continue;
    if (++hops > MAX_LINK_HOPS) throw new ManifestError(`link ${what} does not resolve: more than ${MAX_LINK_HOPS} links in a chain (a loop?)`);
    if (target.startsWith('/')) throw new ManifestError(`link ${what} points outside the release (through ${at.join('/')} -> ${target})`);
    at.pop(); // a relative target is relative to the link's directory
    todo.unshift(...target.split('/'));
  }
  return at;
}

/**
 * Every link must resolve inside the release, through any chain of other links, and no listed
 * file or link may sit below a link (it would be written through it, wherever it points).
 */
function checkLinks(m: { files: ReadonlyArray<{ path: string }>; links: ReadonlyArray<{ path: string; target: string }> }): void {
  const links = new Map(m.links.map((l) => [l.path, l.target]));
  for (const l of m.links) {
    try {
      resolveInRelease(l.path, links, `${l.path} -> ${l.target}`);
    } catch (err) {
      throw new ManifestError((err as Error).message);
    }
  }
  for (const e of [...m.files, ...m.links]) {
    const parts = e.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (links.has(dir)) throw new ManifestError(`${e.path} lies below the link ${dir}: it would be written through the link`);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Semantic versions (precedence per semver.org, build metadata ignored)

export function compareVersions(a: string, b: string): number {
  // The format the manifest schema accepts (no leading "v", no loose forms), then semver's precedence.
  for (const v of [a, b]) if (!SEMVER.test(v) || semver.valid(v) === null) throw new Error(`not a semantic version: ${v}`);
  return semver.compare(a, b);
}
