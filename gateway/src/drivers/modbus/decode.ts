import {
  BYTE_ORDERS,
  MODBUS_TABLES,
  type ByteOrder,
  type ModbusDataType,
  type ModbusPointRef,
  type ModbusTable,
  type ModbusValue,
} from './types.ts';

/**
 * A point could not be decoded or encoded. Always names the point, because a gateway polls
 * hundreds of them and "register out of range" alone is useless in a log.
 */
export class ModbusDecodeError extends Error {
  override readonly name = 'ModbusDecodeError';
  readonly pointId: string | undefined;

  constructor(pointId: string | undefined, message: string) {
    super(pointId === undefined ? message : `Modbus point "${pointId}": ${message}`);
    this.pointId = pointId;
  }
}

const NUMERIC_WORDS: Partial<Record<ModbusDataType, number>> = {
  int16: 1,
  uint16: 1,
  int32: 2,
  uint32: 2,
  float32: 2,
  int64: 4,
  uint64: 4,
  float64: 4,
};

const INT_RANGES: Partial<Record<ModbusDataType, readonly [bigint, bigint]>> = {
  int16: [-(2n ** 15n), 2n ** 15n - 1n],
  uint16: [0n, 2n ** 16n - 1n],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function isBitTable(table: ModbusTable): boolean {
  return table === 'coil' || table === 'discrete';
}

/**
 * Registers (holding/input) or bits (coil/discrete) the point occupies.
 * `id` is optional so callers validating a half-built config can use it too; when present
 * it is named in errors.
 */
export function registerCount(p: { table: ModbusTable; type: ModbusDataType; length?: number; id?: string }): number {
  if (!MODBUS_TABLES.includes(p.table)) {
    throw new ModbusDecodeError(p.id, `unknown table "${String(p.table)}" (expected ${MODBUS_TABLES.join(', ')})`);
  }
  // A mismatch here would otherwise surface later as a wrong function code or a silently
  // misread value, so reject it where the size is first asked for.
  if (p.type === 'bool') {
    if (!isBitTable(p.table)) {
      throw new ModbusDecodeError(
        p.id,
        `type bool belongs in the coil or discrete table, not ${p.table}; use type bit for a bit inside a register`,
      );
    }
    return 1;
  }
  if (isBitTable(p.table)) {
    throw new ModbusDecodeError(p.id, `type ${String(p.type)} cannot live in the ${p.table} table, which holds single bits; use type bool`);
  }
  if (p.type === 'bit') return 1;
  if (p.type === 'string') return requireLength(p);
  const words = NUMERIC_WORDS[p.type];
  if (words === undefined) throw new ModbusDecodeError(p.id, `unknown data type "${String(p.type)}"`);
  return words;
}

function requireLength(p: { length?: number; id?: string }): number {
  const { length } = p;
  if (length === undefined || !Number.isInteger(length) || length < 1) {
    throw new ModbusDecodeError(p.id, `type string needs a length (a register count >= 1), got ${String(length)}`);
  }
  return length;
}

function requireBit(p: ModbusPointRef): number {
  const { bit } = p;
  if (bit === undefined || !Number.isInteger(bit) || bit < 0 || bit > 15) {
    throw new ModbusDecodeError(p.id, `type bit needs a bit index 0..15, got ${String(bit)}`);
  }
  return bit;
}

function requireOrder(p: ModbusPointRef): ByteOrder {
  if (!BYTE_ORDERS.includes(p.order)) {
    throw new ModbusDecodeError(p.id, `unknown byte order "${String(p.order)}" (expected ${BYTE_ORDERS.join(', ')})`);
  }
  return p.order;
}

function requireOffset(p: ModbusPointRef, offset: number): void {
  if (!Number.isInteger(offset) || offset < 0) {
    throw new ModbusDecodeError(p.id, `offset must be an integer >= 0, got ${offset}`);
  }
}

/** Throws unless `count` registers at `offset` are there and each is an integer 0..65535. */
function checkWords(p: ModbusPointRef, words: ArrayLike<number>, offset: number, count: number): void {
  requireOffset(p, offset);
  if (offset + count > words.length) {
    throw new ModbusDecodeError(
      p.id,
      `needs ${count} register(s) at offset ${offset}..${offset + count - 1} but only ${words.length} were read`,
    );
  }
  for (let i = offset; i < offset + count; i++) {
    const w: unknown = words[i];
    if (typeof w !== 'number' || !Number.isInteger(w) || w < 0 || w > 0xffff) {
      throw new ModbusDecodeError(p.id, `register at offset ${i} is ${String(w)}, not an integer 0..65535`);
    }
  }
}

function readWords(p: ModbusPointRef, words: ArrayLike<number>, offset: number, count: number): number[] {
  checkWords(p, words, offset, count);
  return Array.from({ length: count }, (_, i) => words[offset + i]!);
}

function swapBytes(w: number): number {
  return ((w & 0xff) << 8) | (w >> 8);
}

/** Scratch for float32 bits: decoding runs once per point and poll, so nothing is allocated for it. */
const F32 = new DataView(new ArrayBuffer(4));

/**
 * The 1- and 2-register numbers (most points) straight from the words, without the byte
 * buffers of the general path; the same result as `reorder` (decode.test.ts checks both agree
 * on every order). Undefined for the other types.
 */
function decodeShort(p: ModbusPointRef, words: ArrayLike<number>, offset: number, order: ByteOrder): number | undefined {
  const swap = order === 'BADC' || order === 'DCBA';
  switch (p.type) {
    case 'uint16':
    case 'int16': {
      checkWords(p, words, offset, 1);
      const w = swap ? swapBytes(words[offset]!) : words[offset]!;
      return p.type === 'uint16' ? w : (w << 16) >> 16;
    }
    case 'uint32':
    case 'int32':
    case 'float32': {
      checkWords(p, words, offset, 2);
      const a = words[offset]!;
      const b = words[offset + 1]!;
      // Word order: CDAB and DCBA put the low word first; byte order inside a word: BADC and DCBA swap.
      const lowFirst = order === 'CDAB' || order === 'DCBA';
      let hi = lowFirst ? b : a;
      let lo = lowFirst ? a : b;
      if (swap) {
        hi = swapBytes(hi);
        lo = swapBytes(lo);
      }
      if (p.type === 'uint32') return hi * 0x10000 + lo;
      if (p.type === 'int32') return ((hi << 16) | lo) | 0;
      F32.setUint16(0, hi);
      F32.setUint16(2, lo);
      return F32.getFloat32(0);
    }
  }
  return undefined;
}

function wordsToBytes(words: readonly number[]): Buffer {
  const buf = Buffer.alloc(words.length * 2);
  words.forEach((w, i) => buf.writeUInt16BE(w, i * 2));
  return buf;
}

function bytesToWords(buf: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < buf.length; i += 2) out.push(buf.readUInt16BE(i));
  return out;
}

