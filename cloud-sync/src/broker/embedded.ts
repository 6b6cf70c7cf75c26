import net from 'node:net';
import type { Aedes, AedesOptions } from 'aedes';

export interface EmbeddedBrokerOptions {
  /** Default 1883; 0 picks a free port (read it back from the result). */
  port?: number;
  /** Default 127.0.0.1: the broker is for local development and tests, not for exposure. */
  host?: string;
  aedes?: AedesOptions;
}

export interface EmbeddedBroker {
  port: number;
  host: string;
  url: string;
  broker: Aedes;
  /** Stops accepting, drops every client socket and closes the broker; idempotent. */
  close(): Promise<void>;
}

/** In-process MQTT broker (aedes, in-memory) for development and tests that need no mosquitto. */
export async function startEmbeddedBroker(opts: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const host = opts.host ?? '127.0.0.1';
  // Loaded by the first broker started: a process that only imports this file (a test file
  // whose other tests need none, `npm start --help`) never loads aedes.
  const { Aedes } = await import('aedes');
  // aedes 1.x has no default export/factory: createBroker() awaits the persistence setup,
  // and handing out `handle` before that completes races the first CONNECT.
  const broker = await Aedes.createBroker(opts.aedes);
  const server = net.createServer((socket) => {
    broker.handle(socket);
  });

  // server.close() only stops accepting; live MQTT connections would keep it (and the
  // event loop) open, so they are tracked and destroyed on close.
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: opts.port ?? 1883, host }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw err;
  }

  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('embedded broker: no TCP address');
  const port = addr.port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await serverClosed;
    })();
    return closing;
  };

  return { port, host, url: `mqtt://${urlHost}:${port}`, broker, close };
}
