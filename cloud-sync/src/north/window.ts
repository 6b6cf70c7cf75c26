import type { Batch } from '../codec/index.ts';
import type { LogRecord, SeqRange } from '../model.ts';
import type { LogSource } from './log-source.ts';
import { TokenBucket } from './token-bucket.ts';
import { monoNow } from '../clock.ts';

/** The window's knobs; every sink has them (uplink config: batching, inflight, pacing, liveFirst). */
export interface WindowOptions {
  log: LogSource;
  batchMaxReadings: number;
  batchMaxDelayMs: number;
  /** Batches sent and not yet delivered, both lanes together. */
  inflight: number;
  /**
   * Token-bucket pace of the BACKLOG, in readings per second; 0 or absent = unlimited. Readings
   * polled while the sink keeps up (and the live lane) are never paced: pacing exists so that a
   * fleet coming back after an outage does not flood the broker with its backlogs.
   */
  maxReadingsPerSec?: number;
  /**
   * Live first (default on): once the sink is more than a batch behind after a (re)connect, or
   * its oldest unsent reading is older than `liveFirstAfterMs`, it sends the newest value of
   * every point first, then live readings as they come, while the backlog back-fills.
   */
  liveFirst?: boolean;
  /** Age (ms, by reading timestamp) of the oldest unsent reading that starts live-first without a reconnect. */
  liveFirstAfterMs?: number;
  /** Share of the in-flight slots the backlog may hold while live-first runs; the rest is kept for live batches. */
  backlogShare?: number;
  /** Monotonic clock (ms) of pacing and waits; tests freeze it. */
  clock?: () => number;
  /** Wall clock (ms) the readings' timestamps are compared with. */
  now?: () => number;
}

export type Lane = 'backlog' | 'live';

/** One batch the window chose: what to put on the wire, and what it proves once delivered. */
export interface PlannedBatch {
  lane: Lane;
  /** True on the live lane: real sequence numbers, sparse, no evicted ranges (north-api.md). */
  live: boolean;
  /** Part of the newest-per-point snapshot (its readings go again with the backlog). */
  snapshot: boolean;
  first: number;
  last: number;
  evicted: SeqRange[];
  records: LogRecord[];
  /** The contiguous sequence range this batch completes once delivered; null for a snapshot. */
  covers: SeqRange | null;
}

/** A batch on its way. */
export interface InflightEntry {
  readonly batch: PlannedBatch;
  readonly sentAt: number;
  readonly bytes: number;
  /** Readings the batch carried: what counts once it is delivered (the sink may let the records go once they are on the wire). */
  readonly readings: number;
}

export type NextStep = { batch: PlannedBatch } | { waitMs: number; paced: boolean } | null;

export interface WindowStatus {
  /** Highest sequence sent in order (the backlog lane's position). */
  backlogSeq: number;
  /** Live-first running: the sequence it started at (the newest when it began), else null. */
  liveStart: number | null;
  /** Highest sequence sent on the live lane (0 when none). */
  liveSeq: number;
  /** Times live-first started (after reconnects with a backlog, or a backlog grown old). */
  liveStarts: number;
  liveBatches: number;
  liveReadings: number;
  /** Readings of the newest-per-point snapshots: each one also goes with the backlog. */
  snapshotReadings: number;
  /** Bytes of those snapshots: what live-first costs on top of the backlog. */
  liveExtraBytes: number;
  /** Times a backlog batch was held back by the pace. */
  pacedWaits: number;
  batchesAcked: number;
  readingsAcked: number;
}

interface LiveLane {
  /** The log's newest sequence when live-first began: the backlog goes up to here. */
  start: number;
  /** Highest sequence sent on the live lane after `start`. */
  pos: number;
  /** Snapshot batches not sent yet. */
  snapshot: LogRecord[][];
  /** A hole after `pos` (readings dropped on a full disk): the backlog takes over from there. */
  stalled: boolean;
  shortSince: number | null;
}

