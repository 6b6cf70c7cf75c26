/**
 * Bundle layout: a gzipped tarball with `manifest.json` first and the release tree under
 * `payload/`. Shared by the maintainer CLI (create) and the gateway (read, extract).
 */
import { chmod, cp, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as tar from 'tar';
import { MANIFEST_NAME, PAYLOAD_DIR, parseManifest, ManifestError, type Manifest } from './manifest.ts';

/** Reads and validates manifest.json without extracting anything to disk. */
export async function readBundleManifest(bundle: string): Promise<Manifest> {
  let text: string | null = null;
  try {
    await tar.t({
      file: bundle,
      strict: true,
      onReadEntry: (entry) => {
        if (entry.path !== MANIFEST_NAME) return;
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => (text = Buffer.concat(chunks).toString('utf8')));
      },
    });
  } catch (err) {
    throw new ManifestError(`bundle ${bundle} is not a readable tar.gz: ${(err as Error).message}`);
  }
  if (text === null) throw new ManifestError(`bundle ${bundle} has no ${MANIFEST_NAME}`);
  return parseManifest(text);
}

/**
 * Extracts the payload into `dest` (emptied first). Only regular files, directories and the
 * links the signed manifest lists are taken; anything else is skipped, so verifyFiles() then
 * reports a listed file as missing.
 */
export async function extractPayload(bundle: string, dest: string, links: readonly string[] = []): Promise<void> {
  const allowedLinks = new Set(links.map((l) => `${PAYLOAD_DIR}/${l}`));
  await rm(dest, { recursive: true, force: true });
  await mkdir(dest, { recursive: true });
  const prefix = `${PAYLOAD_DIR}/`;
  try {
    await tar.x({
      file: bundle,
      cwd: dest,
      strict: true,
      strip: 1,
      preservePaths: false,
      filter: (path, entry) => {
        const type = 'type' in entry ? entry.type : 'File';
        return path.startsWith(prefix) && (type === 'File' || type === 'Directory' || (type === 'SymbolicLink' && allowedLinks.has(path)));
      },
    });
  } catch (err) {
    throw new ManifestError(`bundle ${bundle} could not be extracted: ${(err as Error).message}`);
  }
}

/** Applies the manifest's file modes (tar's umask handling must not decide them). */
export async function applyModes(root: string, manifest: Manifest): Promise<void> {
  for (const f of manifest.files) await chmod(join(root, ...f.path.split('/')), f.mode);
}

/** Writes `<out>` from a manifest and the release tree it describes. */
export async function createBundle(out: string, manifest: Manifest, root: string): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'kedge-bundle-'));
  try {
    await writeFile(join(tmp, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
    for (const f of manifest.files) {
      const dst = join(tmp, PAYLOAD_DIR, ...f.path.split('/'));
      await cp(join(root, ...f.path.split('/')), dst, { preserveTimestamps: true });
    }
    for (const l of manifest.links) {
      const dst = join(tmp, PAYLOAD_DIR, ...l.path.split('/'));
      await mkdir(dirname(dst), { recursive: true });
      await symlink(l.target, dst);
    }
    await mkdir(join(tmp, PAYLOAD_DIR), { recursive: true });
    await tar.c({ gzip: true, file: out, cwd: tmp, portable: true }, [MANIFEST_NAME, PAYLOAD_DIR]);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}
