import net from 'node:net';
import { freePort } from './ports.ts';

export interface LinkShape {
  /** Bytes per second each way (a serial line: chunks queue behind each other). */
  bytesPerSec: number;
  /** One-way delay added to every byte, in ms. */
  latencyMs: number;
  /**
   * Bytes queued in the link each way before the sender is held back (TCP's window, a modem's
   * buffer); default 64 KiB. Without it a sender would see everything "sent" at once.
   */
  bufferBytes?: number;
}

export interface ShapedRelay {
  port: number;
  /** Bytes that crossed the link each way (client->server, server->client). */
  bytes(): { up: number; down: number };
  /** Drops every connection and refuses new ones (the link is gone). */
  cut(): void;
  /** Accepts connections again. */
  restore(): void;
  close(): Promise<void>;
}

/** Slices a link forwards at once: small enough that an answer can overtake a long upload. */
const SLICE_BYTES = 1024;

/**
 * A TCP relay on 127.0.0.1 in front of `targetPort` that behaves like a slow metered link: a
 * rate limit and a latency each way, with a bounded queue that pushes back on the sender. For
 * benches and ordering tests; tests must not assert on its timing.
 */
export async function startShapedRelay(targetPort: number, shape: LinkShape, targetHost = '127.0.0.1'): Promise<ShapedRelay> {
  if (!(shape.bytesPerSec > 0)) throw new Error(`shaped relay: bytesPerSec must be > 0, got ${shape.bytesPerSec}`);
  const port = await freePort();
  const buffer = shape.bufferBytes ?? 64 * 1024;
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const counted = { up: 0, down: 0 };
  let down = false;

  const pipe = (from: net.Socket, to: net.Socket, dir: 'up' | 'down') => {
    let lineFreeAt = 0; // when the (serial) line has sent everything queued so far
    let queued = 0;
    // One FIFO and one timer per direction: timers of their own could fire out of order (ms
    // granularity), and a byte stream must never be reordered.
    const fifo: Array<{ at: number; slice: Buffer }> = [];
    let timer: NodeJS.Timeout | null = null;
    const deliver = () => {
      if (timer) timers.delete(timer);
      timer = null;
      const now = performance.now();
      while (fifo.length && fifo[0]!.at <= now) {
        const { slice } = fifo.shift()!;
        queued -= slice.length;
        counted[dir] += slice.length;
        if (!to.destroyed) to.write(slice);
      }
      if (queued <= buffer && from.isPaused()) from.resume();
      schedule();
    };
    const schedule = () => {
      if (timer || fifo.length === 0) return;
      timer = setTimeout(deliver, Math.max(0, fifo[0]!.at - performance.now()));
      timers.add(timer);
    };
    from.on('data', (chunk: Buffer) => {
      for (let off = 0; off < chunk.length; off += SLICE_BYTES) {
        const slice = chunk.subarray(off, Math.min(chunk.length, off + SLICE_BYTES));
        lineFreeAt = Math.max(performance.now(), lineFreeAt) + (slice.length / shape.bytesPerSec) * 1000;
        fifo.push({ at: lineFreeAt + shape.latencyMs, slice });
        queued += slice.length;
      }
      if (queued > buffer) from.pause();
      schedule();
    });
  };

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
    pipe(inbound, outbound, 'up');
    pipe(outbound, inbound, 'down');
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const dropAll = () => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
    for (const s of sockets) s.destroy();
  };
  return {
    port,
    bytes: () => ({ ...counted }),
    cut() {
      down = true;
      dropAll();
    },
    restore() {
      down = false;
    },
    close() {
      dropAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
