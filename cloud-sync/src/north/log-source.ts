import type { LogRecord, SeqRange } from '../model.ts';

/**
 * What the uplink needs of the gateway's log. The uplink only reads by cursor and moves the
 * cursor; it never deletes, so the log stays the single source of truth between south and north.
 */
export interface LogSource {
  /** Highest sequence the named consumer has had acknowledged (0 when none). */
  cursor(name: string): number;
  /** Persists an acknowledged position; a position behind the stored one is ignored. */
  advance(name: string, seq: number): void;
  /** Up to `limit` records with seq > `after`, in sequence order. */
  readAfter(after: number, limit: number): LogRecord[];
  /**
   * The newest record of each point with seq > `after`, ascending by seq (live-first: the
   * current value of every point before the backlog). Absent: live-first sends no snapshot.
   * Called on the event loop at every reconnect, so its work must be bounded: a log may leave
   * out a point whose newest record lies far down (one that no longer reports), since that
   * record still goes out with the backlog (gateway/src/log/reading-log.ts latestScanRows).
   */
  latestAfter?(after: number): LogRecord[];
  /** Highest sequence written so far (0 for an empty log). */
  lastSeq(): number;
  /** Called after every commit that added records; returns an unsubscribe function. */
  onAppend(listener: () => void): () => void;
  /** The log's identity (random, from its creation): batches carry it, the center keys on it. */
  epoch?(): string;
  /** Lowest sequence still held (0 when empty); below it everything was delivered and pruned, or evicted. */
  firstSeq?(): number;
  /** The ranges the log evicted that it still remembers, ascending (for a resend the center asks for). */
  evictedRanges?(): SeqRange[];
  /**
   * Starts a new epoch in place (the center proved the log went backwards): what was not
   * confirmed is renumbered from 1 under it. Returns the new epoch.
   */
  startNewEpoch?(reason: string): string;
}
