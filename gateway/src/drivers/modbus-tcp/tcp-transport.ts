import { ModbusRTU } from '../modbus/modbus-serial.ts';
import type { ModbusTransport } from '../modbus/transport.ts';
import { SerialQueue } from '../modbus/serial-queue.ts';
import type { ModbusTable } from '../modbus/types.ts';

/** One TCP connection to a Modbus server (or TCP-to-RTU gateway), opened on first use. */
export class TcpTransport implements ModbusTransport {
  private client: ModbusRTU | null = null;
  private opening: Promise<ModbusRTU> | null = null;
  private readonly queue = new SerialQueue();

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly connectTimeoutMs: number,
  ) {}

  private open(): Promise<ModbusRTU> {
    if (this.client?.isOpen) return Promise.resolve(this.client);
    this.opening ??= this.connect().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  private async connect(): Promise<ModbusRTU> {
    await this.drop();
    const client = new ModbusRTU();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.connectTCP(this.host, { port: this.port }),
        new Promise((_, reject) => {
          timer = setTimeout(() => {
            const err = new Error(`connect to ${this.host}:${this.port} timed out after ${this.connectTimeoutMs} ms`);
            (err as NodeJS.ErrnoException).code = 'ECONNTIMEOUT';
            reject(err);
          }, this.connectTimeoutMs);
        }),
      ]);
    } catch (err) {
      client.destroy(() => {});
      throw err;
    } finally {
      clearTimeout(timer);
    }
    this.client = client;
    return client;
  }

  read(unitId: number, table: ModbusTable, address: number, count: number, timeoutMs: number): Promise<number[] | boolean[]> {
    return this.queue.run(async () => {
      const client = await this.open();
      client.setID(unitId);
      client.setTimeout(timeoutMs);
      switch (table) {
        case 'holding':
          return (await client.readHoldingRegisters(address, count)).data;
        case 'input':
          return (await client.readInputRegisters(address, count)).data;
        case 'coil':
          return (await client.readCoils(address, count)).data.slice(0, count);
        case 'discrete':
          return (await client.readDiscreteInputs(address, count)).data.slice(0, count);
      }
    });
  }

  private drop(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (!client) return Promise.resolve();
    return new Promise((resolve) => client.destroy(() => resolve()));
  }

  reset(): Promise<void> {
    return this.queue.run(() => this.drop());
  }

  close(): Promise<void> {
    return this.reset();
  }
}
