import { QUALITIES, type LogRecord, type Quality, type Value } from '../model.ts';
import { CodecError, type Batch } from './batch.ts';
import { ByteReader, ByteWriter } from './bytes.ts';

/**
 * Body of `kedge-compact` version 3 (COMPACT.md, "Version 3"). What changed from version 2,
 * and why, measured on batches that hold one poll of 2,000-10,000 points:
 * - the point dictionary is tokenized (`<device>/<name>`, devices and names each a table of
 *   stem + trailing number), so 100 devices named plc-1..plc-100 cost their stem once, not
 *   100 strings: the dictionary was about 2.5 of version 2's 7 bytes per reading;
 * - the point column predicts each reading's point from what followed the previous one last
 *   time, so a batch of whole (or part) polls in a repeating order is a column of zero bytes;
 * - values are coded against the same point's previous value in the batch (integers as
 *   deltas, floats XORed; a float's first reading against the same point name on another
 *   device) and floats are split into byte planes, which deflate rewards;
 * - a float64 that is an integer times 0.1 ... 0.000001 (a gateway's `scale:`) travels as
 *   that integer (kind Scaled), not as 8 bytes of mantissa;
 * - a flags field carries the epoch's presence and the live-lane mark; live batches carry
 *   their sparse sequence numbers explicitly.
 */

const NAME = 'compact';

export const enum Kind {
  Null = 0,
  Float32 = 1,
  Float64 = 2,
  Int = 3,
  Bool = 4,
  String = 5,
  BigInt = 6,
  /** Version 3 only: a float that is an integer times 10^-d (a scaled register, a short decimal). */
  Scaled = 7,
}
/** Kinds of versions 1 and 2; version 3 adds Scaled. */
export const KIND_COUNT = 7;
const KIND_COUNT_V3 = 8;

/**
 * Scaled values: selector 0-5 is `m * 10^-(s+1)` with the double constants 0.1 ... 0.000001
 * (what a gateway's `scale:` multiplies by), 6-11 is `m / 10^(s-5)` (a decimal as parsed).
 * The encoder picks the first selector that gives back exactly the same double.
 */
const SCALES = [0.1, 0.01, 0.001, 0.0001, 0.00001, 0.000001];
const POWERS = [10, 100, 1000, 10_000, 100_000, 1_000_000];
const SELECTORS = 12;
const MAX_SCALED = 2 ** 50;

function unscale(selector: number, m: number): number {
  return selector < 6 ? m * SCALES[selector]! : m / POWERS[selector - 6]!;
}

/** The selector (or -1) and the integer of a scaled float; -0, NaN and infinities are not. */
function scaledOf(v: number): { selector: number; m: number } {
  if (!Number.isFinite(v) || Object.is(v, -0)) return { selector: -1, m: 0 };
  for (let d = 0; d < 6; d++) {
    const m = Math.round(v * POWERS[d]!);
    if (!(Math.abs(m) <= MAX_SCALED)) break;
    if (m * SCALES[d]! === v && !Object.is(m * SCALES[d]!, -0)) return { selector: d, m };
    if (m / POWERS[d]! === v && !Object.is(m / POWERS[d]!, -0)) return { selector: d + 6, m };
  }
  return { selector: -1, m: 0 };
}

const FLAG_EPOCH = 1;
const FLAG_LIVE = 2;
const KNOWN_FLAGS = FLAG_EPOCH | FLAG_LIVE;
/** Trailing decimal digits a token keeps as a number: at most 15, so it is a safe integer. */
const NUMBER_SUFFIX = /^(.*?)(\d{1,15})$/s;

/**
 * Strings parsed once, not once per batch: a batch of 2,000 readings of 2,000 points parses
 * 2,000 keys, and a box's keys are its config, so the same ones come every time. Bounded all
 * the same (a center encoding for many boxes starts over past the limit).
 */
