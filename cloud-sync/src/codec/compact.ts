import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { QUALITIES, type LogRecord, type Quality, type SeqRange, type Value } from '../model.ts';
import { batchProblem, CodecError, type Batch, type Codec } from './batch.ts';
import { ByteReader, ByteWriter } from './bytes.ts';
import { decodeBodyV3, encodeBodyV3, Kind, KIND_COUNT, kindOf, pointDictionary, readRuns, writeEvicted, writeRuns } from './compact-v3.ts';

/**
 * `kedge-compact`: a columnar binary batch for metered 4G links. The layout is specified in
 * COMPACT.md next to this file; any change to it is a new version byte, never a silent edit.
 */
export const COMPACT_MAGIC = 0xcb;
export const COMPACT_VERSION = 1;
/** Version 2 = version 1 plus the log epoch (a string right after the gateway). */
export const COMPACT_VERSION_EPOCH = 2;
/** Version 3: tokenized point dictionary, predicted point column, per-point value coding, flags (epoch, live). */
export const COMPACT_VERSION_POINTSET = 3;
const VERSIONS = [COMPACT_VERSION, COMPACT_VERSION_EPOCH, COMPACT_VERSION_POINTSET];
const NAME = 'compact';
/** A batch is at most a few MB inflated; anything claiming more is corrupt or hostile. */
const MAX_INFLATED = 64 * 1024 * 1024;

const QUALITY_INDEX = new Map<Quality, number>(QUALITIES.map((q, i) => [q, i]));

/** The version 1/2 body: still decoded (gateways in the field send it), written only by compactV2Codec. */
function encodeBody(b: Batch): Buffer {
  const w = new ByteWriter();
  w.string(b.gateway);
  if (b.epoch !== undefined) w.string(b.epoch);
  w.uvarint(b.first);
  w.uvarint(b.last - b.first);

  writeEvicted(w, b);

  const n = b.readings.length;
  const { dict, pointColumn } = pointDictionary(b.readings);
  w.uvarint(dict.size);
  for (const key of dict.keys()) w.string(key);

  w.uvarint(n);
  for (const id of pointColumn) w.uvarint(id);

  let prevTs = 0;
  for (const r of b.readings) {
    w.svarint(r.ts - prevTs);
    prevTs = r.ts;
  }

  const qualities = new Uint8Array(n);
  const kinds = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = b.readings[i]!;
    const q = QUALITY_INDEX.get(r.quality);
    if (q === undefined) throw new CodecError(NAME, `reading ${r.seq}: unknown quality ${JSON.stringify(r.quality)}`);
    qualities[i] = q;
    kinds[i] = kindOf(r.value);
  }
  writeRuns(w, qualities);
  writeRuns(w, kinds);

  // One section per kind, in kind order: like values sit together, which deflate rewards.
  const byKind = (k: Kind) => b.readings.filter((_, i) => kinds[i] === k).map((r) => r.value);
  for (const v of byKind(Kind.Float32)) w.float32(v as number);
  for (const v of byKind(Kind.Float64)) w.float64(v as number);
  for (const v of byKind(Kind.Int)) w.svarint(v as number);
  const bools = byKind(Kind.Bool);
  for (let i = 0; i < bools.length; i += 8) {
    let byte = 0;
    for (let j = 0; j < 8 && i + j < bools.length; j++) if (bools[i + j]) byte |= 1 << j;
    w.byte(byte);
  }
  for (const v of byKind(Kind.String)) w.string(v as string);
  for (const v of byKind(Kind.BigInt)) w.bigSvarint(v as bigint);
  return w.finish();
}

