import type { ModbusRTU } from '../modbus/modbus-serial.ts';
import { ClientTransport } from '../modbus/client-transport.ts';

/** One TCP connection to a Modbus server (or TCP-to-RTU gateway), opened on first use. */
export class TcpTransport extends ClientTransport {
  constructor(
    readonly host: string,
    readonly port: number,
    private readonly connectTimeoutMs: number,
  ) {
    super();
  }

  protected async openClient(): Promise<ModbusRTU> {
    // modbus-serial (and the serialport it requires) on the first connect, not with the driver's
    // definition: `--check` and the config schema never load it (drivers/lazy-load.test.ts).
    let client: ModbusRTU | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      // Inside the try: a library that fails to load (a broken install) names the device's address.
      const { ModbusRTU: Client } = await import('../modbus/modbus-serial.ts').catch((err: Error) => {
        throw Object.assign(new Error(`cannot load the Modbus client for ${this.host}:${this.port}: ${err.message}`), { code: (err as NodeJS.ErrnoException).code ?? 'EMODBUSLOAD' });
      });
      client = new Client();
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
      client?.destroy(() => {});
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return client;
  }

  protected closeClient(client: ModbusRTU): Promise<void> {
    return new Promise((resolve) => client.destroy(() => resolve()));
  }

  reset(): Promise<void> {
    return this.close();
  }
}
