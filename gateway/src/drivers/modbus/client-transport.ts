import type { ModbusRTU } from './modbus-serial.ts';
import type { ModbusTransport } from './transport.ts';
import { SerialQueue } from './serial-queue.ts';
import { CloseWatch } from './close-watch.ts';
import { modifyRegister, readTable, writeTable } from './client-ops.ts';
import type { ModbusTable } from './types.ts';

/**
 * modbus-serial files each request under its transaction id (`_transactions`, 256 ids per TCP
 * link) and never removes it: the entry keeps the request's callback, and through it the
 * request's result, until the id comes round again. That is ~255 stale results per device
 * (100 devices x 100 registers: ~30 MB of heap, issue 20). One transaction runs at a time on a
 * link (the queue), so once it settled no entry is needed: a late answer to a timed-out request
 * then finds no transaction and is dropped, as modbus-serial drops it after a timeout anyway.
 */
function forgetSettledTransactions(client: ModbusRTU): void {
  const c = client as unknown as { _transactions?: Record<string, unknown> };
  if (c._transactions && Object.keys(c._transactions).length > 0) c._transactions = {};
}

function isTimeout(err: unknown): boolean {
  const e = err as { modbusCode?: number; errno?: string; name?: string; message?: string };
  return e?.modbusCode === undefined && (e?.errno === 'ETIMEDOUT' || e?.name === 'TransactionTimedOutError' || /timed out/i.test(e?.message ?? ''));
}

/**
 * A ModbusTransport over one modbus-serial client: opened on first use (one attempt at a time),
 * one transaction at a time for every unit id on the link. A subclass only knows how to open
 * and close its link (TCP socket, serial port) and, if it needs one, a framing discipline
 * around each transaction.
 */
/**
 * Timeouts in a row, on every unit of the link, after which the link itself is suspect: a
 * half-open TCP connection (a meter or TCP gateway that lost power, a NAT that forgot the flow)
 * never errors, it only stays silent. One answering unit, or an exception reply, proves it alive.
 */
export const SILENT_LINK_TIMEOUTS = 3;

export abstract class ClientTransport implements ModbusTransport {
  private client: ModbusRTU | null = null;
  private silentStreak = 0;
  private opening: Promise<ModbusRTU> | null = null;
  /** Per open client: fails its transactions in flight once its link closes (see watchClose). */
  private readonly closeWatches = new WeakMap<ModbusRTU, CloseWatch>();
  protected readonly queue = new SerialQueue();

  /** Opens a new link; the previous one is already dropped. Throws a clear error when it cannot. */
  protected abstract openClient(): Promise<ModbusRTU>;
  protected abstract closeClient(client: ModbusRTU): Promise<void>;
  /** Drops the link so the next request reconnects, or resyncs it (after a timeout or a garbled frame). */
  abstract reset(): Promise<void>;

  /** Before each transaction, with the link open. */
  protected async beforeTransaction(_client: ModbusRTU): Promise<void> {}
  /** When a transaction failed (before afterTransaction). */
  protected onFailure(_err: unknown): void {}
  /** After each transaction, failed or not. */
  protected afterTransaction(): void {}

  read(unitId: number, table: ModbusTable, address: number, count: number, timeoutMs: number): Promise<number[] | boolean[]> {
    return this.transaction(unitId, timeoutMs, (client) => readTable(client, table, address, count));
  }

  write(unitId: number, table: ModbusTable, address: number, values: readonly number[] | readonly boolean[], timeoutMs: number): Promise<void> {
    return this.transaction(unitId, timeoutMs, (client) => writeTable(client, table, address, values));
  }

  modifyRegister(unitId: number, address: number, modify: (register: number) => number, timeoutMs: number): Promise<void> {
    return this.transaction(unitId, timeoutMs, (client) => modifyRegister(client, address, modify));
  }

  close(): Promise<void> {
    return this.queue.run(() => this.drop());
  }

  private transaction<T>(unitId: number, timeoutMs: number, job: (client: ModbusRTU) => Promise<T>): Promise<T> {
    return this.queue.run(async () => {
      const client = await this.open();
      await this.beforeTransaction(client);
      client.setID(unitId);
      client.setTimeout(timeoutMs);
      try {
        const watch = this.closeWatches.get(client);
        const result = watch ? await watch.guard(job(client)) : await job(client);
        this.silentStreak = 0;
        return result;
      } catch (err) {
        this.onFailure(err);
        if (!isTimeout(err)) this.silentStreak = 0;
        else if (++this.silentStreak >= SILENT_LINK_TIMEOUTS) {
          this.silentStreak = 0;
          await this.drop();
        }
        throw err;
      } finally {
        forgetSettledTransactions(client);
        this.afterTransaction();
      }
    });
  }

  private open(): Promise<ModbusRTU> {
    if (this.client?.isOpen) return Promise.resolve(this.client);
    this.opening ??= this.connect().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  private async connect(): Promise<ModbusRTU> {
    await this.drop();
    const client = await this.openClient();
    this.watchClose(client);
    this.client = client;
    return client;
  }

  /**
   * modbus-serial leaves a request in flight waiting out its whole timeout when the link closes
   * under it (a meter that lost power or was killed): the outage would show only after
   * timeoutMs. The link's `close` fails it at once instead, as a connection error.
   */
  private watchClose(client: ModbusRTU): void {
    const watch = new CloseWatch();
    this.closeWatches.set(client, watch);
    // The client is an EventEmitter at runtime (index.js) though its typings do not say so.
    const events = client as unknown as NodeJS.EventEmitter;
    events.once('close', () => {
      const err = new Error('the link closed before the device answered');
      (err as NodeJS.ErrnoException).code = 'ECONNCLOSED';
      watch.close(err);
      // Cancels modbus-serial's timer of the abandoned request (it would hold the process for timeoutMs).
      client.destroy(() => undefined);
    });
    // modbus-serial re-emits its port's errors (EIO when a USB RS-485 adapter is pulled, a reset
    // socket) as the client's 'error': with no listener that event ends the daemon. It fails what
    // is in flight like a close does; the next poll opens the link again.
    events.on('error', (cause: Error) => {
      const err = new Error(`the link failed: ${cause.message}`);
      (err as NodeJS.ErrnoException).code = 'ECONNRESET';
      watch.close(err);
      client.destroy(() => undefined);
    });
  }

  protected drop(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (!client) return Promise.resolve();
    return this.closeClient(client);
  }
}