function decodeBody(body: Buffer, version: number): Batch {
  const r = new ByteReader(body, (m) => new CodecError(NAME, m));
  const gateway = r.string('gateway');
  if (gateway.length === 0) throw new CodecError(NAME, 'gateway is empty');
  const epoch = version === COMPACT_VERSION_EPOCH ? r.string('epoch') : undefined;
  const first = r.uvarint('first');
  if (first < 1) throw new CodecError(NAME, 'first must be >= 1');
  const last = first + r.uvarint('last - first');
  if (!Number.isSafeInteger(last)) throw new CodecError(NAME, 'last is beyond 2^53');

  const evicted: SeqRange[] = [];
  const evictedCount = r.count('evicted count', 2);
  let cursor = first;
  let evictedTotal = 0;
  for (let i = 0; i < evictedCount; i++) {
    const eFirst = cursor + r.uvarint('evicted gap');
    const eLast = eFirst + r.uvarint('evicted length');
    if (eLast > last) throw new CodecError(NAME, `evicted range ${eFirst}-${eLast} ends past last ${last}`);
    evicted.push({ first: eFirst, last: eLast });
    evictedTotal += eLast - eFirst + 1;
    cursor = eLast + 1;
  }

  const dictSize = r.count('point dictionary size', 1);
  const dict: string[] = [];
  for (let i = 0; i < dictSize; i++) {
    const key = r.string(`point ${i}`);
    if (key.length === 0) throw new CodecError(NAME, `point ${i} has an empty key`);
    dict.push(key);
  }

  const n = r.count('reading count', 1);
  if (n !== last - first + 1 - evictedTotal) {
    throw new CodecError(NAME, `${n} readings and ${evictedTotal} evicted do not cover ${first}..${last}`);
  }
  const points = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const id = r.uvarint('point index');
    const key = dict[id];
    if (key === undefined) throw new CodecError(NAME, `reading ${i} names point ${id}, dictionary has ${dictSize}`);
    points[i] = key;
  }
  const ts = new Array<number>(n);
  let prevTs = 0;
  for (let i = 0; i < n; i++) {
    prevTs += r.svarint('timestamp delta');
    if (!Number.isSafeInteger(prevTs)) throw new CodecError(NAME, `reading ${i}: timestamp beyond 2^53`);
    ts[i] = prevTs;
  }
  const qualities = readRuns(r, n, QUALITIES.length, 'quality');
  const kinds = readRuns(r, n, KIND_COUNT, 'value kind');

  const values = new Array<Value>(n).fill(null);
  const each = (k: Kind, read: () => Value) => {
    for (let i = 0; i < n; i++) if (kinds[i] === k) values[i] = read();
  };
  each(Kind.Float32, () => r.float32('float32 value'));
  each(Kind.Float64, () => r.float64('float64 value'));
  each(Kind.Int, () => {
    const v = r.bigSvarint('integer value');
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new CodecError(NAME, `integer value ${v} beyond 2^53`);
    return Number(v);
  });
  const boolCount = kinds.reduce((c, k) => c + (k === Kind.Bool ? 1 : 0), 0);
  const bits = r.bytes(Math.ceil(boolCount / 8), 'bool bitset');
  let bit = 0;
  each(Kind.Bool, () => {
    const v = (bits[bit >> 3]! >> (bit & 7)) & 1;
    bit++;
    return v === 1;
  });
  each(Kind.String, () => r.string('string value'));
  each(Kind.BigInt, () => r.bigSvarint('bigint value'));
  if (r.remaining !== 0) throw new CodecError(NAME, `${r.remaining} unexpected bytes after the values`);

  // Sequence numbers are implied: first..last in order, skipping the evicted ranges.
  const readings: LogRecord[] = new Array<LogRecord>(n);
  let seq = first;
  let e = 0;
  for (let i = 0; i < n; i++) {
    while (e < evicted.length && evicted[e]!.first === seq) seq = evicted[e++]!.last + 1;
    readings[i] = { seq, point: points[i]!, ts: ts[i]!, value: values[i]!, quality: QUALITIES[qualities[i]!]! };
    seq++;
  }
  const batch: Batch = { gateway, ...(epoch !== undefined ? { epoch } : {}), first, last, evicted, readings };
  const problem = batchProblem(batch);
  if (problem) throw new CodecError(NAME, problem);
  return batch;
}

function inflate(payload: Buffer): Buffer {
  try {
    return inflateRawSync(payload.subarray(2), { maxOutputLength: MAX_INFLATED });
  } catch (err) {
    throw new CodecError(NAME, `body does not inflate: ${(err as Error).message}`);
  }
}

function decodeCompact(payload: Buffer): Batch {
  if (payload.length < 2 || payload[0] !== COMPACT_MAGIC) throw new CodecError(NAME, 'not a kedge-compact payload (magic byte 0xcb missing)');
  const version = payload[1]!;
  if (!VERSIONS.includes(version)) {
    throw new CodecError(NAME, `unsupported kedge-compact version ${version} (this decoder reads ${VERSIONS.join(', ')})`);
  }
  const body = inflate(payload);
  if (version !== COMPACT_VERSION_POINTSET) return decodeBody(body, version);
  const batch = decodeBodyV3(body);
  const problem = batchProblem(batch);
  if (problem) throw new CodecError(NAME, problem);
  return batch;
}

function checked(b: Batch): void {
  const problem = batchProblem(b);
  if (problem) throw new CodecError(NAME, `cannot encode an invalid batch: ${problem}`);
}

/** What gateways write: version 3. Decodes versions 1, 2 and 3 (the center's ingest). */
export const compactCodec: Codec = {
  name: NAME,
  // One media type for every version: the payload's version byte tells them apart.
  contentType: 'application/vnd.kedge.compact.v1',
  encode(b: Batch): Buffer {
    checked(b);
    return Buffer.concat([Buffer.from([COMPACT_MAGIC, COMPACT_VERSION_POINTSET]), deflateRawSync(encodeBodyV3(b))]);
  },
  decode: decodeCompact,
};

/**
 * The version 1/2 layout, for a gateway that must feed a center whose ingest predates
 * version 3 (it refuses version 3 by name), and for the wire bench's old-versus-new figure.
 * It cannot carry the live mark: a live batch is refused rather than sent as a backlog one.
 */
export const compactV2Codec: Codec = {
  name: NAME,
  contentType: 'application/vnd.kedge.compact.v1',
  encode(b: Batch): Buffer {
    checked(b);
    if (b.live) throw new CodecError(NAME, 'kedge-compact version 1/2 cannot mark a live batch (version 3 can)');
    const body = deflateRawSync(encodeBody(b));
    // A batch without an epoch stays version 1, byte for byte what older centers read.
    const version = b.epoch === undefined ? COMPACT_VERSION : COMPACT_VERSION_EPOCH;
    return Buffer.concat([Buffer.from([COMPACT_MAGIC, version]), body]);
  },
  decode: decodeCompact,
};