const PARSED_LIMIT = 50_000;
function memoized<T>(parse: (s: string) => T): (s: string) => T {
  const parsed = new Map<string, T>();
  return (s) => {
    let v = parsed.get(s);
    if (v === undefined) {
      if (parsed.size >= PARSED_LIMIT) parsed.clear();
      parsed.set(s, (v = parse(s)));
    }
    return v;
  };
}

/** A token's stem and its trailing number (`digits` undefined when it has none). */
const numberSuffix = memoized((s: string): { stem: string; digits: string | undefined; n: number } => {
  const m = NUMBER_SUFFIX.exec(s);
  return m ? { stem: m[1]!, digits: m[2]!, n: Number(m[2]!) } : { stem: s, digits: undefined, n: 0 };
});

const QUALITY_INDEX = new Map<Quality, number>(QUALITIES.map((q, i) => [q, i]));

export function kindOf(v: Value): Kind {
  switch (typeof v) {
    case 'number':
      // -0 is an integer to JS but a varint would turn it into 0.
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) return Kind.Int;
      return Math.fround(v) === v || Number.isNaN(v) ? Kind.Float32 : Kind.Float64;
    case 'boolean':
      return Kind.Bool;
    case 'string':
      return Kind.String;
    case 'bigint':
      return Kind.BigInt;
    default:
      return Kind.Null;
  }
}

/** Run-length pairs (symbol, length) of a column of small symbols. */
export function writeRuns(w: ByteWriter, column: Uint8Array): void {
  const runs: Array<[number, number]> = [];
  for (let i = 0; i < column.length; i++) {
    const last = runs[runs.length - 1];
    if (last && last[0] === column[i]) last[1]++;
    else runs.push([column[i]!, 1]);
  }
  w.uvarint(runs.length);
  for (const [symbol, length] of runs) {
    w.byte(symbol);
    w.uvarint(length);
  }
}

export function readRuns(r: ByteReader, n: number, symbols: number, what: string): Uint8Array {
  const out = new Uint8Array(n);
  const runCount = r.count(`${what} run count`, 2, n);
  let at = 0;
  for (let i = 0; i < runCount; i++) {
    const symbol = r.byte(`${what} run symbol`);
    if (symbol >= symbols) throw new CodecError(NAME, `${what} run ${i}: unknown symbol ${symbol}`);
    const length = r.uvarint(`${what} run length`);
    if (length === 0 || at + length > n) throw new CodecError(NAME, `${what} runs cover more than the ${n} readings`);
    out.fill(symbol, at, at + length);
    at += length;
  }
  if (at !== n) throw new CodecError(NAME, `${what} runs cover ${at} readings, batch has ${n}`);
  return out;
}

/**
 * A table of strings sent inline on first use: a reference is `uvarint (index + 1)`, and 0
 * introduces a new entry (so a run of new devices is a run of like bytes, not a counter),
 * written as a stem reference (same scheme: 0 = a new stem string follows) plus its trailing
 * number: `uvarint width` (0 = none) and, when there is one, `svarint (number - previous
 * number of that stem)`.
 */
class TokenWriter {
  private readonly entries = new Map<string, number>();
  private readonly stems = new Map<string, number>();
  private readonly lastNumber: number[] = [];

  constructor(private readonly w: ByteWriter) {}

  ref(s: string): void {
    const known = this.entries.get(s);
    if (known !== undefined) {
      this.w.uvarint(known + 1);
      return;
    }
    this.w.uvarint(0);
    this.entries.set(s, this.entries.size);
    const { stem, digits, n } = numberSuffix(s);
    let stemId = this.stems.get(stem);
    if (stemId === undefined) {
      this.w.uvarint(0);
      this.w.string(stem);
      this.stems.set(stem, (stemId = this.stems.size));
      this.lastNumber.push(0);
    } else this.w.uvarint(stemId + 1);
    if (digits === undefined) {
      this.w.uvarint(0);
      return;
    }
    this.w.uvarint(digits.length);
    this.w.svarint(n - this.lastNumber[stemId]!);
    this.lastNumber[stemId] = n;
  }
}

