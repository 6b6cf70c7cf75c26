import type { Quality, Reading, Value } from '@kedge/cloud-sync/model.ts';
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

/** Sample positions remembered per device (a poll longer than this looks the rest up). */
const MAX_ORDER = 65_536;

/**
 * Between the drivers and the log: scales raw values, then decides what is worth logging.
 * A change of quality is always logged (the center must see a meter go dark and come back);
 * a repeated bad state is not, until the heartbeat. While the box's wall clock is known to be
 * wrong, readings that carry a value are marked `uncertain_clock` (a quality change, so the
 * first one is logged at once); bad readings keep their reason, their value is null anyway.
 */
export class Pipeline {
  /** Point number by `<device>/<point>`: assigned once, at construction (config load). */
  private readonly index = new Map<string, number>();
  /** Point number by device id, then point id: no key string is built per sample. Filled on first sight. */
  private readonly byDevice = new Map<string, Map<string, number>>();
  /** Per device, the point ids of its last samples in order and their point numbers (-1: not configured). */
  private readonly orders = new Map<string, { ids: string[]; points: number[] }>();
  // Per-point state, one slot per point number (columns instead of objects per point).
  private readonly keys: string[];
  private readonly scales: Float64Array;
  private readonly offsets: Float64Array;
  private readonly deadbands: Float64Array;
  private readonly heartbeats: Float64Array;
  /** What was last logged; `lastQuality` undefined = never logged. `lastMono`: when, on the monotonic clock (heartbeats must not stop when the wall clock goes back). */
  private readonly lastValue: Value[];
  private readonly lastQuality: Array<Quality | undefined>;
  private readonly lastMono: Float64Array;
  /** The newest sample, logged or not (the UI's live value); `liveQuality` undefined = never polled. */
  private readonly liveValue: Value[];
  private readonly liveQuality: Array<Quality | undefined>;
  private readonly liveTs: Float64Array;
  private readonly liveError: Array<string | undefined>;
  /** NaN: never logged. */
  private readonly liveLoggedTs: Float64Array;
  private readonly liveView: ReadonlyMap<string, LiveValue>;
  private readonly mono: () => number;

  constructor(
    points: Iterable<PipelinePoint>,
    private readonly sink: (readings: Reading[]) => void,
    private readonly o: PipelineOptions = {},
  ) {
    const list: PipelinePoint[] = [];
    for (const p of points) {
      const at = this.index.get(p.key);
      // A key given twice: the later definition wins, as it did with a Map.
      if (at !== undefined) list[at] = p;
      else {
        this.index.set(p.key, list.length);
        list.push(p);
      }
    }
    const n = list.length;
    this.keys = list.map((p) => p.key);
    this.scales = Float64Array.from(list, (p) => p.scale);
    this.offsets = Float64Array.from(list, (p) => p.offset);
    this.deadbands = Float64Array.from(list, (p) => p.deadband);
    this.heartbeats = Float64Array.from(list, (p) => p.heartbeatMs);
    this.lastValue = new Array<Value>(n).fill(null);
    this.lastQuality = new Array<Quality | undefined>(n).fill(undefined);
    this.lastMono = new Float64Array(n);
    this.liveValue = new Array<Value>(n).fill(null);
    this.liveQuality = new Array<Quality | undefined>(n).fill(undefined);
    this.liveTs = new Float64Array(n);
    this.liveError = new Array<string | undefined>(n).fill(undefined);
    this.liveLoggedTs = new Float64Array(n).fill(Number.NaN);
    this.liveView = new LiveView(this);
    this.mono = o.mono ?? monoNow;
  }

  /** The point number of a device's point, or -1 when the config has no such point. */
  private pointOf(deviceId: string, pointId: string): number {
    let points = this.byDevice.get(deviceId);
    const known = points?.get(pointId);
    if (known !== undefined) return known;
    const i = this.index.get(`${deviceId}/${pointId}`);
    // Only configured points are remembered: a driver naming unknown points cannot grow this.
    if (i === undefined) return -1;
    if (!points) this.byDevice.set(deviceId, (points = new Map()));
    points.set(pointId, i);
    return i;
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
    // against the last poll's (the same string, so a pointer compare) instead of two Map lookups.
    let order = this.orders.get(deviceId);
    for (let k = 0; k < samples.length; k++) {
      const s = samples[k]!;
      let i: number;
      if (order && order.ids[k] === s.point) i = order.points[k]!;
      else {
        i = this.pointOf(deviceId, s.point);
        // Kept only for a device with a configured point: unknown names cannot grow this.
        if (!order && i >= 0) this.orders.set(deviceId, (order = { ids: [], points: [] }));
        if (order && k < MAX_ORDER) {
          order.ids[k] = s.point;
          order.points[k] = i;
        }
      }
      if (i < 0) continue;
      // An uncertain value is still the device's value (stale, out of range): keep it.
      const hasValue = s.quality === 'good' || s.quality === 'uncertain';
      const value = hasValue ? scaleBy(s.value, this.scales[i]!, this.offsets[i]!) : null;
      clockWrong ??= hasValue ? (this.o.clockWrong?.(takenSinceMono) ?? false) : undefined;
      const quality: Quality = hasValue && clockWrong ? 'uncertain_clock' : s.quality;
      const logged = this.shouldLog(i, value, quality, now);
      if (logged) {
        this.lastValue[i] = value;
        this.lastQuality[i] = quality;
        this.lastMono[i] = now;
        out.push({ point: this.keys[i]!, ts: s.ts, value, quality });
        this.liveLoggedTs[i] = s.ts;
      }
      this.liveValue[i] = value;
      this.liveQuality[i] = quality;
      this.liveTs[i] = s.ts;
      this.liveError[i] = s.error || undefined;
    }
    if (out.length) this.sink(out);
    return out;
  }

  private shouldLog(i: number, value: Value, quality: Quality, now: number): boolean {
    const prevQuality = this.lastQuality[i];
    if (prevQuality === undefined || prevQuality !== quality) return true;
    const heartbeatMs = this.heartbeats[i]!;
    if (heartbeatMs > 0 && now - this.lastMono[i]! >= heartbeatMs) return true;
    if (value === null) return false;
    const deadband = this.deadbands[i]!;
    const prev = this.lastValue[i];
    if (typeof value === 'number' && typeof prev === 'number') {
      return deadband === 0 || Math.abs(value - prev) >= deadband;
    }
    return deadband === 0 || value !== prev;
  }

  /** The live value of a point number; undefined before its first sample. */
  liveAt(i: number): LiveValue | undefined {
    const quality = this.liveQuality[i];
    if (quality === undefined) return undefined;
    const error = this.liveError[i];
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
    return this.index.get(key);
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
