import { QUALITIES, type Quality, type Reading, type Value } from '@kedge/cloud-sync/model.ts';
import { monoNow } from '@kedge/cloud-sync/clock.ts';
import type { Sample } from '../drivers/driver.ts';

export interface PipelineOptions {
  /** Monotonic ms for heartbeats (cloud-sync/src/clock.ts); reading timestamps may jump. */
  mono?: () => number;
  /**
   * True when the box's wall clock was known wrong at any time since `sinceMono` (or now):
   * ClockWatch.wrongSince. Readings with a value taken then get the quality `uncertain_clock`.
   */
  clockWrong?: (sinceMono?: number) => boolean;
}

/** What the pipeline needs to know of a point; built from the config. */
export interface PipelinePoint {
  /** `<device>/<point>`. */
  key: string;
  scale: number;
  offset: number;
  /** Absolute change needed to log a numeric value again; 0 logs every poll. */
  deadband: number;
  /** Log at least this often even inside the deadband; 0 = no heartbeat. */
  heartbeatMs: number;
}

/** The newest value of a point, logged or not: what the UI shows as live. */
export interface LiveValue {
  value: Value;
  quality: Quality;
  ts: number;
  error?: string;
  loggedTs: number | null;
}

/**
 * A quality's code in the pipeline's columns: its index in QUALITIES + 1 (0: none yet). No
 * prototype, so a driver's stray quality such as "toString" is not found in it.
 */
const QUALITY_CODE: Record<string, number | undefined> = Object.assign(
  Object.create(null) as Record<string, number>,
  Object.fromEntries(QUALITIES.map((q, i) => [q, i + 1])),
);

/** Codes fit the Uint8Array columns. */
const MAX_QUALITY_CODE = 255;

/** FNV-1a over a string's code units from `h`; `hashKey` chains it over `<device>/<point>` without building the key. */
function hashFrom(h: number, s: string): number {
  for (let j = 0; j < s.length; j++) h = Math.imul(h ^ s.charCodeAt(j), 0x01000193);
  return h;
}

const FNV_BASIS = 0x811c9dc5 | 0;
const SLASH = 0x2f;

function hashKey(deviceId: string, pointId: string): number {
  return hashFrom(Math.imul(hashFrom(FNV_BASIS, deviceId) ^ SLASH, 0x01000193), pointId);
}

/** Sample positions remembered per device (a poll longer than this looks the rest up). */
const MAX_ORDER = 65_536;

/** Sample orders remembered per device: one per interval group for most devices. */
const MAX_ORDERS = 4;

/** The point ids of a poll's samples in order, and their point numbers (-1: not configured). */
interface Order {
  ids: string[];
  points: number[];
}

/**
 * Between the drivers and the log: scales raw values, then decides what is worth logging.
 * A change of quality is always logged (the center must see a meter go dark and come back);
 * a repeated bad state is not, until the heartbeat. While the box's wall clock is known to be
 * wrong, readings that carry a value are marked `uncertain_clock` (a quality change, so the
 * first one is logged at once); bad readings keep their reason, their value is null anyway.
 */
