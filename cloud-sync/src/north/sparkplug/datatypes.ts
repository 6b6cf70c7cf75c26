import type { Value } from '../../model.ts';
import { DataType, dataTypeName } from '../../codec/sparkplug-payload.ts';

/**
 * A metric's datatype is fixed by its birth (tck-id-payloads-metric-datatype-req: the datatype
 * is part of the metric definition in NBIRTH/DBIRTH; DDATA carries none, so a host reads every
 * later value with the born one). Two things follow, both here:
 *  - the datatype comes from what the point IS (its config type, or the OPC UA server's
 *    DataType attribute), never from whichever value happened to come first;
 *  - every later value is converted to that datatype, never sent as null and never a reason
 *    for a new birth.
 */

/** kedge point types (config `type`) and OPC UA built-in DataType names, to Sparkplug datatypes. */
const BY_TYPE_NAME: Readonly<Record<string, number>> = {
  // kedge / Modbus config types
  bool: DataType.Boolean,
  bit: DataType.Boolean,
  int16: DataType.Int16,
  uint16: DataType.UInt16,
  int32: DataType.Int32,
  uint32: DataType.UInt32,
  int64: DataType.Int64,
  uint64: DataType.UInt64,
  float32: DataType.Float,
  float64: DataType.Double,
  string: DataType.String,
  // OPC UA built-in types (Part 6, 5.1.2), as node-opcua names them
  Boolean: DataType.Boolean,
  SByte: DataType.Int8,
  Byte: DataType.UInt8,
  Int16: DataType.Int16,
  UInt16: DataType.UInt16,
  Int32: DataType.Int32,
  UInt32: DataType.UInt32,
  Int64: DataType.Int64,
  UInt64: DataType.UInt64,
  Float: DataType.Float,
  Double: DataType.Double,
  String: DataType.String,
  LocalizedText: DataType.String,
  DateTime: DataType.DateTime,
  StatusCode: DataType.UInt32,
};

const NUMERIC = new Set<number>([
  DataType.Int8,
  DataType.Int16,
  DataType.Int32,
  DataType.Int64,
  DataType.UInt8,
  DataType.UInt16,
  DataType.UInt32,
  DataType.UInt64,
  DataType.Float,
  DataType.Double,
]);

/**
 * The Sparkplug datatype of a point from its declared type. A scaled or offset numeric point
 * is a Double whatever its register type (value * scale + offset is no longer an integer);
 * undefined when the type is not known (yet).
 */
export function datatypeOfPoint(typeName: string | undefined, scaled: boolean): number | undefined {
  if (typeName === undefined) return undefined;
  const dt = BY_TYPE_NAME[typeName];
  if (dt === undefined) return undefined;
  return scaled && NUMERIC.has(dt) ? DataType.Double : dt;
}

export type Conversion = { ok: true; value: Value } | { ok: false; why: string };

const INT_RANGES: Readonly<Record<number, readonly [number, number]>> = {
  [DataType.Int8]: [-128, 127],
  [DataType.Int16]: [-32768, 32767],
  [DataType.Int32]: [-0x80000000, 0x7fffffff],
  [DataType.UInt8]: [0, 255],
  [DataType.UInt16]: [0, 65535],
  [DataType.UInt32]: [0, 0xffffffff],
};

function toNumber(v: Exclude<Value, null>): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  const t = v.trim();
  if (t === '') return null;
  const n = Number(t);
  return Number.isNaN(n) && t !== 'NaN' ? null : n;
}

function toBigInt(v: Exclude<Value, null>): bigint | null {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return BigInt(v.trim());
  const n = toNumber(v);
  if (n === null || !Number.isFinite(n)) return null;
  return BigInt(Math.round(n));
}

/**
 * `value` as a value of `datatype`. Integers take the nearest integer of a fractional number,
 * Boolean is "not zero", String is the value's text; a value outside the datatype's range, or
 * text that is no number, cannot be converted (`ok: false`, with the reason). null stays null:
 * the point has no value (bad quality), which is what is_null says.
 */
export function convertValue(datatype: number, value: Value): Conversion {
  if (value === null) return { ok: true, value: null };
  const name = dataTypeName(datatype) ?? `datatype ${datatype}`;
  const fail = (why: string): Conversion => ({ ok: false, why: `${typeof value === 'string' ? JSON.stringify(value) : String(value)} ${why} ${name}` });
  switch (datatype) {
    case DataType.Boolean:
      if (typeof value === 'boolean') return { ok: true, value };
      if (typeof value === 'string') {
        const t = value.trim().toLowerCase();
        if (t === 'true' || t === '1') return { ok: true, value: true };
        if (t === 'false' || t === '0') return { ok: true, value: false };
        return fail('is not a');
      }
      if (typeof value === 'number' && Number.isNaN(value)) return fail('is not a');
      return { ok: true, value: typeof value === 'bigint' ? value !== 0n : value !== 0 };
    case DataType.String:
    case DataType.Text:
      return { ok: true, value: typeof value === 'string' ? value : String(value) };
    case DataType.Float:
    case DataType.Double: {
      const n = toNumber(value);
      if (n === null) return fail('is not a number, so not a');
      // A finite number beyond a Float's range would arrive as Infinity.
      if (datatype === DataType.Float && Number.isFinite(n) && !Number.isFinite(Math.fround(n))) return fail('is out of range for');
      return { ok: true, value: n };
    }
    case DataType.Int64:
    case DataType.UInt64:
    case DataType.DateTime: {
      let big: bigint | null;
      if (datatype === DataType.DateTime && typeof value === 'string' && !/^\d+$/.test(value.trim())) {
        const ms = Date.parse(value);
        big = Number.isNaN(ms) ? null : BigInt(ms);
      } else {
        big = toBigInt(value);
      }
      if (big === null) return fail('is not an integer, so not a');
      const [min, max] = datatype === DataType.Int64 ? [-(2n ** 63n), 2n ** 63n - 1n] : [0n, 2n ** 64n - 1n];
      if (big < min || big > max) return fail('is out of range for');
      return { ok: true, value: big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big };
    }
    default: {
      const range = INT_RANGES[datatype];
      if (!range) return fail('cannot be sent as');
      const n = toNumber(value);
      if (n === null || !Number.isFinite(n)) return fail('is not an integer, so not a');
      // + 0: an integer has no -0 (the wire would say 0 anyway).
      const i = Math.round(n) + 0;
      if (i < range[0] || i > range[1]) return fail('is out of range for');
      return { ok: true, value: i };
    }
  }
}