/**
 * Maps register bytes (in address order, high byte first) to the value's big-endian bytes.
 * Every order is its own inverse, so encoding uses the same function in the other direction.
 */
function reorder(bytes: Buffer, order: ByteOrder): Buffer {
  const out = Buffer.from(bytes);
  switch (order) {
    case 'ABCD':
      return out;
    case 'CDAB': {
      const n = bytes.length / 2;
      for (let j = 0; j < n; j++) bytes.copy(out, j * 2, (n - 1 - j) * 2, (n - j) * 2);
      return out;
    }
    case 'BADC':
      return out.swap16();
    case 'DCBA':
      return out.reverse();
  }
}

/** Strings have no word order; only BADC/DCBA devices put the low byte first. */
function lowByteFirst(order: ByteOrder): boolean {
  return order === 'BADC' || order === 'DCBA';
}

/**
 * Decodes one point from 16-bit register values starting at `offset`.
 * `bit` reads the register as received and ignores `order`: a status word is one register,
 * and devices that document bit numbers mean bits of that register.
 */
export function decodeRegisters(p: ModbusPointRef, words: ArrayLike<number>, offset = 0): ModbusValue {
  if (p.type === 'bool') {
    throw new ModbusDecodeError(p.id, `type bool is a coil/discrete bit; decode it with decodeBit`);
  }
  const count = registerCount(p);
  if (p.type === 'bit') {
    const bit = requireBit(p);
    checkWords(p, words, offset, 1);
    return ((words[offset]! >> bit) & 1) === 1;
  }
  const order = requireOrder(p);
  const short = decodeShort(p, words, offset, order);
  if (short !== undefined) return short;
  const raw = wordsToBytes(readWords(p, words, offset, count));
  if (p.type === 'string') {
    const bytes = lowByteFirst(order) ? raw.swap16() : raw;
    const nul = bytes.indexOf(0);
    const text = bytes.subarray(0, nul === -1 ? bytes.length : nul).toString('utf8');
    // Devices pad fixed-width fields with spaces as often as with NULs.
    return text.replace(/ +$/, '');
  }
  const be = reorder(raw, order);
  const view = new DataView(be.buffer, be.byteOffset, be.byteLength);
  switch (p.type) {
    case 'int16':
      return view.getInt16(0);
    case 'uint16':
      return view.getUint16(0);
    case 'int32':
      return view.getInt32(0);
    case 'uint32':
      return view.getUint32(0);
    case 'float32':
      return view.getFloat32(0);
    case 'float64':
      return view.getFloat64(0);
    case 'int64':
      return narrowSafe(view.getBigInt64(0));
    case 'uint64':
      return narrowSafe(view.getBigUint64(0));
  }
  throw new ModbusDecodeError(p.id, `unknown data type "${String(p.type)}"`);
}

