/**
 * The signed manifest of an OTA bundle. A bundle is a tarball holding `manifest.json` and the
 * release tree under `payload/`; the manifest lists every payload file with its hash, and the
 * Ed25519 signature covers the canonical JSON of the manifest without `signature`.
 */
import { posix } from 'node:path';
import { z } from 'zod';
import { canonicalJson } from '@kedge/cloud-sync/canonical-json.ts';

export const MANIFEST_FORMAT = 'kedge-ota/1';
export const MANIFEST_NAME = 'manifest.json';
export const PAYLOAD_DIR = 'payload';

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

export const semverSchema = z.string().regex(SEMVER, { error: 'must be a semantic version such as 1.4.2' });

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
  for (const l of r.data.links) {
    const resolved = posix.normalize(posix.join(posix.dirname(l.path), l.target));
    if (l.target.startsWith('/') || resolved === '..' || resolved.startsWith('../')) {
      throw new ManifestError(`link ${l.path} -> ${l.target} points outside the release`);
    }
  }
  for (const f of [...r.data.files, ...r.data.links]) {
    if (seen.has(f.path)) throw new ManifestError(`manifest.json lists ${f.path} twice`);
    seen.add(f.path);
  }
  return r.data;
}

// ---------------------------------------------------------------------------------------
// Semantic versions (precedence per semver.org, build metadata ignored)

export function compareVersions(a: string, b: string): number {
  const pa = SEMVER.exec(a);
  const pb = SEMVER.exec(b);
  if (!pa || !pb) throw new Error(`not a semantic version: ${pa ? b : a}`);
  for (let i = 1; i <= 3; i++) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d !== 0) return Math.sign(d);
  }
  const ra = pa[4];
  const rb = pb[4];
  if (ra === undefined || rb === undefined) return ra === rb ? 0 : ra === undefined ? 1 : -1;
  const xa = ra.split('.');
  const xb = rb.split('.');
  for (let i = 0; i < Math.max(xa.length, xb.length); i++) {
    const x = xa[i];
    const y = xb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return Math.sign(d);
    } else if (nx !== ny) {
      return nx ? -1 : 1;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}
