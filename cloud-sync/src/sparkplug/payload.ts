import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import type { Quality, Value } from '../model.ts';
import { CodecError } from '../codec/batch.ts';

/**
 * Sparkplug B payloads, encoded with protobufjs 7 from the official sparkplug_b.proto (kept
 * beside this file). Chosen over the `sparkplug-payload` package because that one pins
 * protobufjs 6, cannot take a bigint (a uint64 silently becomes 0) and drops is_null on decode.
 */

const root = protobuf.parse(readFileSync(new URL('./sparkplug_b.proto', import.meta.url), 'utf8')).root;
const PayloadType = root.lookupType('org.eclipse.tahu.protobuf.Payload');

export const DataType = {
  Int8: 1,
  Int16: 2,
  Int32: 3,
  Int64: 4,
  UInt8: 5,
  UInt16: 6,
  UInt32: 7,
  UInt64: 8,
  Float: 9,
  Double: 10,
  Boolean: 11,
  String: 12,
  DateTime: 13,
  Text: 14,
} as const;
export type DataTypeName = keyof typeof DataType;
const TYPE_NAMES = new Map<number, DataTypeName>(Object.entries(DataType).map(([k, v]) => [v, k as DataTypeName]));

export function dataTypeName(code: number): DataTypeName | undefined {
  return TYPE_NAMES.get(code);
}

/**
 * Ignition and other SCADA hosts read a metric property "Quality" holding an OPC DA quality
 * code; absent means good. Every kedge quality gets its own code so the mapping round-trips.
 */
export const QUALITY_CODES: Record<Quality, number> = {
  good: 192,
  uncertain: 64,
  bad_no_response: 8, // Bad_NotConnected: the device did not answer
  bad_device_error: 12, // Bad_DeviceFailure
  bad_comm: 24, // Bad_CommFailure
  bad_decode: 0, // Bad (non-specific)
  bad_config: 4, // Bad_ConfigError
};
const QUALITY_BY_CODE = new Map<number, Quality>(Object.entries(QUALITY_CODES).map(([q, c]) => [c, q as Quality]));

export function qualityFromCode(code: number): Quality {
  const exact = QUALITY_BY_CODE.get(code);
  if (exact) return exact;
  if (code >= 192) return 'good';
  if (code >= 64) return 'uncertain';
  return 'bad_comm';
}

export interface SpMetric {
  name?: string;
  alias?: number;
  timestamp?: number;
  datatype: number;
  value: Value;
  isHistorical?: boolean;
  isTransient?: boolean;
  /** Defaults to "good" (no Quality property on the wire). */
  quality?: Quality;
}

export interface SpPayload {
  timestamp?: number;
  seq?: number;
  metrics: SpMetric[];
  uuid?: string;
  body?: Buffer;
}

/** The Sparkplug datatype kedge uses for a value when the point's type is not declared. */
export function dataTypeFor(v: Value): number {
  switch (typeof v) {
    case 'number':
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) return v >= -0x80000000 && v <= 0x7fffffff ? DataType.Int32 : DataType.Int64;
      return Math.fround(v) === v || Number.isNaN(v) ? DataType.Float : DataType.Double;
    case 'bigint':
      return v < 0n ? DataType.Int64 : DataType.UInt64;
    case 'boolean':
      return DataType.Boolean;
    case 'string':
      return DataType.String;
    default:
      return DataType.Double;
  }
}

type WireMetric = Record<string, unknown>;

/** protobufjs takes a decimal string for 64-bit fields; the signed form parses without overflow and has the same bits. */
function toLong(v: bigint): string {
  return BigInt.asIntN(64, v).toString();
}