/**
 * The transport-agnostic part of a sink: which batch goes next, and what delivery proves. It
 * reads the log after a position (the cursor at a connect), keeps `inflight` batches on the way,
 * paces the backlog, and turns deliveries (in any order) into the contiguous delivered position.
 * With live-first it runs two lanes: the live lane (newest value of every point, then readings as
 * they are appended) has priority and is never paced; the backlog lane fills up to
 * `backlogShare` of the slots in sequence order up to where live-first began, and the lanes
 * merge when it gets there. Only the snapshot is sent twice. The window holds no link: a driver
 * (TransportSink, for every sink) sends what it plans and reports deliveries.
 */
export class SinkWindow {
  private readonly o: Required<WindowOptions>;
  private readonly bucket: TokenBucket;
  /** Position the contiguous delivered position counts from (the cursor at the last reset). */
  private base = 0;
  private deliveredPos = 0;
  /** Delivered ranges beyond deliveredPos, ascending and disjoint. */
  private ahead: SeqRange[] = [];
  private backlogPos = 0;
  /** Readings up to here are backlog (paced); 0 = none. */
  private backlogEnd = 0;
  private live: LiveLane | null = null;
  private lastLiveStartMono = Number.NEGATIVE_INFINITY;
  private shortSince: number | null = null;
  private readonly entries = new Set<InflightEntry>();
  /** limitInflight(): the current link's cap on batches in flight, null = none. */
  private linkLimit: number | null = null;
  private st = { liveStarts: 0, liveBatches: 0, liveReadings: 0, snapshotReadings: 0, liveExtraBytes: 0, pacedWaits: 0, batchesAcked: 0, readingsAcked: 0 };

  constructor(options: WindowOptions) {
    this.o = {
      maxReadingsPerSec: 0,
      liveFirst: true,
      liveFirstAfterMs: 30_000,
      backlogShare: 0.8,
      clock: monoNow,
      now: Date.now,
      ...options,
    };
    if (!(this.o.backlogShare > 0 && this.o.backlogShare <= 1)) throw new Error(`backlogShare must be in (0, 1], got ${this.o.backlogShare}`);
    this.bucket = new TokenBucket(this.o.maxReadingsPerSec, Math.max(this.o.maxReadingsPerSec, this.o.batchMaxReadings), this.o.clock);
  }

  /**
   * Starts again after `position` (a connect, or a resend from the center's position): what was
   * in flight no longer counts. `connected`: a new link, which starts live-first when the sink
   * is more than one batch behind. Everything already logged counts as backlog (paced).
   */
  reset(position: number, connected: boolean): void {
    this.entries.clear();
    this.base = this.deliveredPos = this.backlogPos = position;
    this.ahead = [];
    this.live = null;
    this.shortSince = null;
    const last = this.o.log.lastSeq();
    this.backlogEnd = last;
    if (connected && this.o.liveFirst && last - position > this.o.batchMaxReadings) this.startLive(last);
  }

  /**
   * Sends again after `position` on the same link (the far end is missing what it was sent: a
   * resend it asked for, no confirmation in time, a renumbered log). More than a batch behind,
   * it opens the live lane, so readings polled from now on do not queue behind the resend (no
   * snapshot: this link carried the newest values already, and the next poll brings fresher
   * ones). The resent range is backlog (paced): a far end that lost hours must not get them at
   * wire speed; readings polled after the rewind flow unpaced on the live lane. Not a live-first
   * start (liveStarts counts connects that began live-first).
   */
  rewind(position: number): void {
    const backlogEnd = this.backlogEnd;
    this.reset(position, false);
    const last = this.o.log.lastSeq();
    if (this.o.liveFirst && last - position > this.o.batchMaxReadings) this.startLive(last, false, false);
    this.backlogEnd = Math.max(backlogEnd, last);
  }

  /** The far end holds everything up to `seq` (the center confirmed beyond what this link sent). */
  skipTo(seq: number): void {
    if (seq <= this.backlogPos) return;
    if (seq >= this.sentSeq()) {
      // Everything sent is held there: start after it. What counts as backlog (paced) stays
      // as it was: readings polled since are not backlog because the far end was quick.
      const backlogEnd = this.backlogEnd;
      this.reset(seq, false);
      this.backlogEnd = backlogEnd;
      return;
    }
    this.backlogPos = seq;
    this.shortSince = null;
    if (this.live && seq >= this.live.start) this.merge();
  }

  /** Highest sequence sent on either lane. */
  sentSeq(): number {
    return Math.max(this.backlogPos, this.live?.pos ?? 0);
  }

