import net from 'node:net';

/**
 * - garbage: answers every request with random bytes (1-40 of them)
 * - slow: answers correctly, `slowMs` late (set it beyond the gateway's timeout)
 * - silent: reads every request and never answers
 */
export type Misbehaviour = 'garbage' | 'slow' | 'silent';

export interface FakeDevice {
  port: number;
  /** Requests received so far: how a test knows the gateway kept polling. */
  readonly requests: number;
  close(): Promise<void>;
}

/** A correct answer to a read of holding/input registers (FC 3/4), every register `value`. */
function registersAnswer(request: Buffer, value: number): Buffer {
  const count = request.length >= 12 ? Math.min(request.readUInt16BE(10), 125) : 1;
  const body = Buffer.alloc(3 + count * 2);
  body[0] = request[6] ?? 1;
  body[1] = request[7] ?? 3;
  body[2] = count * 2;
  for (let i = 0; i < count; i++) body.writeUInt16BE(value & 0xffff, 3 + i * 2);
  const head = Buffer.alloc(6);
  request.copy(head, 0, 0, 2);
  head.writeUInt16BE(body.length, 4);
  return Buffer.concat([head, body]);
}

/** A Modbus TCP server on 127.0.0.1 that misbehaves as told. */
export async function startFakeDevice(behaviour: Misbehaviour, o: { random: () => number; slowMs?: number }): Promise<FakeDevice> {
  let requests = 0;
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.on('data', (request) => {
      requests++;
      if (behaviour === 'garbage') {
        const bytes = Buffer.alloc(1 + Math.floor(o.random() * 40));
        for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(o.random() * 256);
        socket.write(bytes);
      } else if (behaviour === 'slow') {
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!socket.destroyed) socket.write(registersAnswer(request, 42));
        }, o.slowMs ?? 2000);
        timers.add(timer);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1' }, () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    get requests() {
      return requests;
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