export class Pipeline {
  /**
   * Point numbers by key in an open-addressing hash table (-1: empty), at most half full: one
   * Int32Array (~13 B per point), not a 10,000-entry string-keyed Map (issue 20). A sample that
   * misses the order fast path hashes its key once and checks one or two keys: a binary search
   * over sorted keys made ~14 string compares and was 3-8x slower than the Map it replaced.
   */
  private readonly slots: Int32Array;
  /** Per device, the orders of its recent polls (at most MAX_ORDERS), the last used first. */
  private readonly orders = new Map<string, Order[]>();
  // Per-point state, one slot per point number (columns instead of objects per point).
  private readonly keys: string[];
  /** Per point, its row in the parameter columns: points share a row when scale, offset, deadband and heartbeat are equal. */
  private readonly params: Uint32Array;
  private readonly scales: Float64Array;
  private readonly offsets: Float64Array;
  private readonly deadbands: Float64Array;
  private readonly heartbeats: Float64Array;
  /** What was last logged; `lastQuality` 0 = never logged (else QUALITIES index + 1). `lastMono`: when, on the monotonic clock (heartbeats must not stop when the wall clock goes back). */
  private readonly lastValue: Value[];
  private readonly lastQuality: Uint8Array;
  private readonly lastMono: Float64Array;
  /** The newest sample, logged or not (the UI's live value); `liveQuality` 0 = never polled. */
  private readonly liveValue: Value[];
  private readonly liveQuality: Uint8Array;
  private readonly liveTs: Float64Array;
  /**
   * Qualities outside QUALITIES that a driver gave (a driver bug: the log refuses them), coded
   * from QUALITIES.length + 1 on, so they are logged once and shown live as any other quality.
   */
  private unknownQualities: string[] | null = null;
  /** Made at the first error: a box whose points all answer keeps no column for it. */
  private liveError: Array<string | undefined> | null = null;
  /** NaN: never logged. */
  private readonly liveLoggedTs: Float64Array;
  private readonly liveView: ReadonlyMap<string, LiveValue>;
  private readonly mono: () => number;

  constructor(
    points: Iterable<PipelinePoint>,
    private readonly sink: (readings: Reading[]) => void,
    private readonly o: PipelineOptions = {},
  ) {
    // Construction only (garbage once built): numbering by first appearance, parameter rows.
    const first = new Map<string, number>();
    const list: PipelinePoint[] = [];
    for (const p of points) {
      const at = first.get(p.key);
      // A key given twice: the later definition wins, as it did with a Map.
      if (at !== undefined) list[at] = p;
      else {
        first.set(p.key, list.length);
        list.push(p);
      }
    }
    const n = list.length;
    this.keys = list.map((p) => p.key);
    let size = 2;
    while (size < 2 * n) size *= 2;
    this.slots = new Int32Array(size).fill(-1);
    for (let i = 0; i < n; i++) {
      const key = this.keys[i]!;
      let h = hashFrom(FNV_BASIS, key) & (size - 1);
      while (this.slots[h] !== -1) h = (h + 1) & (size - 1);
      this.slots[h] = i;
    }
    const rows = new Map<string, number>();
    const rowOf: PipelinePoint[] = [];
    this.params = Uint32Array.from(list, (p) => {
      const id = `${p.scale} ${p.offset} ${p.deadband} ${p.heartbeatMs}`;
      let row = rows.get(id);
      if (row === undefined) rows.set(id, (row = rowOf.push(p) - 1));
      return row;
    });
    this.scales = Float64Array.from(rowOf, (p) => p.scale);
    this.offsets = Float64Array.from(rowOf, (p) => p.offset);
    this.deadbands = Float64Array.from(rowOf, (p) => p.deadband);
    this.heartbeats = Float64Array.from(rowOf, (p) => p.heartbeatMs);
    this.lastValue = new Array<Value>(n).fill(null);
    this.lastQuality = new Uint8Array(n);
    this.lastMono = new Float64Array(n);
    this.liveValue = new Array<Value>(n).fill(null);
    this.liveQuality = new Uint8Array(n);
    this.liveTs = new Float64Array(n);
    this.liveLoggedTs = new Float64Array(n).fill(Number.NaN);
    this.liveView = new LiveView(this);
    this.mono = o.mono ?? monoNow;
  }

  /** The point number of a device's point, or -1 when the config has no such point. */
  private pointOf(deviceId: string, pointId: string): number {
    const { slots, keys } = this;
    const mask = slots.length - 1;
    const length = deviceId.length + 1 + pointId.length;
    for (let h = hashKey(deviceId, pointId) & mask; ; h = (h + 1) & mask) {
      const i = slots[h]!;
      if (i < 0) return -1;
      const k = keys[i]!;
      // The key is `<device>/<point>` without building it (a fresh string compares slower).
      if (k.length === length && k.charCodeAt(deviceId.length) === SLASH && k.startsWith(deviceId) && k.endsWith(pointId)) return i;
    }
  }