  /**
   * A full batch of readings that are not backlog is waiting (the live lane's, or the single
   * lane's past the backlog): the driver sends it when the log commits it, not after the turn
   * of the event loop. One poll cycle of a large box commits several times in one turn (10,000
   * readings in chunks of flushRows); a pump deferred past all of them would read its first
   * batches back from SQLite instead of the log's memory tail, and send them later.
   */
  freshBatchReady(): boolean {
    const live = this.live;
    if (live && (live.stalled || live.snapshot.length > 0)) return false;
    const pos = live ? live.pos : this.backlogPos;
    if (!live && pos < this.backlogEnd) return false;
    return this.o.log.lastSeq() - pos >= this.o.batchMaxReadings;
  }

  /** Contiguous position everything up to which was delivered since the last reset. */
  delivered(): number {
    return this.deliveredPos;
  }

  inflightCount(): number {
    return this.entries.size;
  }

  /** Monotonic send time of the oldest batch still on its way (ack timeout), or null. */
  oldestSentAt(): number | null {
    let oldest: number | null = null;
    for (const e of this.entries) if (oldest === null || e.sentAt < oldest) oldest = e.sentAt;
    return oldest;
  }

  liveActive(): boolean {
    return this.live !== null;
  }

  status(): WindowStatus {
    return { backlogSeq: this.backlogPos, liveStart: this.live?.start ?? null, liveSeq: this.live?.pos ?? 0, ...this.st };
  }

  /**
   * The next batch to send, or how long to wait for one (a short batch waiting for company, or
   * the pace), or null when there is nothing to send or no free slot. The batch counts as sent
   * only once the driver calls sent().
   */
  next(): NextStep {
    if (this.entries.size >= Math.max(this.slots(), this.live ? 2 : 1)) return null;
    if (this.live) {
      // The snapshot goes ahead of every backlog batch, in any free slot: on a slow link a
      // backlog batch sent before it would sit in front of it in the same TCP stream.
      if (this.live.snapshot.length > 0) return this.nextLive(this.live);
      if (this.countLane('live') < this.liveSlots()) {
        const step = this.nextLive(this.live);
        if (step && 'batch' in step) return step;
        const backlog = this.countLane('backlog') < this.backlogSlots() ? this.nextBacklog() : null;
        if (backlog && 'batch' in backlog) return backlog;
        return shorter(step, backlog);
      }
      if (this.countLane('backlog') < this.backlogSlots()) {
        const backlog = this.nextBacklog();
        if (backlog && 'batch' in backlog) return backlog;
        // A slot the backlog cannot use now (paced, or reached the live start) carries live
        // readings: with only its own 2 of 8 slots, a link with 100 ms round trips would carry
        // at most 2 x 2000 / 0.1 s = 40,000 live readings/s, the poll rate of a large box,
        // while the backlog's slots sat idle under the pace. The backlog gets them back as
        // they free up (it is asked first).
        const live = this.nextLive(this.live);
        if (live && 'batch' in live) return live;
        return shorter(backlog, live);
      }
      return null;
    }
    if (this.entries.size >= this.slots()) return null;
    return this.nextBacklog();
  }

  /** The driver put `batch` on the wire (`bytes` long). */
  sent(batch: PlannedBatch, bytes: number): InflightEntry {
    const entry: InflightEntry = { batch, sentAt: this.o.clock(), bytes, readings: batch.records.length };
    this.entries.add(entry);
    if (batch.snapshot) {
      this.live?.snapshot.shift();
      this.st.snapshotReadings += batch.records.length;
      this.st.liveExtraBytes += bytes;
    }
    if (batch.live) {
      this.st.liveBatches++;
      this.st.liveReadings += batch.records.length;
    }
    if (batch.lane === 'live' && !batch.snapshot && this.live) {
      this.live.pos = batch.last;
      this.live.shortSince = null;
    }
    if (batch.lane === 'backlog') {
      this.backlogPos = batch.last;
      this.shortSince = null;
      if (this.live && this.backlogPos >= this.live.start) this.merge();
    }
    return entry;
  }

