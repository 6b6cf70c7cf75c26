/**
 * A temporary HTTP server for one file, with Range support so a downloader can resume, a
 * byte counter for progress, and a seam to cut a download short. Used by the OTA tests and by
 * `kedge-ota push` (scripts/src/ota/serve.ts), which serves signed bundles over plain HTTP.
 */
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FileServer {
  url: string;
  /** Highest byte offset any request has been sent up to (for progress). */
  sent(): number;
  /** The Range header of every request so far ('none' without one). */
  ranges(): string[];
  close(): Promise<void>;
}

export interface ServeOptions {
  host?: string;
  port?: number;
  /** Test seam: end the response after this many bytes of the first full request. */
  cutAfter?: number;
  onProgress?: (sent: number, total: number) => void;
}

export async function serveFile(path: string, name: string, o: ServeOptions = {}): Promise<FileServer> {
  const size = (await stat(path)).size;
  let sentMax = 0;
  let cut = o.cutAfter;
  const ranges: string[] = [];
  const server = http.createServer((req, res) => {
    ranges.push(req.headers.range ?? 'none');
    if (req.url !== `/${name}`) {
      res.writeHead(404).end();
      return;
    }
    let start = 0;
    let end = size - 1;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (m) {
      start = Number(m[1]);
      if (m[2]) end = Math.min(end, Number(m[2]));
      if (start > end) {
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
    }
    const head = m
      ? { status: 206, headers: { 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1, 'accept-ranges': 'bytes' } }
      : { status: 200, headers: { 'content-length': size, 'accept-ranges': 'bytes' } };
    if (cut !== undefined && start + cut - 1 < end) {
      // The test seam: announce the full length, send `cut` bytes, then FIN. Written raw on
      // the socket because node's response object will not end short of its content-length.
      const n = cut;
      cut = undefined;
      const body = Buffer.alloc(n);
      const fd = openSync(path, 'r');
      readSync(fd, body, 0, n, start);
      closeSync(fd);
      const lines = [`HTTP/1.1 ${head.status} ${head.status === 206 ? 'Partial Content' : 'OK'}`, ...Object.entries(head.headers).map(([k, v]) => `${k}: ${v}`), 'connection: close'];
      const sock = req.socket;
      sock.write(`${lines.join('\r\n')}\r\n\r\n`);
      sock.end(body);
      sentMax = Math.max(sentMax, start + n);
      return;
    }
    res.writeHead(head.status, head.headers);
    const stream = createReadStream(path, { start, end });
    let pos = start;
    stream.on('data', (c) => {
      pos += (c as Buffer).length;
      if (pos > sentMax) sentMax = pos;
      o.onProgress?.(sentMax, size);
    });
    stream.pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}/${name}`,
    sent: () => sentMax,
    ranges: () => [...ranges],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