class TokenReader {
  readonly entries: string[] = [];
  private readonly stems: string[] = [];
  private readonly lastNumber: number[] = [];

  constructor(
    private readonly r: ByteReader,
    private readonly what: string,
  ) {}

  ref(): string {
    const ref = this.r.uvarint(`${this.what} reference`);
    if (ref > this.entries.length) throw new CodecError(NAME, `${this.what} reference ${ref - 1}: the table has ${this.entries.length}`);
    if (ref > 0) return this.entries[ref - 1]!;
    const stemRef = this.r.uvarint(`${this.what} stem reference`);
    if (stemRef > this.stems.length) throw new CodecError(NAME, `${this.what} stem reference ${stemRef - 1}: the table has ${this.stems.length}`);
    let stemId = stemRef - 1;
    if (stemRef === 0) {
      stemId = this.stems.length;
      this.stems.push(this.r.string(`${this.what} stem`));
      this.lastNumber.push(0);
    }
    const stem = this.stems[stemId]!;
    const width = this.r.uvarint(`${this.what} number width`);
    let s = stem;
    if (width > 0) {
      if (width > 15) throw new CodecError(NAME, `${this.what} number of ${width} digits (at most 15)`);
      const n = this.lastNumber[stemId]! + this.r.svarint(`${this.what} number`);
      if (!Number.isSafeInteger(n) || n < 0 || n >= 10 ** width) throw new CodecError(NAME, `${this.what} number ${n} does not fit ${width} digits`);
      this.lastNumber[stemId] = n;
      s = stem + String(n).padStart(width, '0');
    } else if (NUMBER_SUFFIX.test(stem)) {
      // The encoder always splits trailing digits off: a stem ending in one is not its output.
      throw new CodecError(NAME, `${this.what} stem ${JSON.stringify(stem)} ends in digits but carries no number`);
    }
    this.entries.push(s);
    return s;
  }
}

const f32 = new Float32Array(1);
const f32bits = new Uint32Array(f32.buffer);
const f64 = new Float64Array(1);
const f64bits = new Uint32Array(f64.buffer);

/** Writes `words` (each `wordBytes` wide, little-endian) as byte planes: all byte 0s, then all byte 1s, ... */
function writePlanes(w: ByteWriter, words: Uint32Array, wordBytes: number): void {
  const m = words.length / (wordBytes / 4);
  const out = Buffer.allocUnsafe(m * wordBytes);
  for (let plane = 0; plane < wordBytes; plane++) {
    const word = plane >> 2;
    const shift = (plane & 3) * 8;
    const base = plane * m;
    for (let i = 0; i < m; i++) out[base + i] = (words[i * (wordBytes / 4) + word]! >>> shift) & 0xff;
  }
  w.bytes(out);
}

function readPlanes(r: ByteReader, m: number, wordBytes: number, what: string): Uint32Array {
  const bytes = r.bytes(m * wordBytes, what);
  const perValue = wordBytes / 4;
  const words = new Uint32Array(m * perValue);
  for (let plane = 0; plane < wordBytes; plane++) {
    const word = plane >> 2;
    const shift = (plane & 3) * 8;
    const base = plane * m;
    for (let i = 0; i < m; i++) {
      const at = i * perValue + word;
      words[at] = words[at]! | (bytes[base + i]! << shift);
    }
  }
  return words;
}

/**
 * The XOR partner of each float: the same point's previous bits in this batch, else the last
 * bits of the same point name (on another device), else 0. Typed arrays: this is per reading.
 */
class FloatHistory {
  private readonly point: Uint32Array;
  private readonly pointSeen: Uint8Array;
  private readonly name: Uint32Array;
  private readonly nameSeen: Uint8Array;

  constructor(
    points: number,
    names: number,
    private readonly words: number,
  ) {
    this.point = new Uint32Array(points * words);
    this.pointSeen = new Uint8Array(points);
    this.name = new Uint32Array(names * words);
    this.nameSeen = new Uint8Array(names);
  }