/** Keeps ordinary counters as plain numbers so JSON and arithmetic downstream stay simple. */
function narrowSafe(v: bigint): number | bigint {
  return v >= MIN_SAFE && v <= MAX_SAFE ? Number(v) : v;
}

/** Decodes a coil/discrete point from the bits of a read (booleans, or 0/1 from a simulator). */
export function decodeBit(p: ModbusPointRef, bits: ArrayLike<boolean | number>, offset = 0): boolean {
  if (p.type !== 'bool') {
    throw new ModbusDecodeError(p.id, `decodeBit needs type bool, got ${String(p.type)}; use decodeRegisters`);
  }
  registerCount(p);
  requireOffset(p, offset);
  if (offset >= bits.length) {
    throw new ModbusDecodeError(p.id, `needs the bit at offset ${offset} but only ${bits.length} were read`);
  }
  const b: unknown = bits[offset];
  if (typeof b === 'boolean') return b;
  if (b === 0 || b === 1) return b === 1;
  throw new ModbusDecodeError(p.id, `bit at offset ${offset} is ${String(b)}, not a boolean or 0/1`);
}

/** The same registers decoded in every byte order, for a test read where the order is still unknown. */
export function decodeAllOrders(p: ModbusPointRef, words: ArrayLike<number>, offset = 0): Record<ByteOrder, ModbusValue> {
  const out = {} as Record<ByteOrder, ModbusValue>;
  for (const order of BYTE_ORDERS) out[order] = decodeRegisters({ ...p, order }, words, offset);
  return out;
}

/** Returns `register` with bit `bit` (0 = LSB) set or cleared; the read-modify-write step for 'bit' points. */
export function setBit(register: number, bit: number, on: boolean): number {
  if (!Number.isInteger(register) || register < 0 || register > 0xffff) {
    throw new RangeError(`register must be an integer 0..65535, got ${register}`);
  }
  if (!Number.isInteger(bit) || bit < 0 || bit > 15) {
    throw new RangeError(`bit must be an integer 0..15, got ${bit}`);
  }
  const mask = 1 << bit;
  return on ? register | mask : register & ~mask & 0xffff;
}

/**
 * Registers that decodeRegisters turns back into `value`.
 * - 'bit': the register with only that bit set (true) or 0 (false). Writing it directly would
 *   clobber the other 15 bits, so a real write reads the register and applies setBit instead.
 * - 'bool': [1] or [0], the inverse of decodeBit, so simulators can build a coil image.
 * - 'string': UTF-8, NUL-padded to `length` registers.
 * - floats: float32 rounds to the nearest float32 but rejects finite values that would overflow
 *   to Infinity; NaN and ±Infinity are allowed because meters use them to flag bad readings.
 */