  /**
   * `entry` was delivered. Returns the new contiguous delivered position when it moved, else 0.
   * An entry of an earlier reset (a late acknowledgement) changes nothing.
   */
  ack(entry: InflightEntry): number {
    if (!this.entries.delete(entry)) return 0;
    this.st.batchesAcked++;
    this.st.readingsAcked += entry.readings;
    const c = entry.batch.covers;
    if (!c || c.last <= this.deliveredPos) return 0;
    insertRange(this.ahead, c);
    const before = this.deliveredPos;
    while (this.ahead[0] && this.ahead[0].first <= this.deliveredPos + 1) {
      this.deliveredPos = Math.max(this.deliveredPos, this.ahead.shift()!.last);
    }
    return this.deliveredPos > before ? this.deliveredPos : 0;
  }

  /**
   * The link's own limit on batches in flight (MQTT 5: the broker's Receive Maximum), or null
   * for none; applies below the configured `inflight` until the next call.
   */
  limitInflight(limit: number | null): void {
    this.linkLimit = limit === null ? null : Math.max(1, Math.floor(limit));
  }

  /** The in-flight slots: the configured ones, within the link's limit. */
  private slots(): number {
    return this.linkLimit === null ? this.o.inflight : Math.min(this.o.inflight, this.linkLimit);
  }

  private liveSlots(): number {
    return Math.max(1, this.slots() - this.backlogSlots());
  }

  private backlogSlots(): number {
    const slots = this.slots();
    if (!this.live) return slots;
    return Math.max(1, Math.min(slots - 1, Math.floor(slots * this.o.backlogShare)));
  }

  private countLane(lane: Lane): number {
    let n = 0;
    for (const e of this.entries) if (e.batch.lane === lane) n++;
    return n;
  }

  private startLive(start: number, withSnapshot = true, countStart = true): void {
    const after = this.backlogPos;
    const newest = withSnapshot ? (this.o.log.latestAfter?.(after) ?? []).filter((r) => r.seq <= start) : [];
    const snapshot: LogRecord[][] = [];
    for (let i = 0; i < newest.length; i += this.o.batchMaxReadings) snapshot.push(newest.slice(i, i + this.o.batchMaxReadings));
    this.live = { start, pos: start, snapshot, stalled: false, shortSince: null };
    this.backlogEnd = Math.max(this.backlogEnd, start);
    this.lastLiveStartMono = this.o.clock();
    if (countStart) this.st.liveStarts++;
  }

  /** The backlog reached where live-first began: one lane again, after what the live lane sent. */
  private merge(): void {
    if (!this.live) return;
    this.backlogPos = Math.max(this.backlogPos, this.live.pos);
    this.live = null;
    this.shortSince = null;
  }

  private nextLive(live: LiveLane): NextStep {
    const chunk = live.snapshot[0];
    if (chunk) {
      return { batch: { lane: 'live', live: true, snapshot: true, first: chunk[0]!.seq, last: chunk[chunk.length - 1]!.seq, evicted: [], records: chunk, covers: null } };
    }
    if (live.stalled) return null;
    const read = this.o.log.readAfter(live.pos, this.o.batchMaxReadings);
    // The live lane sends only a contiguous run: a hole is reported as evicted by the backlog
    // lane, which takes over from the hole once the lanes merge.
    let n = 0;
    while (n < read.length && read[n]!.seq === live.pos + 1 + n) n++;
    if (n < read.length) live.stalled = true;
    const records = n < read.length ? read.slice(0, n) : read;
    if (records.length === 0) return null;
    if (records.length < this.o.batchMaxReadings && !live.stalled) {
      const wait = this.shortWait(live.shortSince ?? (live.shortSince = this.o.clock()), records[0]!);
      if (wait > 0) return { waitMs: wait, paced: false };
    }
    const first = records[0]!.seq;
    const last = records[records.length - 1]!.seq;
    return { batch: { lane: 'live', live: true, snapshot: false, first, last, evicted: [], records, covers: { first, last } } };
  }