  partner(id: number, nameId: number, word: number): number {
    if (this.pointSeen[id]) return this.point[id * this.words + word]!;
    if (this.nameSeen[nameId]) return this.name[nameId * this.words + word]!;
    return 0;
  }

  record(id: number, nameId: number, word: number, bits: number): void {
    this.point[id * this.words + word] = bits;
    this.name[nameId * this.words + word] = bits;
    if (word === this.words - 1) {
      this.pointSeen[id] = 1;
      this.nameSeen[nameId] = 1;
    }
  }
}

/** Index of each key's name part among the distinct names, in dictionary order. */
function nameIndexes(nameOf: string[]): { ids: Int32Array; count: number } {
  const seen = new Map<string, number>();
  const ids = new Int32Array(nameOf.length);
  nameOf.forEach((name, i) => {
    let id = seen.get(name);
    if (id === undefined) seen.set(name, (id = seen.size));
    ids[i] = id;
  });
  return { ids, count: seen.size };
}

/** Evicted ranges as (gap from the previous end, length) pairs: the same in every version. */
export function writeEvicted(w: ByteWriter, b: Batch): void {
  const evicted = [...b.evicted].sort((x, y) => x.first - y.first);
  w.uvarint(evicted.length);
  let cursor = b.first;
  for (const e of evicted) {
    w.uvarint(e.first - cursor);
    w.uvarint(e.last - e.first);
    cursor = e.last + 1;
  }
}

/** Each point key once, in order of first appearance, and every reading's index into that list. */
export function pointDictionary(readings: readonly LogRecord[]): { dict: Map<string, number>; pointColumn: Int32Array } {
  const dict = new Map<string, number>();
  const pointColumn = new Int32Array(readings.length);
  for (let i = 0; i < readings.length; i++) {
    const key = readings[i]!.point;
    let id = dict.get(key);
    if (id === undefined) dict.set(key, (id = dict.size));
    pointColumn[i] = id;
  }
  return { dict, pointColumn };
}

/**
 * A point key as the version 3 dictionary sends it, made once per distinct key (issue 20):
 * its device/name split, its place in the batch being encoded (`batch` is that batch's
 * number, so no per-batch Map is built), and the key that followed it in the last batch with
 * its info, since readings come in the same point order poll after poll: the next reading's
 * key is found by one string compare instead of a lookup in a Map of every key.
 */
interface KeyInfo {
  readonly key: string;
  readonly device: string | null;
  readonly name: string;
  /** Shared by every key of this name (on any device): its index among the batch's distinct names. */
  readonly nameSlot: { batch: number; id: number };
  batch: number;
  id: number;
  nextKey: string | undefined;
  next: KeyInfo | undefined;
}

// Shared by every encodeBodyV3 call in this thread, and safe only because encodeBodyV3 runs
// synchronously from its first stamp of `batch`/`id` to its last read of them: an await (or a
// callback) in between would let a second encode restamp the same objects under its own batch
// number and give the first one wrong dictionary indexes. Keep it synchronous, or make this
// state per call.
const keyInfos = new Map<string, KeyInfo>();
const nameSlots = new Map<string, { batch: number; id: number }>();
let batchNumber = 0;

function keyInfo(key: string): KeyInfo {
  let info = keyInfos.get(key);
  if (info === undefined) {
    const slash = key.indexOf('/');
    const name = slash < 0 ? key : key.slice(slash + 1);
    let nameSlot = nameSlots.get(name);
    if (nameSlot === undefined) nameSlots.set(name, (nameSlot = { batch: 0, id: 0 }));
    info = {
      key,
      device: slash < 0 ? null : key.slice(0, slash),
      name,
      nameSlot,
      batch: 0,
      id: 0,
      nextKey: undefined,
      next: undefined,
    };
    keyInfos.set(key, info);
  }
  return info;
}