  /** The point number of a key, or -1. */
  private find(key: string): number {
    // As Map.get: a key of another type is absent, not an error.
    if (typeof key !== 'string') return -1;
    const { slots, keys } = this;
    const mask = slots.length - 1;
    for (let h = hashFrom(FNV_BASIS, key) & mask; ; h = (h + 1) & mask) {
      const i = slots[h]!;
      if (i < 0) return -1;
      if (keys[i] === key) return i;
    }
  }

  /** The column code of a quality; a quality outside QUALITIES gets a code of its own. */
  private codeOf(quality: string): number {
    const code = QUALITY_CODE[quality];
    if (code !== undefined) return code;
    const unknown = (this.unknownQualities ??= []);
    const at = unknown.indexOf(quality);
    if (at >= 0) return QUALITIES.length + 1 + at;
    if (QUALITIES.length + 1 + unknown.length > MAX_QUALITY_CODE) {
      throw new TypeError(`a driver gave the unknown quality ${JSON.stringify(quality)}: more than ${MAX_QUALITY_CODE - QUALITIES.length} unknown qualities, expected one of ${QUALITIES.join(', ')}`);
    }
    return QUALITIES.length + 1 + unknown.push(quality) - 1;
  }

  /** The quality of a column code (not 0). */
  private qualityOf(code: number): Quality {
    return (QUALITIES[code - 1] ?? this.unknownQualities![code - 1 - QUALITIES.length]) as Quality;
  }

  /**
   * The remembered order these samples most likely follow: the one of the same first id (a
   * device polled in several interval groups has one per group), else a fresh one while there is
   * room, else the last one, to be rewritten; the one taken moves to the front. Entries map an id
   * to its point number whatever poll wrote them, so a wrong guess costs lookups, never a wrong point.
   */
  private orderFor(deviceId: string, samples: readonly Sample[]): Order | undefined {
    const list = this.orders.get(deviceId);
    if (!list || samples.length === 0) return list?.[0];
    const first = samples[0]!.point;
    let j = 0;
    while (j < list.length && list[j]!.ids[0] !== first) j++;
    if (j === list.length) {
      if (j < MAX_ORDERS) list.push({ ids: [], points: [] });
      else j--;
    }
    const o = list[j]!;
    list[j] = list[0]!;
    list[0] = o;
    return o;
  }

  /**
   * Takes a device's samples, logs the ones that pass; returns what was logged. `takenSinceMono`:
   * when the poll that took them started (monotonic), so a clock that was wrong during the poll
   * marks them even if it was set right just before they arrived.
   */
  ingest(deviceId: string, samples: readonly Sample[], takenSinceMono?: number): Reading[] {
    const out: Reading[] = [];
    const now = this.mono();
    let clockWrong: boolean | undefined;
    // A driver answers its points in the same order every poll: the k-th sample's id is checked
    // against that of an earlier poll of the same group (the same string, so a pointer compare)
    // instead of a lookup.
    let order = this.orderFor(deviceId, samples);
    // A sample that throws (a driver's bug) ends the batch, but what was marked logged before it
    // still reaches the log: its deadband state says so.
    try {
      for (let k = 0; k < samples.length; k++) {
        const s = samples[k]!;
        let i: number;
        if (order && order.ids[k] === s.point) i = order.points[k]!;
        else {
          i = this.pointOf(deviceId, s.point);
          // Kept only for a device with a configured point: unknown names cannot grow this.
          if (!order && i >= 0) this.orders.set(deviceId, [(order = { ids: [], points: [] })]);
          if (order && k < MAX_ORDER) {
            order.ids[k] = s.point;
            order.points[k] = i;
          }
        }
        if (i < 0) continue;
        // An uncertain value is still the device's value (stale, out of range): keep it.
        const hasValue = s.quality === 'good' || s.quality === 'uncertain';
        const row = this.params[i]!;
        const value = hasValue ? scaleBy(s.value, this.scales[row]!, this.offsets[row]!) : null;
        clockWrong ??= hasValue ? (this.o.clockWrong?.(takenSinceMono) ?? false) : undefined;
        const quality: Quality = hasValue && clockWrong ? 'uncertain_clock' : s.quality;
        const code = this.codeOf(quality);
        const logged = this.shouldLog(i, row, value, code, now);
        if (logged) {
          this.lastValue[i] = value;
          this.lastQuality[i] = code;
          this.lastMono[i] = now;
          out.push({ point: this.keys[i]!, ts: s.ts, value, quality });
          this.liveLoggedTs[i] = s.ts;
        }
        this.liveValue[i] = value;
        this.liveQuality[i] = code;
        this.liveTs[i] = s.ts;
        if (s.error) (this.liveError ??= new Array<string | undefined>(this.keys.length).fill(undefined))[i] = s.error;
        else if (this.liveError) this.liveError[i] = undefined;
      }
    } finally {
      if (out.length) this.sink(out);
    }
    return out;
  }

