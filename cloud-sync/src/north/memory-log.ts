/**
 * A LogSource held in memory: what the north side's tests run on instead of the gateway's
 * SQLite ReadingLog (cloud-sync does not depend on the gateway; north never points back up).
 * It keeps the LogSource contract (log-source-contract.ts runs against both) and adds the
 * writer's side a test needs: append, evict, prune.
 */
import { randomUUID } from 'node:crypto';
import type { LogRecord, Reading, SeqRange, Value } from '../model.ts';
import type { LogSource } from './log-source.ts';

/** The cursor a sink uses when it names none (the gateway log's default too). */
export const DEFAULT_CURSOR = 'uplink';

export class MemoryLog implements LogSource {
  private records: LogRecord[] = [];
  private nextSeq = 1;
  private readonly cursors = new Map<string, number>();
  private readonly listeners = new Set<() => void>();
  private evicted: SeqRange[] = [];
  private closed = false;
  /** The epoch, and what the last startNewEpoch replaced and why (as the gateway log's identity records). */
  readonly identity: { epoch: string; previousEpoch?: string; reason?: string };

  constructor(opts: { epoch?: string } = {}) {
    this.identity = { epoch: opts.epoch ?? randomUUID() };
  }

  /** Logs `readings` under the next sequences and tells the listeners: committed on return. */
  append(readings: readonly Reading[]): void {
    if (this.closed) throw new Error('memory log: append after close');
    if (readings.length === 0) return;
    for (const r of readings) this.records.push({ seq: this.nextSeq++, point: r.point, ts: r.ts, value: asStored(r.value), quality: r.quality });
    for (const listener of [...this.listeners]) listener();
  }

  /** Nothing is ever pending (append commits); kept so tests written for the SQLite log read the same. */
  flush(): number {
    return 0;
  }

  /** Drops [first, last] as the gateway log's cap does, remembering the range for a resend. */
  evict(first: number, last: number): void {
    if (first > last) throw new Error(`memory log: evict ${first}..${last} is an empty range`);
    this.records = this.records.filter((r) => r.seq < first || r.seq > last);
    this.evicted = mergeRanges([...this.evicted, { first, last }]);
  }

  /** Drops every record at or below the lowest cursor: delivered to every consumer. */
  prune(): void {
    const base = this.lowestCursor();
    this.records = this.records.filter((r) => r.seq > base);
  }

  cursor(name: string = DEFAULT_CURSOR): number {
    return this.cursors.get(name) ?? 0;
  }

  advance(name: string, seq: number): void {
    if (this.closed || seq <= this.cursor(name)) return;
    this.cursors.set(name, seq);
  }

  readAfter(after: number, limit: number): LogRecord[] {
    const out: LogRecord[] = [];
    for (const r of this.records) {
      if (out.length >= limit) break;
      if (r.seq > after) out.push({ ...r });
    }
    return out;
  }

  latestAfter(after: number): LogRecord[] {
    const newest = new Map<string, LogRecord>();
    for (const r of this.records) if (r.seq > after) newest.set(r.point, r);
    return [...newest.values()].sort((a, b) => a.seq - b.seq).map((r) => ({ ...r }));
  }

  lastSeq(): number {
    return this.nextSeq - 1;
  }

  firstSeq(): number {
    return this.records[0]?.seq ?? 0;
  }

  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  epoch(): string {
    return this.identity.epoch;
  }

  evictedRanges(): SeqRange[] {
    return this.evicted.map((r) => ({ ...r }));
  }

  /** As the gateway log does: what is above the lowest cursor is renumbered from 1, cursors restart at 0. */
  startNewEpoch(reason: string): string {
    const base = this.lowestCursor();
    this.records = this.records.filter((r) => r.seq > base).map((r) => ({ ...r, seq: r.seq - base }));
    this.evicted = this.evicted.filter((r) => r.last > base).map((r) => ({ first: Math.max(r.first, base + 1) - base, last: r.last - base }));
    this.nextSeq = Math.max(0, this.nextSeq - 1 - base) + 1;
    for (const name of this.cursors.keys()) this.cursors.set(name, 0);
    Object.assign(this.identity, { epoch: randomUUID(), previousEpoch: this.identity.epoch, reason });
    return this.identity.epoch;
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
  }

  /** The default cursor always counts, as the gateway log's configured sink does. */
  private lowestCursor(): number {
    return Math.min(this.cursor(DEFAULT_CURSOR), ...this.cursors.values());
  }
}

/** As SQLite stores it: NaN has no REAL, so it is null; -0 is 0. */
function asStored(value: Value): Value {
  if (typeof value !== 'number') return value;
  if (Number.isNaN(value)) return null;
  return value === 0 ? 0 : value;
}

function mergeRanges(ranges: SeqRange[]): SeqRange[] {
  const sorted = [...ranges].sort((a, b) => a.first - b.first);
  const out: SeqRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.first <= last.last + 1) last.last = Math.max(last.last, r.last);
    else out.push({ ...r });
  }
  return out;
}
