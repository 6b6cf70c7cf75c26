/**
 * The simulators' own register encoding, written from the Modbus conventions meters document
 * (big-endian bytes A B C D..., word order named by where those bytes land), NOT from the
 * gateway's decoder: a simulator that encodes with the code under test cannot catch its bugs.
 *
 *   ABCD  big-endian words, big-endian bytes (the Modbus standard)
 *   CDAB  words in reverse order, bytes big-endian inside each word (common on meters)
 *   BADC  words in order, the two bytes of each word swapped
 *   DCBA  fully little-endian
 *
 * Strings carry two characters per register, first character in the high byte, padded with
 * NUL; devices documented as BADC/DCBA put the first character in the low byte.
 */

export type SimTable = 'coil' | 'discrete' | 'holding' | 'input';
export type SimDataType = 'bool' | 'bit' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'int64' | 'uint64' | 'float64' | 'string';
export type SimByteOrder = 'ABCD' | 'CDAB' | 'BADC' | 'DCBA';
export type SimValue = number | bigint | boolean | string;

/** Where a simulated point lives and how it is laid out (the same fields a gateway point config has). */
export interface SimPointRef {
  id: string;
  table: SimTable;
  /** 0-based protocol address of the first register or bit. */
  address: number;
  type: SimDataType;
  order: SimByteOrder;
  /** Bit 0..15 for type 'bit'. */
  bit?: number;
  /** Register count for type 'string'. */
  length?: number;
}

const WIDTH: Record<Exclude<SimDataType, 'string'>, number> = {
  bool: 1, bit: 1, int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, int64: 4, uint64: 4, float64: 4,
};

/** Registers (or bits, in the coil and discrete tables) a point occupies. */
export function registerWidth(p: Pick<SimPointRef, 'id' | 'type' | 'length'>): number {
  if (p.type !== 'string') return WIDTH[p.type];
  if (!Number.isInteger(p.length) || (p.length ?? 0) < 1) throw new Error(`simulated point ${p.id}: a string needs length >= 1 registers`);
  return p.length!;
}

function fail(p: SimPointRef, what: string): never {
  throw new Error(`simulated point ${p.id} (${p.type}): ${what}`);
}

function integer(p: SimPointRef, v: SimValue, min: bigint, max: bigint): bigint {
  if (typeof v === 'number' && !Number.isInteger(v)) fail(p, `${v} is not an integer`);
  if (typeof v !== 'number' && typeof v !== 'bigint') fail(p, `needs a number, got ${typeof v}`);
  const n = BigInt(v);
  if (n < min || n > max) fail(p, `${v} is outside ${min}..${max}`);
  return n;
}

function number(p: SimPointRef, v: SimValue): number {
  if (typeof v !== 'number') fail(p, `needs a number, got ${typeof v}`);
  return v;
}

/** The value's big-endian bytes (A B C D ...). */
function bigEndianBytes(p: SimPointRef, v: SimValue): Buffer {
  const b = Buffer.alloc(registerWidth(p) * 2);
  switch (p.type) {
    case 'int16':
      b.writeInt16BE(Number(integer(p, v, -0x8000n, 0x7fffn)));
      break;
    case 'uint16':
      b.writeUInt16BE(Number(integer(p, v, 0n, 0xffffn)));
      break;
    case 'int32':
      b.writeInt32BE(Number(integer(p, v, -0x8000_0000n, 0x7fff_ffffn)));
      break;
    case 'uint32':
      b.writeUInt32BE(Number(integer(p, v, 0n, 0xffff_ffffn)));
      break;
    case 'int64':
      b.writeBigInt64BE(integer(p, v, -(2n ** 63n), 2n ** 63n - 1n));
      break;
    case 'uint64':
      b.writeBigUInt64BE(integer(p, v, 0n, 2n ** 64n - 1n));
      break;
    case 'float32':
      b.writeFloatBE(number(p, v));
      break;
    case 'float64':
      b.writeDoubleBE(number(p, v));
      break;
    default:
      fail(p, 'has no numeric encoding');
  }
  return b;
}

function words(bytes: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) out.push(bytes.readUInt16BE(i));
  return out;
}

const swapBytes = (w: number) => ((w & 0xff) << 8) | (w >> 8);

/** The register values of `value` at point `p`, in address order (coils and discretes: 0 or 1). */
export function encodePoint(p: SimPointRef, value: SimValue): number[] {
  switch (p.type) {
    case 'bool':
      if (typeof value !== 'boolean') fail(p, `needs a boolean, got ${typeof value}`);
      return [value ? 1 : 0];
    case 'bit': {
      if (typeof value !== 'boolean') fail(p, `needs a boolean, got ${typeof value}`);
      const bit = p.bit ?? fail(p, 'needs bit 0..15');
      return [value ? 1 << bit : 0];
    }
    case 'string': {
      if (typeof value !== 'string') fail(p, `needs a string, got ${typeof value}`);
      const text = Buffer.from(value, 'utf8');
      const bytes = Buffer.alloc(registerWidth(p) * 2);
      if (text.length > bytes.length) fail(p, `${JSON.stringify(value)} does not fit ${bytes.length} bytes`);
      text.copy(bytes);
      const w = words(bytes);
      return p.order === 'BADC' || p.order === 'DCBA' ? w.map(swapBytes) : w;
    }
  }
  const w = words(bigEndianBytes(p, value));
  switch (p.order) {
    case 'ABCD':
      return w;
    case 'CDAB':
      return w.reverse();
    case 'BADC':
      return w.map(swapBytes);
    case 'DCBA':
      return w.reverse().map(swapBytes);
  }
}

/**
 * The value a client decodes from `encodePoint(p, value)`: float32 rounded to single
 * precision, 64-bit integers a number while safe and a bigint beyond, the rest unchanged.
 */
export function wireValue(p: SimPointRef, value: SimValue): SimValue {
  if (p.type === 'float32' && typeof value === 'number') return Math.fround(value);
  if ((p.type === 'int64' || p.type === 'uint64') && typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }
  return value;
}
