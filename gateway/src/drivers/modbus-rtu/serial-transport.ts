import type { ModbusRTU } from '../modbus/modbus-serial.ts';
import { ClientTransport } from '../modbus/client-transport.ts';

export type Parity = 'none' | 'even' | 'odd';

export interface SerialLineOptions {
  baudRate: number;
  parity: Parity;
  dataBits: 7 | 8;
  stopBits: 1 | 2;
  /** Silence between the end of one transaction and the next request; default from the baud rate. */
  interFrameDelayMs?: number;
}

/**
 * Modbus over serial line spec, 2.5.1.1: frames are separated by at least 3.5 character
 * times; above 19200 baud a fixed 1.75 ms is recommended. A character is start bit + data
 * bits + parity bit + stop bits.
 */
export function defaultInterFrameDelayMs(o: Pick<SerialLineOptions, 'baudRate' | 'parity' | 'dataBits' | 'stopBits'>): number {
  if (o.baudRate > 19_200) return 1.75;
  const bitsPerChar = 1 + o.dataBits + (o.parity === 'none' ? 0 : 1) + o.stopBits;
  return (3.5 * bitsPerChar * 1000) / o.baudRate;
}

/** How long the line must have been quiet after a failed transaction before the next request. */
const RESYNC_QUIET_MS = 50;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** modbus-serial's buffered RTU port keeps received bytes in `_buffer` until a frame matches. */
interface BufferedPort {
  _buffer?: Buffer;
  _client?: { flush?: (cb?: (err: Error | null) => void) => void };
}

/**
 * One RS-485 bus: one serial port, one master, one transaction at a time for every unit id on
 * it. A silent or garbling slave costs only its own timeout: after a failure the bus waits
 * for silence and discards whatever arrived, so a late answer cannot be taken for the next
 * slave's.
 */
export class SerialTransport extends ClientTransport {
  private readonly gapMs: number;
  private lastFrameAt = 0;
  private dirty = false;

  constructor(
    readonly path: string,
    readonly line: SerialLineOptions,
  ) {
    super();
    this.gapMs = line.interFrameDelayMs ?? defaultInterFrameDelayMs(line);
  }

  protected async openClient(): Promise<ModbusRTU> {
    // modbus-serial (and the serialport it requires) on the first connect, not with the driver's
    // definition: `--check` and the config schema never load it (drivers/lazy-load.test.ts).
    let client: ModbusRTU | undefined;
    try {
      // Inside the try: a library that fails to load (a broken install) is reported with the port.
      const { ModbusRTU: Client } = await import('../modbus/modbus-serial.ts');
      client = new Client();
      await client.connectRTUBuffered(this.path, {
        baudRate: this.line.baudRate,
        parity: this.line.parity,
        dataBits: this.line.dataBits,
        stopBits: this.line.stopBits,
      });
    } catch (err) {
      client?.destroy(() => {});
      const e = err as NodeJS.ErrnoException;
      const wrapped = new Error(`cannot open serial port ${this.path}: ${e.message}`);
      (wrapped as NodeJS.ErrnoException).code = e.code ?? 'ESERIALOPEN';
      throw wrapped;
    }
    this.lastFrameAt = performance.now();
    return client;
  }

  protected closeClient(client: ModbusRTU): Promise<void> {
    return new Promise((resolve) => client.close(() => resolve()));
  }

  /** Waits out the inter-frame gap (and after a failure a quiet period), then drops stale bytes. */
  protected override async beforeTransaction(client: ModbusRTU): Promise<void> {
    const quiet = this.dirty ? Math.max(this.gapMs, RESYNC_QUIET_MS) : this.gapMs;
    const wait = this.lastFrameAt + quiet - performance.now();
    if (wait > 0) await sleep(Math.ceil(wait));
    const port = (client as unknown as { _port?: BufferedPort })._port;
    if (this.dirty && port?._client?.flush) {
      await new Promise<void>((resolve) => port._client!.flush!(() => resolve()));
    }
    // The master only ever listens for the answer to its own request: anything received
    // before the request goes out is a late or broken answer to an earlier one.
    if (port && port._buffer && port._buffer.length > 0) port._buffer = Buffer.alloc(0);
    this.dirty = false;
  }

  /** A Modbus exception is a clean, complete frame; anything else may leave bytes in flight. */
  protected override onFailure(err: unknown): void {
    if (typeof (err as { modbusCode?: unknown }).modbusCode !== 'number') this.dirty = true;
  }

  protected override afterTransaction(): void {
    this.lastFrameAt = performance.now();
  }

  /**
   * Called after a garbled frame. Reopening a serial port would not help (the bytes are on the
   * wire, not in a connection state) and can fail on USB adapters, so the bus is resynced instead.
   */
  reset(): Promise<void> {
    return this.queue.run(async () => {
      this.dirty = true;
    });
  }
}
