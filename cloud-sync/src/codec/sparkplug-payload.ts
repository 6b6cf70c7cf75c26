import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { isQuality, type Quality, type Value } from '../model.ts';
import { CodecError } from './batch.ts';

/**
 * Sparkplug B payloads, encoded with protobufjs 7 from the official sparkplug_b.proto (kept
 * beside this file). Chosen over the `sparkplug-payload` package because that one pins
 * protobufjs 6, cannot take a bigint (a uint64 silently becomes 0) and drops is_null on decode.
 */

let payloadType: protobuf.Type | undefined;
/**
 * The Payload message, parsed from the .proto at the first encode or decode: a process that only
 * imports this file with the codec registry (an ingest that reads compact batches, a test of
 * another codec) does not pay for the parse.
 */
const payloadMessage = (): protobuf.Type =>
  (payloadType ??= protobuf.parse(readFileSync(new URL('./sparkplug_b.proto', import.meta.url), 'utf8')).root.lookupType('org.eclipse.tahu.protobuf.Payload'));

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
 * The metric property "Quality" (Sparkplug B 3.0, chapter 6, PropertyValue › "Quality Codes",
 * tck-id-payloads-propertyset-quality-value-type/-value): an Int32 of 0 (BAD), 192 (GOOD) or
 * 500 (STALE), and only needed when the quality is not good. No other code is allowed, so the
 * kedge quality (which of the bad kinds, for people and for the kedge ingest) rides beside it
 * in a String property hosts may show or ignore.
 */
export const SPARKPLUG_QUALITY = { bad: 0, good: 192, stale: 500 } as const;
export const QUALITY_PROPERTY = 'Quality';
export const KEDGE_QUALITY_PROPERTY = 'kedge/quality';

export function qualityCode(q: Quality): number {
  if (q === 'good') return SPARKPLUG_QUALITY.good;
  // "uncertain" is a value the device gave but doubts (last usable value, out of range): the
  // nearest of the three is STALE, not BAD.
  // "uncertain_clock" is the device's value under a timestamp the box knows to be wrong: STALE too.
  if (q === 'uncertain' || q === 'uncertain_clock') return SPARKPLUG_QUALITY.stale;
  return SPARKPLUG_QUALITY.bad;
}

