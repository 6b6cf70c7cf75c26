import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { redirectLocation, type HostRules } from './host-allowlist.ts';
import { isLoopback } from './routes/live.ts';

/** First byte of every TLS connection (a handshake record carrying the ClientHello). */
const TLS_HANDSHAKE = 0x16;
/** A connection that sends nothing this long after connecting is dropped (it holds a socket). */
export const FIRST_BYTE_TIMEOUT_MS = 30_000;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export type Route = 'tls' | 'plain' | 'redirect';

/**
 * Where a new connection goes, by its first byte and its peer: TLS to the HTTPS server; plain
 * HTTP from the box itself (Node-RED on loopback, scripts) to the plain server; plain HTTP from
 * anywhere else only to a redirect to https://, so no password or cookie is ever answered in clear.
 */
export function routeConnection(firstByte: number, remoteAddress: string): Route {
  if (firstByte === TLS_HANDSHAKE) return 'tls';
  return isLoopback(remoteAddress) ? 'plain' : 'redirect';
}

/**
 * A fastify `serverFactory` for one port that speaks HTTPS to everyone and plain HTTP to
 * loopback clients: "HTTPS off loopback, plain HTTP kept for 127.0.0.1" holds per client even
 * when the UI listens on all interfaces (one port cannot be bound twice).
 */
export function dualServerFactory(tls: { key: string; cert: string }, rules: () => HostRules = () => ({ names: [] })) {
  return (handler: Handler, opts: { keepAliveTimeout?: number; requestTimeout?: number; connectionTimeout?: number }): NetServer => {
    const secure = createHttpsServer({ key: tls.key, cert: tls.cert }, handler);
    const plain = createHttpServer(handler);
    const redirect = createHttpServer((req, res) => {
      // Built from this box's own address unless the Host names the box (host-allowlist.ts):
      // a Host copied into Location would make the box an open redirect to any site.
      const location = redirectLocation(req, rules());
      res.writeHead(308, { location, 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      res.end(`use ${location}\n`);
    });
    const servers: HttpServer[] = [secure, plain, redirect];
    for (const s of servers) {
      // They never listen themselves (the front does); 'listening' is what starts their
      // connection tracking, without which closeIdleConnections() finds nothing to close.
      s.emit('listening');
      if (opts.keepAliveTimeout !== undefined) s.keepAliveTimeout = opts.keepAliveTimeout;
      if (opts.requestTimeout !== undefined) s.requestTimeout = opts.requestTimeout;
      if (opts.connectionTimeout) s.setTimeout(opts.connectionTimeout);
    }
    const target: Record<Route, HttpServer> = { tls: secure, plain, redirect };
    // Connected but not yet handed over: closed with the server.
    const waiting = new Set<Socket>();
    const front = createNetServer((socket) => {
      waiting.add(socket);
      socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, () => socket.destroy());
      socket.once('error', () => socket.destroy());
      socket.once('close', () => waiting.delete(socket));
      socket.once('data', (chunk: Buffer) => {
        waiting.delete(socket);
        socket.setTimeout(0);
        socket.pause();
        socket.unshift(chunk);
        target[routeConnection(chunk[0]!, socket.remoteAddress ?? '')].emit('connection', socket);
        process.nextTick(() => socket.resume());
      });
    });
    // fastify listens for clientError on the server it is given.
    for (const s of servers) s.on('clientError', (err, socket) => front.emit('clientError', err, socket));
    // Stops their connection-tracking timers once the front is closed.
    front.once('close', () => {
      for (const s of servers) s.close(() => {});
    });
    return Object.assign(front, {
      closeIdleConnections() {
        for (const s of servers) s.closeIdleConnections();
        for (const s of waiting) s.destroy();
      },
      closeAllConnections() {
        for (const s of servers) s.closeAllConnections();
        for (const s of waiting) s.destroy();
      },
    });
  };
}
