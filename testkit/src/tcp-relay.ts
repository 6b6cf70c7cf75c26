import net from 'node:net';
import { freePort } from './ports.ts';

export interface TcpRelay {
  port: number;
  /** Drops every connection and refuses new ones (a modem losing its carrier). */
  cut(): void;
  /** Accepts connections again. */
  restore(): void;
  /**
   * Stops forwarding what the server sends (the client's requests still get through): a link
   * that lost its downstream half. Held bytes are dropped with the connection at the next cut().
   */
  holdDownstream(): void;
  close(): Promise<void>;
}

/** A TCP relay on 127.0.0.1 in front of `targetPort` whose link a test can cut or half-break. */
export async function startTcpRelay(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpRelay> {
  const port = await freePort();
  const sockets = new Set<net.Socket>();
  let down = false;
  let holding = false;
  const server = net.createServer((inbound) => {
    if (down) return inbound.destroy();
    const outbound = net.connect(targetPort, targetHost);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound);
    outbound.on('data', (chunk: Buffer) => {
      if (!holding) inbound.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    cut() {
      down = true;
      holding = false;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    holdDownstream() {
      holding = true;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