/** pointDictionary for version 3: the keys' infos in order of first appearance, and every reading's index into them. */
function pointKeyInfos(readings: readonly LogRecord[]): { keys: KeyInfo[]; pointColumn: Int32Array; batch: number } {
  // Bounded like the memos above, but only between batches: emptied mid-batch, a key seen
  // before the clear would get a second entry in this batch's dictionary.
  if (keyInfos.size >= PARSED_LIMIT || nameSlots.size >= PARSED_LIMIT) {
    keyInfos.clear();
    nameSlots.clear();
  }
  const batch = ++batchNumber;
  const keys: KeyInfo[] = [];
  const pointColumn = new Int32Array(readings.length);
  let prev: KeyInfo | undefined;
  for (let i = 0; i < readings.length; i++) {
    const key = readings[i]!.point;
    let info: KeyInfo;
    if (prev !== undefined && prev.nextKey === key) info = prev.next!;
    else {
      info = keyInfo(key);
      if (prev !== undefined) {
        prev.nextKey = key;
        prev.next = info;
      }
    }
    if (info.batch !== batch) {
      info.batch = batch;
      info.id = keys.length;
      keys.push(info);
    }
    pointColumn[i] = info.id;
    prev = info;
  }
  return { keys, pointColumn, batch };
}

/** nameIndexes for the encoder: by the keys' shared name slots, without a Map per batch. */
function keyNameIndexes(keys: readonly KeyInfo[], batch: number): { ids: Int32Array; count: number } {
  const ids = new Int32Array(keys.length);
  let count = 0;
  for (let i = 0; i < keys.length; i++) {
    const slot = keys[i]!.nameSlot;
    if (slot.batch !== batch) {
      slot.batch = batch;
      slot.id = count++;
    }
    ids[i] = slot.id;
  }
  return { ids, count };
}

/** Bytes per reading a body usually stays under before deflate (ints, planes, ts, point): sized once, not grown. */
const BODY_BYTES_PER_READING = 12;