  private shouldLog(i: number, row: number, value: Value, quality: number, now: number): boolean {
    const prevQuality = this.lastQuality[i]!;
    if (prevQuality === 0 || prevQuality !== quality) return true;
    const heartbeatMs = this.heartbeats[row]!;
    if (heartbeatMs > 0 && now - this.lastMono[i]! >= heartbeatMs) return true;
    if (value === null) return false;
    const deadband = this.deadbands[row]!;
    const prev = this.lastValue[i];
    if (typeof value === 'number' && typeof prev === 'number') {
      return deadband === 0 || Math.abs(value - prev) >= deadband;
    }
    return deadband === 0 || value !== prev;
  }

  /** The live value of a point number; undefined before its first sample. */
  liveAt(i: number): LiveValue | undefined {
    const code = this.liveQuality[i]!;
    if (code === 0) return undefined;
    const quality = this.qualityOf(code);
    const error = this.liveError?.[i];
    const loggedTs = this.liveLoggedTs[i]!;
    return {
      value: this.liveValue[i]!,
      quality,
      ts: this.liveTs[i]!,
      ...(error ? { error } : {}),
      loggedTs: Number.isNaN(loggedTs) ? null : loggedTs,
    };
  }

  /** @internal the LiveView's lookups. */
  pointIndex(key: string): number | undefined {
    const i = this.find(key);
    return i < 0 ? undefined : i;
  }

  /** @internal */
  pointKey(i: number): string {
    return this.keys[i]!;
  }

  /** @internal */
  pointCount(): number {
    return this.keys.length;
  }

  /** The newest value of every point polled so far, by key (a view: LiveValue objects are made when asked for). */
  liveValues(): ReadonlyMap<string, LiveValue> {
    return this.liveView;
  }
}

/** A read-only Map over the pipeline's live columns: only points that have had a sample are in it. */
class LiveView implements ReadonlyMap<string, LiveValue> {
  constructor(private readonly p: Pipeline) {}

  get(key: string): LiveValue | undefined {
    const i = this.p.pointIndex(key);
    return i === undefined ? undefined : this.p.liveAt(i);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  get size(): number {
    let n = 0;
    for (let i = 0; i < this.p.pointCount(); i++) if (this.p.liveAt(i)) n++;
    return n;
  }

  *entries(): MapIterator<[string, LiveValue]> {
    for (let i = 0; i < this.p.pointCount(); i++) {
      const v = this.p.liveAt(i);
      if (v) yield [this.p.pointKey(i), v];
    }
  }

  *keys(): MapIterator<string> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): MapIterator<LiveValue> {
    for (const [, v] of this.entries()) yield v;
  }

  forEach(fn: (value: LiveValue, key: string, map: ReadonlyMap<string, LiveValue>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }

  [Symbol.iterator](): MapIterator<[string, LiveValue]> {
    return this.entries();
  }
}

/** value * scale + offset for numbers; other kinds pass through (the config forbids scaling them). */
export function scale(value: Value, p: { scale: number; offset: number }): Value {
  return scaleBy(value, p.scale, p.offset);
}

function scaleBy(value: Value, scale: number, offset: number): Value {
  if (scale === 1 && offset === 0) return value;
  if (typeof value !== 'number' && typeof value !== 'bigint') return value;
  // 15 significant digits drop the binary noise of decimal scales (12345 * 0.001).
  return Number((Number(value) * scale + offset).toPrecision(15));
}