/** Codes kedge sent before 3.0 conformance (OPC DA style); still read so payloads from older boxes decode. */
const LEGACY_CODES = new Map<number, Quality>([
  [64, 'uncertain'],
  [8, 'bad_no_response'],
  [12, 'bad_device_error'],
  [24, 'bad_comm'],
  [4, 'bad_config'],
]);
export function qualityFromCode(code: number, detail?: string): Quality {
  if (isQuality(detail)) return detail;
  if (code === SPARKPLUG_QUALITY.good) return 'good';
  if (code === SPARKPLUG_QUALITY.stale) return 'uncertain';
  if (code === SPARKPLUG_QUALITY.bad) return 'bad_decode';
  return LEGACY_CODES.get(code) ?? (code > 192 ? 'uncertain' : 'bad_comm');
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

function toWire(m: SpMetric, i: number, withDatatype: boolean): WireMetric {
  const w: WireMetric = { datatype: m.datatype };
  if (m.name !== undefined) w.name = m.name;
  if (m.alias !== undefined) w.alias = m.alias;
  if (m.timestamp !== undefined) w.timestamp = m.timestamp;
  if (m.isHistorical) w.isHistorical = true;
  if (m.isTransient) w.isTransient = true;
  if (m.value === null) w.isNull = true;
  else setValue(w, m.datatype, m.value, `metric ${m.name ?? `alias ${m.alias}`} (#${i})`);
  if (m.quality !== undefined && m.quality !== 'good') {
    w.properties = {
      keys: [QUALITY_PROPERTY, KEDGE_QUALITY_PROPERTY],
      values: [
        { type: DataType.Int32, intValue: qualityCode(m.quality) },
        { type: DataType.String, stringValue: m.quality },
      ],
    };
  }
  if (!withDatatype) delete w.datatype;
  return w;
}

export interface EncodeOptions {
  /**
   * False for NDATA/DDATA/NCMD/DCMD: "the datatype SHOULD NOT be included with metric definitions"
   * there (tck-id-payloads-metric-datatype-not-req); the receiver knows it from the birth. The
   * value is still encoded by `datatype`.
   */
  datatypes?: boolean;
}

export function encodePayload(p: SpPayload, opts: EncodeOptions = {}): Buffer {
  const withDatatype = opts.datatypes ?? true;
  const wire: Record<string, unknown> = { metrics: p.metrics.map((m, i) => toWire(m, i, withDatatype)) };
  if (p.timestamp !== undefined) wire.timestamp = p.timestamp;
  if (p.seq !== undefined) wire.seq = p.seq;
  if (p.uuid !== undefined) wire.uuid = p.uuid;
  if (p.body !== undefined) wire.body = p.body;
  const bytes = payloadMessage().encode(wire).finish();
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
  properties?: { keys?: string[] | null; values?: Array<{ intValue?: number | null; stringValue?: string | null }> | null } | null;
  intValue?: number | null;
  longValue?: LongLike | null;
  floatValue?: number | null;
  doubleValue?: number | null;
  booleanValue?: boolean | null;
  stringValue?: string | null;
  value?: string;
}

function metricValue(m: DecodedMetric, datatype: number, where: string): Value {
  if (m.isNull) return null;
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

export interface DecodeOptions {
  /**
   * The born datatype of a metric sent without one (DDATA, DCMD: tck-id-payloads-metric-datatype-not-req);
   * undefined when the metric is unknown, which makes it a CodecError.
   */
  datatypeOf?(m: { name?: string; alias?: number }): number | undefined;
}

/** Throws CodecError for anything that is not a Sparkplug B payload kedge can read. */
export function decodePayload(buf: Buffer, opts: DecodeOptions = {}): SpPayload {
  let raw: { timestamp?: LongLike | null; seq?: LongLike | null; metrics?: DecodedMetric[]; uuid?: string | null; body?: Uint8Array | null };
  // Outside the try: a .proto that cannot be read is no fault of the payload's.
  const type = payloadMessage();
  try {
    raw = type.decode(buf) as unknown as typeof raw;
  } catch (err) {
    throw new CodecError('sparkplug', `not a Sparkplug B payload: ${(err as Error).message}`);
  }
  const metrics = (raw.metrics ?? []).map((m, i): SpMetric => {
    const alias = has(m, 'alias') ? longToNumber(m.alias, `metric #${i} alias`) : undefined;
    const where = `metric ${m.name ?? `alias ${alias}`} (#${i})`;
    const name = has(m, 'name') && m.name != null ? m.name : undefined;
    const datatype = has(m, 'datatype') && m.datatype != null ? m.datatype : opts.datatypeOf?.({ ...(name !== undefined ? { name } : {}), ...(alias !== undefined ? { alias } : {}) });
    if (datatype === undefined) throw new CodecError('sparkplug', `${where}: datatype missing`);
    const out: SpMetric = { datatype, value: metricValue(m, datatype, where) };
    if (name !== undefined) out.name = name;
    if (alias !== undefined) out.alias = alias;
    const ts = has(m, 'timestamp') ? longToNumber(m.timestamp, `${where} timestamp`) : undefined;
    if (ts !== undefined) out.timestamp = ts;
    if (m.isHistorical) out.isHistorical = true;
    if (m.isTransient) out.isTransient = true;
    const prop = (key: string) => {
      const i = m.properties?.keys?.indexOf(key) ?? -1;
      return i >= 0 ? m.properties?.values?.[i] : undefined;
    };
    const code = prop(QUALITY_PROPERTY)?.intValue;
    const detail = prop(KEDGE_QUALITY_PROPERTY)?.stringValue ?? undefined;
    out.quality = typeof code === 'number' ? qualityFromCode(code | 0, detail) : 'good';
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
