import type { LogRecord, Quality, Value } from '@kedge/cloud-sync/model.ts';

/** clear() shrinks columns holding room for more than this many times the rows they held... */
const SHRINK_FACTOR = 4;
/**
 * ...once they hold room for at least this many rows (~100 KB): below, commits of varying size
 * would reallocate at every other flush for nothing worth giving back.
 */
const SHRINK_FROM_ROWS = 4096;

/**
 * Readings held for a while (pending a commit, in the committed tail, the newest per point) as
 * parallel columns instead of an object each. An object kept for a tenth of a second at 40,000
 * readings/s outlives the young generation and dies in old space, where collecting it was a
 * third of the daemon's CPU (scripts/src/build/README.md); here the numbers sit in typed arrays
 * and the rest are references to strings the config already holds (point keys, qualities).
 *
 * Row `i` lives at slot `base + i`: removing rows from the front (`shift`) only moves `base`,
 * and the columns are compacted once the dead prefix is as long as the live rows (amortised
 * O(1) per row, so a full pending buffer that drops its oldest rows on every append stays cheap).
 */
export class RowColumns {
  private seqs: Float64Array;
  private tss: Float64Array;
  /** The value when `numeric[slot]` is 1 (NaN and -0 kept as they are). */
  private nums: Float64Array;
  private numeric: Uint8Array;
  /** The value when it is not a plain number (null, boolean, string, bigint); null otherwise, so no stale value is kept. */
  private others: Value[] = [];
  private points: string[] = [];
  private qualities: Quality[] = [];
  private base = 0;
  length = 0;
  /** The size clear() shrinks back to. */
  private readonly initial: number;

  constructor(capacity = 256) {
    // A NaN capacity would make zero-length columns that makeRoom could never widen.
    if (!Number.isFinite(capacity) || capacity < 0) throw new RangeError(`RowColumns capacity must be a finite number >= 0, got ${capacity}`);
    const n = Math.max(16, capacity);
    this.initial = n;
    this.seqs = new Float64Array(n);
    this.tss = new Float64Array(n);
    this.nums = new Float64Array(n);
    this.numeric = new Uint8Array(n);
  }

  push(seq: number, ts: number, point: string, value: Value, quality: Quality): void {
    this.set(this.length, seq, ts, point, value, quality);
  }

  /**
   * Row `i`, the table growing to hold it: also used as a table indexed by a number (the log's
   * newest row per point id), where rows never set read as seq 0 (`has`).
   */
  set(i: number, seq: number, ts: number, point: string, value: Value, quality: Quality): void {
    if (this.base + i >= this.seqs.length) this.makeRoom(i);
    const j = this.base + i;
    this.seqs[j] = seq;
    this.tss[j] = ts;
    if (typeof value === 'number') {
      this.nums[j] = value;
      this.numeric[j] = 1;
      this.others[j] = null;
    } else {
      this.numeric[j] = 0;
      this.others[j] = value;
    }
    this.points[j] = point;
    this.qualities[j] = quality;
    if (i >= this.length) this.length = i + 1;
  }

  /** Whether row `i` was set (a table indexed by number; sequences start at 1). */
  has(i: number): boolean {
    return i < this.length && this.seqs[this.base + i]! > 0;
  }

  seq(i: number): number {
    return this.seqs[this.base + i]!;
  }

  ts(i: number): number {
    return this.tss[this.base + i]!;
  }

  point(i: number): string {
    return this.points[this.base + i]!;
  }

  quality(i: number): Quality {
    return this.qualities[this.base + i]!;
  }

  value(i: number): Value {
    const j = this.base + i;
    return this.numeric[j] === 1 ? this.nums[j]! : this.others[j]!;
  }

  record(i: number): LogRecord {
    return { seq: this.seq(i), ts: this.ts(i), point: this.point(i), value: this.value(i), quality: this.quality(i) };
  }

  /** Removes the first `n` rows. */
  shift(n: number): void {
    if (n <= 0) return;
    if (n >= this.length) return this.clear();
    this.release(this.base, this.base + n);
    this.base += n;
    this.length -= n;
    if (this.base >= this.length) this.compact();
  }

  clear(): void {
    // Grown far past what it held (a 100,000-reading buffer through an SD card failure, then
    // commits of a few hundred): back to the first size, or megabytes stay allocated for good.
    const room = this.seqs.length;
    if (room > this.initial && room >= SHRINK_FROM_ROWS && room > SHRINK_FACTOR * this.length) return this.allocate(this.initial);
    this.release(this.base, this.base + this.length);
    this.base = 0;
    this.length = 0;
  }

  /** Fresh, empty columns of `n` rows. */
  private allocate(n: number): void {
    this.seqs = new Float64Array(n);
    this.tss = new Float64Array(n);
    this.nums = new Float64Array(n);
    this.numeric = new Uint8Array(n);
    this.others = [];
    this.points = [];
    this.qualities = [];
    this.base = 0;
    this.length = 0;
  }

  /** Rows the columns hold room for (tests: they shrink back after a surge). */
  get capacity(): number {
    return this.seqs.length;
  }

  /** Index of the first row with seq > `seq` among rows [from, length), the seqs being ascending. */
  firstAbove(seq: number, from = 0): number {
    let lo = this.base + from;
    let hi = this.base + this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqs[mid]! > seq) hi = mid;
      else lo = mid + 1;
    }
    return lo - this.base;
  }

  /** Drops the references of slots no longer held (a string value must not stay reachable) and marks them unset. */
  private release(from: number, to: number): void {
    this.others.fill(null, from, Math.min(to, this.others.length));
    // A point key of a device since removed from the config must not stay reachable either.
    this.points.fill('', from, Math.min(to, this.points.length));
    this.seqs.fill(0, from, to);
  }

  /** Moves the live rows to slot 0. */
  private compact(): void {
    const b = this.base;
    if (b === 0) return;
    const end = b + this.length;
    this.seqs.copyWithin(0, b, end);
    this.tss.copyWithin(0, b, end);
    this.nums.copyWithin(0, b, end);
    this.numeric.copyWithin(0, b, end);
    this.seqs.fill(0, this.length, end);
    // splice, not copyWithin, for plain arrays: V8 trims their front in place, while
    // Array#copyWithin moves element by element (70 ms for 100,000 rows).
    this.others.splice(0, b);
    this.points.splice(0, b);
    this.qualities.splice(0, b);
    this.base = 0;
  }

  /** Room for row `i`: compacts first, then doubles the typed columns as often as needed. */
  private makeRoom(i: number): void {
    this.compact();
    let n = Math.max(16, this.seqs.length);
    while (i >= n) n *= 2;
    if (n === this.seqs.length) return;
    const widen = <T extends Float64Array | Uint8Array>(a: T, b: T): T => {
      b.set(a);
      return b;
    };
    this.seqs = widen(this.seqs, new Float64Array(n));
    this.tss = widen(this.tss, new Float64Array(n));
    this.nums = widen(this.nums, new Float64Array(n));
    this.numeric = widen(this.numeric, new Uint8Array(n));
  }
}
