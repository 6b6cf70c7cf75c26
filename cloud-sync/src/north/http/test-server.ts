import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

/** One POST as the test server saw it. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The TLS client certificate's subject CN, when one was presented. */
  clientCn?: string;
}

export type Handler = (req: SeenRequest, res: http.ServerResponse) => void;

export interface TestHttpServer {
  port: number;
  url: string;
  seen: SeenRequest[];
  /** Replaces how requests are answered. */
  handle(h: Handler): void;
  /** Stops listening and cuts every open connection (a killed server). */
  kill(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
}

/** A real node:http(s) server on 127.0.0.1 that records every request (tests of the HTTP sink). */
export async function startTestServer(opts: { tls?: https.ServerOptions; port?: number } = {}): Promise<TestHttpServer> {
  let handler: Handler = (_req, res) => res.writeHead(204).end();
  const seen: SeenRequest[] = [];
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const peer = (req.socket as { getPeerCertificate?: () => { subject?: { CN?: string } } }).getPeerCertificate?.();
      const r: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), ...(peer?.subject?.CN ? { clientCn: peer.subject.CN } : {}) };
      seen.push(r);
      handler(r, res);
    });
  };
  const make = () => (opts.tls ? https.createServer(opts.tls, onRequest) : http.createServer(onRequest));
  let server = make();
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
  const port = await listen(opts.port ?? 0);
  return {
    port,
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}/ingest`,
    seen,
    handle: (h) => (handler = h),
    kill: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    restart: async () => {
      server = make();
      await listen(port);
    },
  };
}
