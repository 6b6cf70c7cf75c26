import type { ModbusTable } from './types.ts';

/**
 * What Modbus polling needs of a link: TCP, RTU over serial, or a test double. One transport
 * may be shared by several unit ids (a TCP gateway in front of an RS-485 line); it runs one
 * transaction at a time.
 */
export interface ModbusTransport {
  /** Reads `count` registers (numbers 0..65535) or bits (booleans) of `table`. */
  read(unitId: number, table: ModbusTable, address: number, count: number, timeoutMs: number): Promise<number[] | boolean[]>;
  /**
   * Writes registers (numbers 0..65535, holding) or bits (coil) starting at `address`:
   * FC 5/6 for one item, FC 15/16 for several. Optional so read-only test doubles stay small.
   */
  write?(unitId: number, table: ModbusTable, address: number, values: readonly number[] | readonly boolean[], timeoutMs: number): Promise<void>;
  /**
   * Reads one holding register, applies `modify`, writes the result (FC 3 + FC 6) with no other
   * transaction of this link in between, so a bit written here cannot undo a concurrent write.
   */
  modifyRegister?(unitId: number, address: number, modify: (register: number) => number, timeoutMs: number): Promise<void>;
  /** Drops the link so the next request reconnects (after a timeout that may have desynchronised it). */
  reset(): Promise<void>;
  close(): Promise<void>;
}