export function encodeBodyV3(b: Batch): Buffer {
  const w = new ByteWriter(256 + b.readings.length * BODY_BYTES_PER_READING);
  w.string(b.gateway);
  w.uvarint((b.epoch !== undefined ? FLAG_EPOCH : 0) | (b.live ? FLAG_LIVE : 0));
  if (b.epoch !== undefined) w.string(b.epoch);
  w.uvarint(b.first);
  w.uvarint(b.last - b.first);

  writeEvicted(w, b);

  const n = b.readings.length;
  const { keys, pointColumn, batch } = pointKeyInfos(b.readings);
  const dict = { size: keys.length };
  w.uvarint(dict.size);
  const devices = new TokenWriter(w);
  const names = new TokenWriter(w);
  let prevDevice: string | null | undefined;
  for (const { device, name } of keys) {
    // 0: the previous key's device (keys of one device sit together); 1: no device; 2: a device reference follows.
    if (device === prevDevice) w.uvarint(0);
    else if (device === null) w.uvarint(1);
    else {
      w.uvarint(2);
      devices.ref(device);
    }
    prevDevice = device;
    names.ref(name);
  }

  w.uvarint(n);
  if (b.live) for (let i = 1; i < n; i++) w.uvarint(b.readings[i]!.seq - b.readings[i - 1]!.seq - 1);

  // Each reading's point predicted as the one that followed the previous reading's point last time.
  const successor = new Int32Array(dict.size).fill(-1);
  let prev = -1;
  for (let i = 0; i < n; i++) {
    const id = pointColumn[i]!;
    const predicted = prev < 0 ? 0 : successor[prev]! >= 0 ? successor[prev]! : prev + 1;
    w.uvarint(id === predicted ? 0 : id + 1);
    if (prev >= 0) successor[prev] = id;
    prev = id;
  }

  let prevTs = 0;
  for (const r of b.readings) {
    w.svarint(r.ts - prevTs);
    prevTs = r.ts;
  }

  const qualities = new Uint8Array(n);
  const kinds = new Uint8Array(n);
  const selectorOf = new Uint8Array(n);
  const scaledM = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = b.readings[i]!;
    const q = QUALITY_INDEX.get(r.quality);
    if (q === undefined) throw new CodecError(NAME, `reading ${r.seq}: unknown quality ${JSON.stringify(r.quality)}`);
    qualities[i] = q;
    let kind = kindOf(r.value);
    // Float32-exact values stay float32 (their XOR chain is cheaper than a scaled integer).
    if (kind === Kind.Float64) {
      const scaled = scaledOf(r.value as number);
      if (scaled.selector >= 0) {
        kind = Kind.Scaled;
        selectorOf[i] = scaled.selector;
        scaledM[i] = scaled.m;
      }
    }
    kinds[i] = kind;
  }
  writeRuns(w, qualities);
  writeRuns(w, kinds);

  // Values against the same point's previous value of the same kind in this batch.
  const count = new Array<number>(KIND_COUNT_V3).fill(0);
  for (const k of kinds) count[k] = count[k]! + 1;
  const selectors = Buffer.alloc(count[Kind.Scaled]!);
  const lastM = new Float64Array(dict.size);
  let iS = 0;
  const floats32 = new Uint32Array(count[Kind.Float32]!);
  const floats64 = new Uint32Array(count[Kind.Float64]! * 2);
  // A float's first reading in the batch is XORed with the last float of the same point name
  // on another device (same-type devices measure alike: sign, exponent and top bits cancel).
  const names32 = keyNameIndexes(keys, batch);
  const history32 = new FloatHistory(dict.size, names32.count, 1);
  const history64 = new FloatHistory(dict.size, names32.count, 2);
  const lastInt = new Float64Array(dict.size);
  let i32 = 0;
  let i64 = 0;
  const ints = new ByteWriter(64 + n * 4);
  for (let i = 0; i < n; i++) {
    const v = b.readings[i]!.value;
    const id = pointColumn[i]!;
    switch (kinds[i]) {
      case Kind.Float32: {
        f32[0] = v as number;
        const bits = f32bits[0]!;
        const nameId = names32.ids[id]!;
        floats32[i32++] = (bits ^ history32.partner(id, nameId, 0)) >>> 0;
        history32.record(id, nameId, 0, bits);
        break;
      }
      case Kind.Float64: {
        f64[0] = v as number;
        const lo = f64bits[0]!;
        const hi = f64bits[1]!;
        const nameId = names32.ids[id]!;
        floats64[i64++] = (lo ^ history64.partner(id, nameId, 0)) >>> 0;
        floats64[i64++] = (hi ^ history64.partner(id, nameId, 1)) >>> 0;
        history64.record(id, nameId, 0, lo);
        history64.record(id, nameId, 1, hi);
        break;
      }
      case Kind.Int: {
        const x = v as number;
        const p = lastInt[id]!;
        const d = x - p;
        if (Number.isSafeInteger(d) && p + d === x) ints.svarint(d);
        else ints.bigSvarint(BigInt(x) - BigInt(p));
        lastInt[id] = x;
        break;
      }
      case Kind.Scaled: {
        // In the integer stream, in reading order: against the point's previous scaled integer.
        selectors[iS++] = selectorOf[i]!;
        ints.svarint(scaledM[i]! - lastM[id]!);
        lastM[id] = scaledM[i]!;
        break;
      }
    }
  }
  writePlanes(w, floats32, 4);
  writePlanes(w, floats64, 8);
  w.bytes(selectors);
  w.bytes(ints.finish());
  const bools = b.readings.filter((_, i) => kinds[i] === Kind.Bool).map((r) => r.value as boolean);
  for (let i = 0; i < bools.length; i += 8) {
    let byte = 0;
    for (let j = 0; j < 8 && i + j < bools.length; j++) if (bools[i + j]) byte |= 1 << j;
    w.byte(byte);
  }
  for (let i = 0; i < n; i++) if (kinds[i] === Kind.String) w.string(b.readings[i]!.value as string);
  for (let i = 0; i < n; i++) if (kinds[i] === Kind.BigInt) w.bigSvarint(b.readings[i]!.value as bigint);
  return w.finish();
}