function setValue(m: WireMetric, datatype: number, v: Exclude<Value, null>, where: string): void {
  const fail = (why: string) => new CodecError('sparkplug', `${where}: ${why}`);
  const int = (min: number, max: number) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw fail(`${String(v)} is not a ${dataTypeName(datatype)}`);
    return v;
  };
  switch (datatype) {
    case DataType.Int8:
      m.intValue = int(-128, 127) >>> 0;
      return;
    case DataType.Int16:
      m.intValue = int(-32768, 32767) >>> 0;
      return;
    case DataType.Int32:
      m.intValue = int(-0x80000000, 0x7fffffff) >>> 0;
      return;
    case DataType.UInt8:
      m.intValue = int(0, 255);
      return;
    case DataType.UInt16:
      m.intValue = int(0, 65535);
      return;
    case DataType.UInt32:
      m.intValue = int(0, 0xffffffff);
      return;
    case DataType.Int64:
    case DataType.UInt64:
    case DataType.DateTime: {
      const unsigned = datatype !== DataType.Int64;
      const big = typeof v === 'bigint' ? v : typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : null;
      if (big === null) throw fail(`${String(v)} is not an integer`);
      if (unsigned ? big < 0n || big >= 2n ** 64n : big < -(2n ** 63n) || big >= 2n ** 63n) throw fail(`${big} is out of range`);
      m.longValue = toLong(big);
      return;
    }
    case DataType.Float:
    case DataType.Double:
      if (typeof v !== 'number') throw fail(`${String(v)} is not a number`);
      m[datatype === DataType.Float ? 'floatValue' : 'doubleValue'] = v;
      return;
    case DataType.Boolean:
      if (typeof v !== 'boolean') throw fail(`${String(v)} is not a boolean`);
      m.booleanValue = v;
      return;
    case DataType.String:
    case DataType.Text:
      if (typeof v !== 'string') throw fail(`${String(v)} is not a string`);
      m.stringValue = v;
      return;
    default:
      throw fail(`datatype ${datatype} is not supported`);
  }
}

function toWire(m: SpMetric, i: number): WireMetric {
  const w: WireMetric = { datatype: m.datatype };
  if (m.name !== undefined) w.name = m.name;
  if (m.alias !== undefined) w.alias = m.alias;
  if (m.timestamp !== undefined) w.timestamp = m.timestamp;
  if (m.isHistorical) w.isHistorical = true;
  if (m.isTransient) w.isTransient = true;
  if (m.value === null) w.isNull = true;
  else setValue(w, m.datatype, m.value, `metric ${m.name ?? `alias ${m.alias}`} (#${i})`);
  if (m.quality !== undefined && m.quality !== 'good') {
    w.properties = { keys: ['Quality'], values: [{ type: DataType.Int32, intValue: QUALITY_CODES[m.quality] }] };
  }
  return w;
}

