/**
 * Resumable download over weak 4G: bytes go to `<dest>.part` and a new attempt asks for the
 * rest with an HTTP Range request. The file only gets its final name once it has the offered
 * size and sha256, so a tail damaged by a power cut is caught and thrown away.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';

export interface DownloadOptions {
  url: string;
  dest: string;
  size: number;
  sha256: string;
  /** Attempts in total (a new attempt resumes where the last one stopped); default 5. */
  attempts?: number;
  retryDelayMs?: number;
  /** Stall guard: an attempt with no byte for this long is abandoned and resumed; default 30 s. */
  idleTimeoutMs?: number;
  headers?: Record<string, string>;
  /** For HTTPS with a private CA. */
  ca?: string | Buffer;
  onProgress?: (received: number, total: number) => void;
  signal?: AbortSignal;
  /** Resolves the host of every connection (url-guard.ts refuses local addresses for unsigned offers). */
  lookup?: LookupFunction;
}

export class DownloadError extends Error {
  override name = 'DownloadError';
}

async function partSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

/** One HTTP request from `offset`; resolves with the bytes now in the .part file. */
function attempt(o: DownloadOptions, part: string, offset: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const url = new URL(o.url);
    const lib = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
    if (!lib) {
      reject(new DownloadError(`unsupported download URL protocol ${url.protocol} (use http: or https:)`));
      return;
    }
    const headers: Record<string, string> = { ...o.headers };
    if (offset > 0) headers['range'] = `bytes=${offset}-`;
    let out: ReturnType<typeof createWriteStream> | null = null;
    const req = lib.get(url, { headers, ca: o.ca, signal: o.signal, ...(o.lookup ? { lookup: o.lookup } : {}) }, (res) => {
      const code = res.statusCode ?? 0;
      let start: number;
      if (code === 206 && offset > 0) {
        const m = /^bytes (\d+)-/.exec(res.headers['content-range'] ?? '');
        start = m ? Number(m[1]) : -1;
        if (start !== offset) {
          res.resume();
          reject(new DownloadError(`server answered range ${res.headers['content-range']} to a request from byte ${offset}`));
          return;
        }
      } else if (code === 200) {
        start = 0; // no Range support: start over
      } else if (code === 416 && offset >= o.size) {
        res.resume();
        resolve(offset);
        return;
      } else {
        res.resume();
        reject(new DownloadError(`download ${o.url} failed: HTTP ${code}`));
        return;
      }
      let received = start;
      const file = createWriteStream(part, { flags: start === 0 ? 'w' : 'a' });
      out = file;
      // Written by hand rather than piped: on a reset, pipe() can leave the last chunks in
      // the response's buffer, and the resume offset must be exactly what reached the file.
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > o.size) {
          req.destroy(new DownloadError(`download is larger than the offered ${o.size} bytes`));
          return;
        }
        // No pause() for backpressure: a paused response that gets reset drops what it
        // buffered, and a 4G link never outruns the disk.
        file.write(chunk);
        o.onProgress?.(received, o.size);
      });
      res.on('error', () => {}); // the byte count in the file tells what arrived
      res.on('close', () => file.end());
      file.on('error', reject);
      file.on('close', () => resolve(received));
    });
    req.setTimeout(o.idleTimeoutMs ?? 30_000, () => req.destroy(new DownloadError('download stalled')));
    req.on('error', (err) => {
      // A reset after some bytes is resumable; the caller decides by the .part size.
      if (err instanceof DownloadError && /larger than/.test(err.message)) reject(err);
      else if (out) out.end();
      else resolve(-1);
    });
  });
}

/**
 * Downloads (or resumes) into `dest`. Throws DownloadError naming what went wrong: too many
 * interrupted attempts (the .part file stays for the next offer), wrong size, wrong hash
 * (the .part file is deleted: it cannot be resumed into something valid).
 *
 * A wrong hash after resuming a .part file left by an earlier offer starts over once from
 * byte 0: that file may hold another server's bytes (an unsigned offer chooses its URL, and
 * the .part is named by the sha256 any offer may claim), which must not make the genuine
 * offer of that bundle fail.
 */
export async function download(o: DownloadOptions): Promise<void> {
  const resumed = (await partSize(`${o.dest}.part`)) > 0;
  try {
    await downloadFrom(o);
  } catch (err) {
    if (!(resumed && err instanceof HashMismatchError)) throw err;
    await downloadFrom(o);
  }
}

class HashMismatchError extends DownloadError {}

async function downloadFrom(o: DownloadOptions): Promise<void> {
  const part = `${o.dest}.part`;
  const attempts = o.attempts ?? 5;
  let have = await partSize(part);
  if (have > o.size) {
    await rm(part, { force: true });
    have = 0;
  }
  let lastProblem = '';
  for (let i = 0; i < attempts && have < o.size; i++) {
    if (o.signal?.aborted) throw new DownloadError('download aborted');
    if (i > 0) await new Promise((r) => setTimeout(r, o.retryDelayMs ?? 1000));
    const before = have;
    await attempt(o, part, have);
    have = await partSize(part);
    if (have < o.size) lastProblem = `connection ended after ${have} of ${o.size} bytes (this attempt got ${Math.max(0, have - before)})`;
  }
  if (o.signal?.aborted) throw new DownloadError(`download aborted after ${have} of ${o.size} bytes (the .part file stays for a later offer)`);
  if (have < o.size) {
    throw new DownloadError(`download truncated: ${lastProblem}; ${attempts} attempts used, the next attempt resumes from byte ${have}`);
  }
  const fd = await open(part, 'r+');
  await fd.sync();
  await fd.close();
  const got = await hashFile(part);
  if (got !== o.sha256) {
    await rm(part, { force: true });
    throw new HashMismatchError(`downloaded bundle has sha256 ${got}, the offer says ${o.sha256}: corrupted or replaced in transit, deleted`);
  }
  await rename(part, o.dest);
}
