/**
 * Bundle layout: a gzipped tarball with `manifest.json` first and the release tree under
 * `payload/`. Shared by the maintainer CLI (create) and the gateway (read, extract).
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, mkdirSync, openSync, writeSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import type { ReadEntry } from 'tar';
import { MANIFEST_NAME, PAYLOAD_DIR, parseManifest, ManifestError, type Manifest } from './manifest.ts';

/** A manifest larger than this is refused before it is buffered (about 50,000 files listed). */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/**
 * Runs a tar parser over the (gzipped) bundle. `onEntry` sees every entry's header before any
 * of its bytes; it may consume the entry, or stop the whole parse by throwing or by calling
 * `stop()` (nothing after that point is decompressed). Resolves once stopped or at the end.
 */
async function parseBundle(bundle: string, onEntry: (entry: ReadEntry, stop: () => void) => void): Promise<void> {
  // Loaded when an update is installed, not by every daemon start (~85 KB of code resident).
  const tar = await import('tar');
  return new Promise((resolve, reject) => {
    const source = createReadStream(bundle);
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      source.unpipe(parser);
      source.destroy();
      if (err) reject(err);
      else resolve();
    };
    const parser = new tar.Parser({
      strict: true,
      onReadEntry: (entry) => {
        if (settled) {
          entry.resume();
          return;
        }
        try {
          onEntry(entry, () => finish());
        } catch (err) {
          entry.resume();
          finish(err as Error);
        }
      },
    });
    // The parser skips an entry of unknown type (or a PAX header over 1 MiB) without showing it
    // to onEntry, but still decompresses all of it: a CPU bomb that no size check would see.
    parser.on('ignoredEntry', (entry: ReadEntry) => finish(new ManifestError(`entry ${entry.path} (type ${entry.type}) is neither a file, a link nor a directory`)));
    parser.on('error', (err: Error) => finish(err));
    parser.on('abort', (err: Error) => finish(err));
    parser.on('end', () => finish());
    source.on('error', (err) => finish(err));
    source.pipe(parser);
  });
}

/**
 * Reads and validates manifest.json, which must be the bundle's first entry, without
 * extracting anything to disk and without decompressing past it.
 */
export async function readBundleManifest(bundle: string): Promise<Manifest> {
  let text: string | null = null;
  let problem: string | null = null;
  try {
    await parseBundle(bundle, (entry, stop) => {
      if (entry.path !== MANIFEST_NAME || entry.type !== 'File') {
        problem = `its first entry is ${entry.path}, not ${MANIFEST_NAME}`;
        throw new ManifestError(problem);
      }
      if (entry.size > MAX_MANIFEST_BYTES) {
        problem = `${MANIFEST_NAME} has ${entry.size} bytes, more than the ${MAX_MANIFEST_BYTES} allowed`;
        throw new ManifestError(problem);
      }
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => chunks.push(c));
      entry.on('end', () => {
        text = Buffer.concat(chunks).toString('utf8');
        stop();
      });
    });
  } catch (err) {
    throw new ManifestError(problem ? `bundle ${bundle}: ${problem}` : `bundle ${bundle} is not a readable tar.gz: ${(err as Error).message}`);
  }
  if (text === null) throw new ManifestError(`bundle ${bundle} has no ${MANIFEST_NAME}`);
  return parseManifest(text);
}

/**
 * Upper bound of a bundle's size from its manifest: tar headers (with long-name PAX headers),
 * the padded file contents, directory entries, the manifest itself, the end-of-archive
 * records, and gzip's worst case of stored blocks. An offer larger than this cannot hold
 * what the manifest lists and is refused before the download.
 */
export function maxBundleBytes(manifest: Manifest): number {
  const HEADER = 2048; // ustar header + a PAX header for long paths
  const pad = (n: number) => Math.ceil(n / 512) * 512;
  let tarBytes = pad(Buffer.byteLength(JSON.stringify(manifest, null, 2)) + 1) + HEADER + 10240 * 2;
  const dirs = new Set<string>();
  for (const f of manifest.files) {
    tarBytes += HEADER + pad(f.path.length) + pad(f.size);
    for (let d = posix.dirname(f.path); d !== '.'; d = posix.dirname(d)) dirs.add(d);
  }
  for (const l of manifest.links) {
    tarBytes += HEADER + pad(l.path.length) + pad(l.target.length);
    for (let d = posix.dirname(l.path); d !== '.'; d = posix.dirname(d)) dirs.add(d);
  }
  tarBytes += (dirs.size + 1) * (HEADER + 512);
  return Math.ceil(tarBytes * 1.01) + 64 * 1024;
}

/** Bytes the extracted payload takes (file contents; the file system adds its blocks). */
export const payloadBytes = (manifest: Manifest): number => manifest.files.reduce((n, f) => n + f.size, 0);

