/**
 * `kedge-ota push`: one gateway, directly over its local API. Logs in (session cookie + CSRF
 * token, as the web UI does), serves the bundle from a temporary HTTP server with Range
 * support, offers its URL, and follows the download until the gateway restarts into it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { readBundleManifest } from '@kedge/gateway/ota/bundle.ts';
import { serveFile } from './serve.ts';

export interface PushOptions {
  to: string;
  bundle: string;
  user: string;
  password: string;
  /** Address the gateway can reach this machine at; default: the local end of a connection to the gateway. */
  advertiseHost?: string;
  ca?: string | Buffer;
  insecure?: boolean;
  timeoutMs?: number;
  onProgress?: (sent: number, total: number) => void;
  log?: (line: string) => void;
}

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(url: URL, method: string, o: PushOptions, headers: Record<string, string>, body?: unknown): Promise<Res> {
  return new Promise((resolve, reject) => {
    const lib = url.protocol === 'https:' ? https : http;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = lib.request(
      url,
      {
        method,
        headers: { ...headers, ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}) },
        ca: o.ca,
        rejectUnauthorized: !o.insecure,
        timeout: 30_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url.href}: no answer in 30 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

function localAddressTowards(url: URL): Promise<string> {
  return new Promise((resolve, reject) => {
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const s = net.connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port }, () => {
      const a = s.localAddress ?? '127.0.0.1';
      s.destroy();
      resolve(a.startsWith('::ffff:') ? a.slice(7) : a);
    });
    s.on('error', reject);
  });
}

export interface PushResult {
  version: string;
  state: string;
  message: string;
}

export async function push(o: PushOptions): Promise<PushResult> {
  const log = o.log ?? (() => {});
  const base = new URL(o.to);
  const manifest = await readBundleManifest(o.bundle);
  const size = (await stat(o.bundle)).size;
  const digest = await sha256(o.bundle);

  const login = await request(new URL('/api/auth/login', base), 'POST', o, {}, { user: o.user, password: o.password });
  if (login.status !== 200) throw new Error(`login to ${base.origin} as ${o.user} failed: HTTP ${login.status} ${login.body}`);
  const cookie = (login.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
  const csrf = (JSON.parse(login.body) as { csrfToken?: string }).csrfToken ?? '';
  const auth = { cookie, 'x-csrf-token': csrf };

  const host = o.advertiseHost ?? (await localAddressTowards(base));
  const listen = host.includes(':') ? '::' : '0.0.0.0';
  const at = (s: { url: string }, name: string) => `http://${host.includes(':') ? `[${host}]` : host}:${new URL(s.url).port}/${encodeURIComponent(name)}`;
  // The offer is unsigned (push needs no signing key): it carries the manifest's URL, and the
  // gateway verifies that manifest's signature before it downloads the bundle.
  const tmp = await mkdtemp(join(tmpdir(), 'kedge-push-'));
  const manifestFile = join(tmp, 'manifest.json');
  await writeFile(manifestFile, JSON.stringify(manifest));
  const manifestServer = await serveFile(manifestFile, 'manifest.json', { host: listen });
  const server = await serveFile(o.bundle, basename(o.bundle), { host: listen, onProgress: o.onProgress });
  const url = at(server, basename(o.bundle));
  try {
    const offer = await request(new URL('/api/ota/offer', base), 'POST', o, auth, { version: manifest.version, url, sha256: digest, size, manifestUrl: at(manifestServer, 'manifest.json') });
    if (offer.status !== 202) throw new Error(`gateway refused the offer: HTTP ${offer.status} ${offer.body}`);
    const accepted = JSON.parse(offer.body) as { started: boolean; message: string };
    log(`offered ${manifest.version} from ${url}: ${accepted.message}`);
    if (!accepted.started) return { version: manifest.version, state: 'up-to-date', message: accepted.message };

    const deadline = Date.now() + (o.timeoutMs ?? 30 * 60_000);
    for (;;) {
      if (Date.now() > deadline) throw new Error(`gateway did not finish installing ${manifest.version} in time`);
      await new Promise((r) => setTimeout(r, 500));
      let st: { state: string; lastError: string | null };
      try {
        const r = await request(new URL('/api/ota/status', base), 'GET', o, auth);
        if (r.status !== 200) continue;
        st = JSON.parse(r.body) as typeof st;
      } catch {
        // The daemon restarting into the new slot: the bundle was installed.
        return { version: manifest.version, state: 'restarting', message: 'gateway restarted into the new slot' };
      }
      if (st.state === 'failed') throw new Error(`gateway refused ${manifest.version}: ${st.lastError}`);
      if (st.state === 'installed') return { version: manifest.version, state: 'installed', message: 'installed; restarting into the new slot' };
    }
  } finally {
    await server.close();
    await manifestServer.close();
    await rm(tmp, { recursive: true, force: true });
  }
}
