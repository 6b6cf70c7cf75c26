import type { ModbusTable } from './types.ts';

/**
 * What Modbus polling needs of a link: TCP, RTU over serial, or a test double. One transport
 * may be shared by several unit ids (a TCP gateway in front of an RS-485 line); it runs one
 * transaction at a time.
 */
export interface ModbusTransport {
  /** Reads `count` registers (numbers 0..65535) or bits (booleans) of `table`. */
  read(unitId: number, table: ModbusTable, address: number, count: number, timeoutMs: number): Promise<number[] | boolean[]>;
  /** Drops the link so the next request reconnects (after a timeout that may have desynchronised it). */
  reset(): Promise<void>;
  close(): Promise<void>;
}
