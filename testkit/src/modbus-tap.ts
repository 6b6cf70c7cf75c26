import net from 'node:net';

/** One Modbus TCP request seen on its way to the server. */
export interface TappedRequest {
  unitId: number;
  functionCode: number;
  /** First address field of the PDU (every read and write function carries one). */
  address: number;
}

export interface ModbusTap {
  /** Where clients connect instead of the server. */
  port: number;
  requests: TappedRequest[];
  /** Function codes of the requests so far, in order. */
  codes(): number[];
  /**
   * The most write requests (function codes 5, 6, 15, 16) that were outstanding at the device at
   * once (sent, answer not yet back), over every connection: how many writes a client runs in parallel.
   */
  maxWritesInFlight(): number;
  clear(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of a Modbus TCP server that records every request's function code, so
 * a test can prove which code a write used (5, 6, 15, 16) and count writes at the device.
 */
/** Write single coil, write single register, write multiple coils, write multiple registers. */
const WRITE_CODES = new Set([5, 6, 15, 16]);

export async function startModbusTap(target: { host?: string; port: number }): Promise<ModbusTap> {
  const requests: TappedRequest[] = [];
  let writesInFlight = 0;
  let maxWritesInFlight = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: target.host ?? '127.0.0.1', port: target.port });
    sockets.add(client).add(upstream);
    let pending = Buffer.alloc(0);
    let answers = Buffer.alloc(0);
    /** Transaction ids of this connection's writes awaiting their answer. */
    const openWrites = new Set<number>();
    client.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      // MBAP: transaction(2) protocol(2) length(2) unit(1), then the PDU (function code first).
      while (pending.length >= 7) {
        const frameLength = 6 + pending.readUInt16BE(4);
        if (pending.length < frameLength) break;
        requests.push({ unitId: pending[6]!, functionCode: pending[7]!, address: pending.length >= 10 ? pending.readUInt16BE(8) : -1 });
        if (WRITE_CODES.has(pending[7]!) && !openWrites.has(pending.readUInt16BE(0))) {
          openWrites.add(pending.readUInt16BE(0));
          maxWritesInFlight = Math.max(maxWritesInFlight, ++writesInFlight);
        }
        pending = pending.subarray(frameLength);
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      answers = Buffer.concat([answers, chunk]);
      while (answers.length >= 7) {
        const frameLength = 6 + answers.readUInt16BE(4);
        if (answers.length < frameLength) break;
        if (openWrites.delete(answers.readUInt16BE(0))) writesInFlight--;
        answers = answers.subarray(frameLength);
      }
      client.write(chunk);
    });
    const end = () => {
      // Writes a dropped connection never got answered are no longer outstanding.
      writesInFlight -= openWrites.size;
      openWrites.clear();
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1' }, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    requests,
    codes: () => requests.map((r) => r.functionCode),
    maxWritesInFlight: () => maxWritesInFlight,
    clear: () => {
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