/**
 * Extracts the payload into `dest` (emptied first), streaming, and writes only what the signed
 * manifest lists: a regular file at a listed path, exactly as big as listed (checked on the
 * tar header, before a byte is written), with the listed sha256 (checked as it streams), or a
 * listed link with its listed target. Directory entries are not taken (parents are made for
 * listed files). The first entry that is not listed, lies about its size, repeats, or has
 * another type stops the extraction: nothing of it reaches the disk, so a repacked bundle
 * with a gzip bomb costs at most what the manifest lists. Links are made after every file, so
 * that no file is written through one.
 */
export async function extractPayload(bundle: string, dest: string, manifest: Manifest): Promise<void> {
  const files = new Map(manifest.files.map((f) => [f.path, f]));
  const links = new Map(manifest.links.map((l) => [l.path, l.target]));
  const seen = new Set<string>();
  const pending: Array<Promise<void>> = [];
  const open = new Set<number>();
  await rm(dest, { recursive: true, force: true });
  await mkdir(dest, { recursive: true });
  const prefix = `${PAYLOAD_DIR}/`;
  let first = true;
  const refuse = (message: string): never => {
    throw new ManifestError(`bundle ${bundle} refused while extracting: ${message}`);
  };
  try {
    await parseBundle(bundle, (entry) => {
      const isFirst = first;
      first = false;
      if (isFirst && entry.path === MANIFEST_NAME) {
        entry.resume();
        return;
      }
      if (entry.type === 'Directory') {
        entry.resume();
        return;
      }
      if (!entry.path.startsWith(prefix)) refuse(`entry ${entry.path} is outside ${prefix}`);
      const rel = entry.path.slice(prefix.length);
      if (seen.has(rel)) refuse(`entry ${rel} appears twice`);
      seen.add(rel);
      if (entry.type === 'SymbolicLink') {
        const target = links.get(rel);
        if (target === undefined) refuse(`link ${rel} is not listed in the manifest`);
        if (entry.linkpath !== target) refuse(`link ${rel} points to ${entry.linkpath}, the manifest says ${target}`);
        entry.resume();
        return;
      }
      if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'ContiguousFile') refuse(`entry ${rel} is a ${entry.type}, only files and listed links are taken`);
      const listed = files.get(rel) ?? refuse(`file ${rel} (${entry.size} bytes) is not listed in the manifest`);
      if (entry.size !== listed.size) refuse(`file ${rel} has ${entry.size} bytes in the archive, the manifest says ${listed.size}`);
      const path = join(dest, ...rel.split('/'));
      mkdirSync(dirname(path), { recursive: true });
      // O_EXCL: the staging tree is fresh, so an existing path means something tried to sneak in.
      const fd = openSync(path, 'wx', 0o600);
      open.add(fd);
      const hash = createHash('sha256');
      let written = 0;
      let failure: Error | null = null;
      pending.push(
        new Promise<void>((resolve, reject) => {
          entry.on('data', (chunk: Buffer) => {
            written += chunk.length;
            // More than listed cannot happen with a valid header; it is never written.
            if (failure || written > listed.size) return;
            try {
              writeSync(fd, chunk);
              hash.update(chunk);
            } catch (err) {
              failure = err as Error; // ENOSPC, EIO: reported at the entry's end
            }
          });
          entry.on('end', () => {
            open.delete(fd);
            closeSync(fd);
            if (failure) reject(new ManifestError(`file ${rel} could not be written: ${failure.message}`));
            else if (written !== listed.size) reject(new ManifestError(`file ${rel}: ${written} bytes in the archive, the manifest says ${listed.size}`));
            else if (hash.digest('hex') !== listed.sha256) reject(new ManifestError(`file ${rel} does not match its sha256 in the manifest: tampered or damaged`));
            else resolve();
          });
        }),
      );
      // A rejected promise is collected below; keep node from reporting it as unhandled first.
      pending[pending.length - 1]!.catch(() => {});
    });
    for (const p of pending) await p;
  } catch (err) {
    for (const fd of open) closeSync(fd);
    if (err instanceof ManifestError && err.message.startsWith(`bundle ${bundle}`)) throw err;
    throw new ManifestError(`bundle ${bundle} could not be extracted: ${(err as Error).message}`);
  }
  const missing = [...files.keys(), ...links.keys()].filter((p) => !seen.has(p));
  if (missing.length > 0) throw new ManifestError(`bundle ${bundle}: ${missing.length} listed entries are missing, e.g. ${missing.slice(0, 3).join(', ')}`);
  for (const [path, target] of links) {
    const at = join(dest, ...path.split('/'));
    await mkdir(dirname(at), { recursive: true });
    await symlink(target, at);
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
    const tar = await import('tar');
    await tar.c({ gzip: true, file: out, cwd: tmp, portable: true }, [MANIFEST_NAME, PAYLOAD_DIR]);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}
