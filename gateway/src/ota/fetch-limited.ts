/**
 * A GET for URLs that an offer chose (the manifest of an unsigned offer): at most `maxBytes`
 * are read, redirects are followed only within the same origin (scheme, host, port), and the
 * connection may carry a lookup hook (url-guard.ts) that refuses local addresses. Built on
 * node:http rather than fetch() so that the hook applies to every connection made.
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { VerifyError } from './verify.ts';

export interface LimitedGetOptions {
  maxBytes: number;
  signal: AbortSignal;
  headers?: Record<string, string> | undefined;
  ca?: string | Buffer | undefined;
  lookup?: LookupFunction | undefined;
  /** Same-origin redirects followed at most; default 5. */
  maxRedirects?: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Resolves with the body; throws VerifyError naming `what` and the URL for anything else. */
export async function getLimited(what: string, raw: string, o: LimitedGetOptions): Promise<Buffer> {
  const first = new URL(raw);
  let url = first;
  for (let hop = 0; ; hop++) {
    const r = await getOnce(what, raw, url, o);
    if (r.kind === 'body') return r.body;
    const next = new URL(r.location, url);
    if (next.origin !== first.origin) {
      throw new VerifyError(`${what} ${raw} redirects to another origin (${next.origin}): refused, an offer's URL is not followed elsewhere`);
    }
    if (hop >= (o.maxRedirects ?? 5)) throw new VerifyError(`${what} ${raw}: more than ${o.maxRedirects ?? 5} redirects`);
    url = next;
  }
}

function getOnce(what: string, raw: string, url: URL, o: LimitedGetOptions): Promise<{ kind: 'body'; body: Buffer } | { kind: 'redirect'; location: string }> {
  return new Promise((resolve, reject) => {
    const lib = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
    if (!lib) {
      reject(new VerifyError(`${what} ${raw}: only http: and https: URLs are fetched (got ${url.protocol})`));
      return;
    }
    const req = lib.get(url, { headers: o.headers, ca: o.ca, signal: o.signal, ...(o.lookup ? { lookup: o.lookup } : {}) }, (res) => {
      const code = res.statusCode ?? 0;
      if (REDIRECTS.has(code)) {
        res.resume();
        const location = res.headers.location;
        if (!location) reject(new VerifyError(`${what} ${raw}: HTTP ${code} without a Location`));
        else resolve({ kind: 'redirect', location });
        return;
      }
      if (code < 200 || code > 299) {
        res.resume();
        reject(new VerifyError(`${what} ${raw}: HTTP ${code}`));
        return;
      }
      const declared = Number(res.headers['content-length'] ?? '0');
      if (declared > o.maxBytes) {
        req.destroy();
        reject(new VerifyError(`${what} ${raw} has ${declared} bytes, more than the ${o.maxBytes} allowed`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > o.maxBytes) {
          req.destroy();
          reject(new VerifyError(`${what} ${raw} is larger than the ${o.maxBytes} bytes allowed`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => resolve({ kind: 'body', body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}