/** Decodes a version 3 body; the caller checks the result with batchProblem. */
export function decodeBodyV3(body: Buffer): Batch {
  const r = new ByteReader(body, (m) => new CodecError(NAME, m));
  const gateway = r.string('gateway');
  if (gateway.length === 0) throw new CodecError(NAME, 'gateway is empty');
  const flags = r.uvarint('flags');
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new CodecError(NAME, `unknown flags 0x${flags.toString(16)} (this decoder knows epoch 0x1 and live 0x2)`);
  const epoch = flags & FLAG_EPOCH ? r.string('epoch') : undefined;
  const live = (flags & FLAG_LIVE) !== 0;
  const first = r.uvarint('first');
  if (first < 1) throw new CodecError(NAME, 'first must be >= 1');
  const last = first + r.uvarint('last - first');
  if (!Number.isSafeInteger(last)) throw new CodecError(NAME, 'last is beyond 2^53');

  const evicted: Array<{ first: number; last: number }> = [];
  const evictedCount = r.count('evicted count', 2);
  if (live && evictedCount > 0) throw new CodecError(NAME, `a live batch reports ${evictedCount} evicted ranges (it never may)`);
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

  // Each key takes at least two bytes (device mark, name reference).
  const dictSize = r.count('point dictionary size', 2);
  const devices = new TokenReader(r, 'device');
  const names = new TokenReader(r, 'point name');
  const dict: string[] = [];
  const nameOf: string[] = [];
  let device: string | null = null;
  for (let i = 0; i < dictSize; i++) {
    const mark = r.uvarint(`point ${i} device mark`);
    if (mark === 0) {
      if (i === 0) throw new CodecError(NAME, 'point 0 refers to a previous device');
    } else if (mark === 1) device = null;
    else if (mark === 2) device = devices.ref();
    else throw new CodecError(NAME, `point ${i}: unknown device mark ${mark}`);
    const name = names.ref();
    nameOf.push(name);
    const key = device === null ? name : `${device}/${name}`;
    if (key.length === 0) throw new CodecError(NAME, `point ${i} has an empty key`);
    dict.push(key);
  }

  const n = r.count('reading count', 1);
  const seqs = new Array<number>(n);
  if (live) {
    if (n === 0) throw new CodecError(NAME, 'a live batch without readings');
    let seq = first;
    seqs[0] = seq;
    for (let i = 1; i < n; i++) {
      seq += r.uvarint('live sequence gap') + 1;
      if (seq > last) throw new CodecError(NAME, `live reading ${i}: sequence ${seq} past last ${last}`);
      seqs[i] = seq;
    }
    if (seq !== last) throw new CodecError(NAME, `live readings end at ${seq}, batch says last = ${last}`);
  } else {
    if (n !== last - first + 1 - evictedTotal) {
      throw new CodecError(NAME, `${n} readings and ${evictedTotal} evicted do not cover ${first}..${last}`);
    }
    // Sequence numbers are implied: first..last in order, skipping the evicted ranges.
    let seq = first;
    let e = 0;
    for (let i = 0; i < n; i++) {
      while (e < evicted.length && evicted[e]!.first === seq) seq = evicted[e++]!.last + 1;
      seqs[i] = seq++;
    }
  }

  const pointIds = new Int32Array(n);
  const successor = new Int32Array(dictSize).fill(-1);
  let prev = -1;
  for (let i = 0; i < n; i++) {
    const code = r.uvarint('point reference');
    const id = code === 0 ? (prev < 0 ? 0 : successor[prev]! >= 0 ? successor[prev]! : prev + 1) : code - 1;
    if (id >= dictSize) throw new CodecError(NAME, `reading ${i} names point ${id}, dictionary has ${dictSize}`);
    pointIds[i] = id;
    if (prev >= 0) successor[prev] = id;
    prev = id;
  }
  const ts = new Array<number>(n);
  let prevTs = 0;
  for (let i = 0; i < n; i++) {
    prevTs += r.svarint('timestamp delta');
    if (!Number.isSafeInteger(prevTs)) throw new CodecError(NAME, `reading ${i}: timestamp beyond 2^53`);
    ts[i] = prevTs;
  }
  const qualities = readRuns(r, n, QUALITIES.length, 'quality');
  const kinds = readRuns(r, n, KIND_COUNT_V3, 'value kind');
  const count = new Array<number>(KIND_COUNT_V3).fill(0);
  for (const k of kinds) count[k] = count[k]! + 1;

  const floats32 = readPlanes(r, count[Kind.Float32]!, 4, 'float32 values');
  const floats64 = readPlanes(r, count[Kind.Float64]!, 8, 'float64 values');
  const selectors = r.bytes(count[Kind.Scaled]!, 'scale selectors');
  const lastM = new Float64Array(dictSize);
  let iS = 0;
  const values = new Array<Value>(n).fill(null);
  const names32 = nameIndexes(nameOf);
  const history32 = new FloatHistory(dictSize, names32.count, 1);
  const history64 = new FloatHistory(dictSize, names32.count, 2);
  const lastInt = new Map<number, bigint>();
  let i32 = 0;
  let i64 = 0;
  for (let i = 0; i < n; i++) {
    const id = pointIds[i]!;
    switch (kinds[i]) {
      case Kind.Float32: {
        const nameId = names32.ids[id]!;
        const bits = (floats32[i32++]! ^ history32.partner(id, nameId, 0)) >>> 0;
        history32.record(id, nameId, 0, bits);
        f32bits[0] = bits;
        values[i] = f32[0]!;
        break;
      }
      case Kind.Float64: {
        const nameId = names32.ids[id]!;
        const lo = (floats64[i64++]! ^ history64.partner(id, nameId, 0)) >>> 0;
        const hi = (floats64[i64++]! ^ history64.partner(id, nameId, 1)) >>> 0;
        history64.record(id, nameId, 0, lo);
        history64.record(id, nameId, 1, hi);
        f64bits[0] = lo;
        f64bits[1] = hi;
        values[i] = f64[0]!;
        break;
      }
      case Kind.Int: {
        const v = (lastInt.get(id) ?? 0n) + r.bigSvarint('integer value');
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new CodecError(NAME, `integer value ${v} beyond 2^53`);
        lastInt.set(id, v);
        values[i] = Number(v);
        break;
      }
      case Kind.Scaled: {
        const selector = selectors[iS++]!;
        if (selector >= SELECTORS) throw new CodecError(NAME, `reading ${i}: unknown scale selector ${selector}`);
        const m = lastM[id]! + r.svarint('scaled integer');
        if (!(Math.abs(m) <= MAX_SCALED)) throw new CodecError(NAME, `reading ${i}: scaled integer ${m} beyond 2^50`);
        lastM[id] = m;
        values[i] = unscale(selector, m);
        break;
      }
    }
  }
  const bits = r.bytes(Math.ceil(count[Kind.Bool]! / 8), 'bool bitset');
  let bit = 0;
  for (let i = 0; i < n; i++) {
    if (kinds[i] !== Kind.Bool) continue;
    values[i] = ((bits[bit >> 3]! >> (bit & 7)) & 1) === 1;
    bit++;
  }
  for (let i = 0; i < n; i++) if (kinds[i] === Kind.String) values[i] = r.string('string value');
  for (let i = 0; i < n; i++) if (kinds[i] === Kind.BigInt) values[i] = r.bigSvarint('bigint value');
  if (r.remaining !== 0) throw new CodecError(NAME, `${r.remaining} unexpected bytes after the values`);

  const readings: LogRecord[] = new Array<LogRecord>(n);
  for (let i = 0; i < n; i++) {
    readings[i] = { seq: seqs[i]!, point: dict[pointIds[i]!]!, ts: ts[i]!, value: values[i]!, quality: QUALITIES[qualities[i]!]! };
  }
  return { gateway, ...(epoch !== undefined ? { epoch } : {}), ...(live ? { live: true as const } : {}), first, last, evicted, readings };
}
