/**
 * Modbus point model shared by the config schema, the request planner and the decoder.
 * Addresses here are protocol addresses (0-based); the config layer converts 1-based
 * device documentation addresses before anything reaches the planner.
 */

/** Which Modbus table a point lives in; decides the function code (1, 2, 3, 4). */
export type ModbusTable = 'coil' | 'discrete' | 'holding' | 'input';

export const MODBUS_TABLES: readonly ModbusTable[] = ['coil', 'discrete', 'holding', 'input'];

export type ModbusDataType =
  | 'bool' // coil / discrete input
  | 'bit' // one bit inside a 16-bit register (needs `bit`)
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'float32'
  | 'int64'
  | 'uint64'
  | 'float64'
  | 'string'; // `length` registers, 2 chars each

export const MODBUS_DATA_TYPES: readonly ModbusDataType[] = [
  'bool', 'bit', 'int16', 'uint16', 'int32', 'uint32', 'float32', 'int64', 'uint64', 'float64', 'string',
];

/**
 * Byte order of a multi-register value, named by where the bytes of the big-endian value
 * A B C D (A = most significant) land in the registers read in address order.
 * ABCD: big-endian words, big-endian bytes (Modbus standard).
 * CDAB: word-swapped (little-endian word order, common on meters).
 * BADC: byte-swapped inside each word.
 * DCBA: fully little-endian.
 * For 64-bit values the same rule extends to 4 words.
 */
export type ByteOrder = 'ABCD' | 'CDAB' | 'BADC' | 'DCBA';

export const BYTE_ORDERS: readonly ByteOrder[] = ['ABCD', 'CDAB', 'BADC', 'DCBA'];

/** What the planner and decoder need of a point; extra fields (unit, scale...) are ignored by them. */
export interface ModbusPointRef {
  /** Point id, unique within its device. */
  id: string;
  table: ModbusTable;
  /** 0-based protocol address of the first register/bit. */
  address: number;
  type: ModbusDataType;
  order: ByteOrder;
  /** Bit index 0..15 for type 'bit'. */
  bit?: number;
  /** Register count for type 'string'. */
  length?: number;
}

/** One Modbus read request covering one or more points. */
export interface ReadBlock {
  table: ModbusTable;
  /** 0-based start address. */
  address: number;
  /** Number of registers (holding/input) or bits (coil/discrete). */
  count: number;
  /** The points this block serves, with their offset (in registers or bits) from `address`. */
  points: Array<{ point: ModbusPointRef; offset: number }>;
}

/** Limits for coalescing reads; the defaults follow the Modbus spec maximums. */
export interface PlanOptions {
  /** Max registers per read for holding/input (spec max 125). */
  maxRegisters: number;
  /** Max bits per read for coil/discrete (spec max 2000). */
  maxBits: number;
  /** Largest run of unused registers/bits allowed inside one read to join two points. */
  maxGap: number;
}

export const DEFAULT_PLAN_OPTIONS: PlanOptions = { maxRegisters: 125, maxBits: 2000, maxGap: 10 };

/** Decoded value: bigint only for 64-bit integers outside the safe integer range. */
export type ModbusValue = number | bigint | boolean | string;
