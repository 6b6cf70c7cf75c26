/**
 * `kedge-ota build`: a signed bundle of the repo's runtime files.
 *
 * node_modules: shipped when the bundle is built on linux/arm64 (the boxes' platform), since
 * native addons (better-sqlite3, serialport) must match the box; built anywhere else, the
 * manifest carries a rebuild command the gateway runs in the new slot before switching to
 * it (`npm ci`, which needs the npm registry or a mirror reachable from the box).
 *
 * With the production bundle built (`npm run build`: dist/gateway.mjs) the release is dist/
 * plus the package.json files (for npm ci of the externals: native addons, node-opcua), its
 * entry runs the bundle, and the rebuild omits dev dependencies. Without it the release is
 * the TypeScript sources, run through tsx (a devDependency, so that rebuild keeps dev).
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { createBundle } from '@kedge/gateway/ota/bundle.ts';
import { MANIFEST_FORMAT, type Manifest, type ManifestFile } from '@kedge/gateway/ota/manifest.ts';
import { keyFingerprint, parsePrivateKey, signManifest } from '@kedge/gateway/ota/verify.ts';
import { DIST_ENTRY, DIST_MAIN, TSX_ENTRY } from '@kedge/gateway/ota/entry.ts';

export const DEFAULT_ENTRY = TSX_ENTRY;
/** What the daemon needs at runtime, relative to the repo root. */
export const RUNTIME_PATHS = [
  'package.json',
  'package-lock.json',
  'gateway/package.json',
  'gateway/src',
  'cloud-sync/package.json',
  'cloud-sync/src',
  'device-profiles',
  'firmware-ts/package.json',
  'scripts/package.json',
  // npm ci reads every workspace's package.json, even of workspaces a box does not run.
  'testkit/package.json',
  'node-red-contrib-kedge/package.json',
];
/** What a release built from dist/ needs: the bundle, and what npm ci reads (every workspace's package.json). */
export async function distRuntimePaths(root: string): Promise<string[]> {
  const { workspaces = [] } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { workspaces?: string[] };
  return ['package.json', 'package-lock.json', ...workspaces.map((w) => `${w}/package.json`), 'dist'];
}
const REBUILD = { command: ['npm', 'ci', '--no-audit', '--no-fund'], reason: 'node_modules not shipped (bundle built off linux/arm64): rebuilt on the box' };
const REBUILD_DIST = { ...REBUILD, command: [...REBUILD.command, '--omit=dev'] };

/** dist/ when `npm run build` produced it under root (and neither paths nor entry were forced). */
export function usesDist(root: string, o: { paths?: string[]; entry?: string[] } = {}): boolean {
  return !o.paths && !o.entry && existsSync(join(root, DIST_MAIN));
}

export interface BuildOptions {
  root: string;
  out: string;
  privateKeyPem: string;
  keyId?: string;
  version: string;
  minPreviousVersion: string;
  /** Default RUNTIME_PATHS. */
  paths?: string[];
  entry?: string[];
  /** Ship node_modules (default: only on linux/arm64). */
  nodeModules?: boolean;
  /** Add the rebuild command (default: when node_modules is not shipped). */
  rebuild?: boolean;
  now?: Date;
}

const skip = (rel: string) => rel.endsWith('.test.ts') || rel.split('/').includes('testcases') || rel.split('/').includes('.git');

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

async function walk(root: string, rel: string, files: ManifestFile[], links: Manifest['links'], inNodeModules: boolean): Promise<void> {
  const abs = join(root, rel);
  const st = await lstat(abs).catch(() => null);
  if (!st) return;
  const posixRel = rel.split(sep).join('/');
  // Nested node_modules (a workspace's own) only travel with the shipped top-level one.
  if (!inNodeModules && (skip(posixRel) || posixRel.split('/').includes('node_modules'))) return;
  if (st.isSymbolicLink()) {
    if (!posixRel.includes('/.bin/')) links.push({ path: posixRel, target: await readlink(abs) });
    return;
  }
  if (st.isDirectory()) {
    for (const e of (await readdir(abs)).sort()) await walk(root, join(rel, e), files, links, inNodeModules || e === 'node_modules');
    return;
  }
  if (st.isFile()) files.push({ path: posixRel, sha256: await sha256(abs), size: st.size, mode: st.mode & 0o777 });
}

export async function buildBundle(o: BuildOptions): Promise<Manifest> {
  const key = parsePrivateKey(o.privateKeyPem);
  const files: ManifestFile[] = [];
  const links: Manifest['links'] = [];
  const ship = o.nodeModules ?? (process.platform === 'linux' && process.arch === 'arm64');
  const dist = usesDist(o.root, o);
  const paths = [...(o.paths ?? (dist ? await distRuntimePaths(o.root) : RUNTIME_PATHS)), ...(ship ? ['node_modules'] : [])];
  for (const p of paths) await walk(o.root, p, files, links, p === 'node_modules');
  if (files.length === 0) throw new Error(`nothing to pack under ${o.root} (${paths.join(', ')})`);
  const manifest = signManifest(
    {
      format: MANIFEST_FORMAT,
      version: o.version,
      minPreviousVersion: o.minPreviousVersion,
      createdAt: (o.now ?? new Date()).toISOString(),
      entry: o.entry ?? (dist ? DIST_ENTRY : DEFAULT_ENTRY),
      ...((o.rebuild ?? !ship) ? { rebuild: dist ? REBUILD_DIST : REBUILD } : {}),
      files,
      links,
      keyId: o.keyId ?? keyFingerprint(key),
    },
    key,
  );
  await createBundle(o.out, manifest, o.root);
  return manifest;
}

export async function rootVersion(root: string): Promise<string> {
  return (JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}