export function encodePayload(p: SpPayload): Buffer {
  const wire: Record<string, unknown> = { metrics: p.metrics.map(toWire) };
  if (p.timestamp !== undefined) wire.timestamp = p.timestamp;
  if (p.seq !== undefined) wire.seq = p.seq;
  if (p.uuid !== undefined) wire.uuid = p.uuid;
  if (p.body !== undefined) wire.body = p.body;
  const bytes = PayloadType.encode(wire).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

type LongLike = { toString(): string } | number;

function longToValue(l: LongLike, signed: boolean): number | bigint {
  const big = typeof l === 'number' ? BigInt(l) : BigInt(l.toString());
  const v = signed ? BigInt.asIntN(64, big) : BigInt.asUintN(64, big);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function longToNumber(l: LongLike | null | undefined, what: string): number | undefined {
  if (l === null || l === undefined) return undefined;
  const v = longToValue(l, false);
  if (typeof v === 'bigint') throw new CodecError('sparkplug', `${what} ${v} is beyond 2^53`);
  return v;
}

interface DecodedMetric {
  name?: string | null;
  alias?: LongLike | null;
  timestamp?: LongLike | null;
  datatype?: number | null;
  isHistorical?: boolean | null;
  isTransient?: boolean | null;
  isNull?: boolean | null;
  properties?: { keys?: string[] | null; values?: Array<{ intValue?: number | null }> | null } | null;
  intValue?: number | null;
  longValue?: LongLike | null;
  floatValue?: number | null;
  doubleValue?: number | null;
  booleanValue?: boolean | null;
  stringValue?: string | null;
  value?: string;
}

function metricValue(m: DecodedMetric, where: string): Value {
  if (m.isNull) return null;
  const datatype = m.datatype ?? 0;
  const missing = () => new CodecError('sparkplug', `${where}: no value for datatype ${datatype}`);
  switch (datatype) {
    case DataType.Int8:
    case DataType.Int16:
    case DataType.Int32:
    case DataType.UInt8:
    case DataType.UInt16:
    case DataType.UInt32: {
      if (m.value !== 'intValue' || typeof m.intValue !== 'number') throw missing();
      const u = m.intValue;
      if (datatype === DataType.Int8) return (u << 24) >> 24;
      if (datatype === DataType.Int16) return (u << 16) >> 16;
      if (datatype === DataType.Int32) return u | 0;
      return u;
    }
    case DataType.Int64:
    case DataType.UInt64:
    case DataType.DateTime:
      if (m.value !== 'longValue' || m.longValue == null) throw missing();
      return longToValue(m.longValue, datatype === DataType.Int64);
    case DataType.Float:
      if (m.value !== 'floatValue' || typeof m.floatValue !== 'number') throw missing();
      return m.floatValue;
    case DataType.Double:
      if (m.value !== 'doubleValue' || typeof m.doubleValue !== 'number') throw missing();
      return m.doubleValue;
    case DataType.Boolean:
      if (m.value !== 'booleanValue' || typeof m.booleanValue !== 'boolean') throw missing();
      return m.booleanValue;
    case DataType.String:
    case DataType.Text:
      if (m.value !== 'stringValue' || typeof m.stringValue !== 'string') throw missing();
      return m.stringValue;
    default:
      throw new CodecError('sparkplug', `${where}: datatype ${datatype} is not supported`);
  }
}

/** Decoded messages inherit proto2 defaults (alias 0, seq 0) from their prototype: only own fields were on the wire. */
const has = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

/** Throws CodecError for anything that is not a Sparkplug B payload kedge can read. */
export function decodePayload(buf: Buffer): SpPayload {
  let raw: { timestamp?: LongLike | null; seq?: LongLike | null; metrics?: DecodedMetric[]; uuid?: string | null; body?: Uint8Array | null };
  try {
    raw = PayloadType.decode(buf) as unknown as typeof raw;
  } catch (err) {
    throw new CodecError('sparkplug', `not a Sparkplug B payload: ${(err as Error).message}`);
  }
  const metrics = (raw.metrics ?? []).map((m, i): SpMetric => {
    const alias = has(m, 'alias') ? longToNumber(m.alias, `metric #${i} alias`) : undefined;
    const where = `metric ${m.name ?? `alias ${alias}`} (#${i})`;
    if (m.datatype == null) throw new CodecError('sparkplug', `${where}: datatype missing`);
    const out: SpMetric = { datatype: m.datatype, value: metricValue(m, where) };
    if (has(m, 'name') && m.name != null) out.name = m.name;
    if (alias !== undefined) out.alias = alias;
    const ts = has(m, 'timestamp') ? longToNumber(m.timestamp, `${where} timestamp`) : undefined;
    if (ts !== undefined) out.timestamp = ts;
    if (m.isHistorical) out.isHistorical = true;
    if (m.isTransient) out.isTransient = true;
    const qi = m.properties?.keys?.indexOf('Quality') ?? -1;
    const code = qi >= 0 ? m.properties?.values?.[qi]?.intValue : undefined;
    out.quality = typeof code === 'number' ? qualityFromCode(code | 0) : 'good';
    return out;
  });
  const p: SpPayload = { metrics };
  const ts = has(raw, 'timestamp') ? longToNumber(raw.timestamp, 'payload timestamp') : undefined;
  if (ts !== undefined) p.timestamp = ts;
  const seq = has(raw, 'seq') ? longToNumber(raw.seq, 'payload seq') : undefined;
  if (seq !== undefined) p.seq = seq;
  if (has(raw, 'uuid') && raw.uuid != null) p.uuid = raw.uuid;
  if (has(raw, 'body') && raw.body != null) p.body = Buffer.from(raw.body);
  return p;
}

/** Whether a value can travel as the given datatype (a metric's datatype is fixed by its birth). */
export function valueFits(datatype: number, v: Value): boolean {
  if (v === null) return true;
  try {
    setValue({}, datatype, v, 'check');
    return true;
  } catch {
    return false;
  }
}