export function encodeRegisters(p: ModbusPointRef, value: ModbusValue): number[] {
  const count = registerCount(p);
  switch (p.type) {
    case 'bool':
      return [expectBoolean(p, value) ? 1 : 0];
    case 'bit': {
      const bit = requireBit(p);
      return [expectBoolean(p, value) ? setBit(0, bit, true) : 0];
    }
    case 'string':
      return encodeString(p, value, count);
  }
  const order = requireOrder(p);
  const be = Buffer.alloc(count * 2);
  const view = new DataView(be.buffer, be.byteOffset, be.byteLength);
  switch (p.type) {
    case 'int16':
      view.setInt16(0, expectInt32Range(p, value));
      break;
    case 'uint16':
      view.setUint16(0, expectInt32Range(p, value));
      break;
    case 'int32':
      view.setInt32(0, expectInt32Range(p, value));
      break;
    case 'uint32':
      view.setUint32(0, expectInt32Range(p, value));
      break;
    case 'int64':
      view.setBigInt64(0, expectBigRange(p, value));
      break;
    case 'uint64':
      view.setBigUint64(0, expectBigRange(p, value));
      break;
    case 'float32': {
      const v = expectNumber(p, value);
      if (Number.isFinite(v) && !Number.isFinite(Math.fround(v))) {
        throw new ModbusDecodeError(p.id, `float32 value ${v} is out of range (largest magnitude ${(2 - 2 ** -23) * 2 ** 127})`);
      }
      view.setFloat32(0, v);
      break;
    }
    case 'float64':
      view.setFloat64(0, expectNumber(p, value));
      break;
    default:
      throw new ModbusDecodeError(p.id, `unknown data type "${String(p.type)}"`);
  }
  return bytesToWords(reorder(be, order));
}

function encodeString(p: ModbusPointRef, value: ModbusValue, count: number): number[] {
  if (typeof value !== 'string') {
    throw new ModbusDecodeError(p.id, `type string needs a string value, got ${typeof value}`);
  }
  const order = requireOrder(p);
  const text = Buffer.from(value, 'utf8');
  if (text.length > count * 2) {
    throw new ModbusDecodeError(
      p.id,
      `string ${JSON.stringify(value)} is ${text.length} bytes, more than the ${count * 2} bytes of its ${count} register(s)`,
    );
  }
  const bytes = Buffer.alloc(count * 2);
  text.copy(bytes);
  return bytesToWords(lowByteFirst(order) ? bytes.swap16() : bytes);
}

function expectBoolean(p: ModbusPointRef, value: ModbusValue): boolean {
  if (typeof value !== 'boolean') {
    throw new ModbusDecodeError(p.id, `type ${p.type} needs a boolean value, got ${typeof value}`);
  }
  return value;
}

function expectNumber(p: ModbusPointRef, value: ModbusValue): number {
  if (typeof value !== 'number') {
    throw new ModbusDecodeError(p.id, `type ${p.type} needs a number value, got ${typeof value}`);
  }
  return value;
}

function rangeText(p: ModbusPointRef): string {
  const range = INT_RANGES[p.type];
  return range === undefined ? '' : `${range[0]}..${range[1]}`;
}

/** 16/32-bit integers: only plain numbers, since decode never yields a bigint for them. */
function expectInt32Range(p: ModbusPointRef, value: ModbusValue): number {
  const v = expectNumber(p, value);
  if (!Number.isInteger(v)) {
    throw new ModbusDecodeError(p.id, `${p.type} value ${v} is not an integer (allowed ${rangeText(p)})`);
  }
  checkRange(p, BigInt(v), String(v));
  return v;
}

/** 64-bit integers: a bigint, or a number that is an integer (decode yields numbers in the safe range). */
function expectBigRange(p: ModbusPointRef, value: ModbusValue): bigint {
  let v: bigint;
  if (typeof value === 'bigint') {
    v = value;
  } else if (typeof value === 'number') {
    if (!Number.isInteger(value)) {
      throw new ModbusDecodeError(p.id, `${p.type} value ${value} is not an integer (allowed ${rangeText(p)})`);
    }
    v = BigInt(value);
  } else {
    throw new ModbusDecodeError(p.id, `type ${p.type} needs a number or bigint value, got ${typeof value}`);
  }
  checkRange(p, v, String(value));
  return v;
}

function checkRange(p: ModbusPointRef, v: bigint, shown: string): void {
  const range = INT_RANGES[p.type];
  if (range !== undefined && (v < range[0] || v > range[1])) {
    throw new ModbusDecodeError(p.id, `${p.type} value ${shown} is out of range ${range[0]}..${range[1]}`);
  }
}