  private nextBacklog(): NextStep {
    const live = this.live;
    let read = this.o.log.readAfter(this.backlogPos, this.o.batchMaxReadings);
    if (!live && this.o.liveFirst && read.length > 0 && this.oldBacklog(read[0]!)) {
      this.startLive(this.o.log.lastSeq());
      return this.next();
    }
    const first = this.backlogPos + 1;
    let last: number;
    if (live) {
      // Up to where live-first began; a hole reaching it is evicted, and said so.
      const cut = read.findIndex((r) => r.seq > live.start);
      const reachesEnd = cut >= 0 || read.length === 0;
      if (cut >= 0) read = read.slice(0, cut);
      last = reachesEnd ? live.start : read[read.length - 1]!.seq;
      if (last < first) return null;
    } else {
      if (read.length === 0) return null;
      last = read[read.length - 1]!.seq;
      if (read.length < this.o.batchMaxReadings) {
        // A short batch waits for company, but never longer than batchMaxDelayMs after its
        // oldest reading was taken (a backlog goes out at once) nor after it was first seen
        // here (a device clock running ahead must not hold it back). shortSince is monotonic,
        // so whatever the wall clock did the wait stays within batchMaxDelayMs.
        const wait = this.shortWait(this.shortSince ?? (this.shortSince = this.o.clock()), read[0]!);
        if (wait > 0) return { waitMs: wait, paced: false };
      }
    }
    // Only backlog is paced: readings logged after the sink caught up go out as they come.
    const paced = countUpTo(read, this.backlogEnd);
    if (paced > 0) {
      const waitMs = this.bucket.take(paced);
      if (waitMs > 0) {
        this.st.pacedWaits++;
        return { waitMs, paced: true };
      }
    }
    const evicted = holes(read, first);
    const tail = read.length ? read[read.length - 1]!.seq : first - 1;
    if (tail < last) evicted.push({ first: tail + 1, last });
    return { batch: { lane: 'backlog', live: false, snapshot: false, first, last, evicted, records: read, covers: { first, last } } };
  }

  private oldBacklog(oldest: LogRecord): boolean {
    if (this.o.log.lastSeq() - this.backlogPos <= this.o.batchMaxReadings) return false;
    // Not again right after one: a link slower than the poll rate would send a snapshot per batch.
    if (this.o.clock() - this.lastLiveStartMono < this.o.liveFirstAfterMs) return false;
    return this.o.now() - oldest.ts > this.o.liveFirstAfterMs;
  }

  private shortWait(since: number, oldest: LogRecord): number {
    return Math.min(since + this.o.batchMaxDelayMs - this.o.clock(), oldest.ts + this.o.batchMaxDelayMs - this.o.now());
  }
}

/** The wire batch of a planned one (every codec's input), for the log's gateway and epoch. */
export function wireBatch(planned: PlannedBatch, gateway: string, epoch: string | undefined): Batch {
  return {
    gateway,
    ...(epoch ? { epoch } : {}),
    ...(planned.live ? { live: true as const } : {}),
    first: planned.first,
    last: planned.last,
    evicted: planned.evicted,
    readings: planned.records,
  };
}

function shorter(a: NextStep, b: NextStep): NextStep {
  if (!a) return b;
  if (!b) return a;
  if ('batch' in a) return a;
  if ('batch' in b) return b;
  return a.waitMs <= b.waitMs ? a : b;
}

function countUpTo(records: LogRecord[], seq: number): number {
  let n = 0;
  for (const r of records) if (r.seq <= seq) n++;
  return n;
}

/** Inserts `r` into ascending disjoint `ranges`, merging what touches it. */
function insertRange(ranges: SeqRange[], r: SeqRange): void {
  let first = r.first;
  let last = r.last;
  let i = 0;
  while (i < ranges.length && ranges[i]!.last + 1 < first) i++;
  let j = i;
  while (j < ranges.length && ranges[j]!.first <= last + 1) {
    first = Math.min(first, ranges[j]!.first);
    last = Math.max(last, ranges[j]!.last);
    j++;
  }
  ranges.splice(i, j - i, { first, last });
}

/**
 * The evicted ranges of a batch sent after `first - 1`: every hole in the records. The log
 * only deletes unsent rows by eviction (the size cap evicts a prefix; readings dropped while
 * the disk was full leave a hole further on), so any hole after the position already sent
 * is exactly what was evicted.
 */
export function holes(records: LogRecord[], first: number): SeqRange[] {
  const out: SeqRange[] = [];
  let expected = first;
  for (const r of records) {
    if (r.seq > expected) out.push({ first: expected, last: r.seq - 1 });
    expected = r.seq + 1;
  }
  return out;
}
