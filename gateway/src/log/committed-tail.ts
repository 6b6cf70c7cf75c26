import type { LogRecord } from '@kedge/cloud-sync/model.ts';

/**
 * The newest committed records of the log, in memory, so that the uplink's reads of fresh
 * readings (every flush, while a batch is still short) do not go back to SQLite for rows
 * that were just written. Only ever holds rows after their transaction committed.
 *
 * Invariant: every row of the database with seq >= `from` is in the tail, in order (holes in
 * the sequence, from readings dropped while writes failed, are holes in both). Rows deleted
 * from the database (pruned, evicted) leave the tail through `dropBelow`, an epoch renumbering
 * through `reset`. A read that reaches below `from` is the backlog's: the caller asks SQLite.
 */
export class CommittedTail {
  private recs: LogRecord[] = [];
  private head = 0;
  /** Lowest sequence the tail answers for. */
  private from: number;

  constructor(
    private readonly capacity: number,
    nextSeq: number,
  ) {
    this.from = nextSeq;
  }

  /** Forgets everything: the database holds no row at or after `nextSeq` yet. */
  reset(nextSeq: number): void {
    this.recs = [];
    this.head = 0;
    this.from = nextSeq;
  }

  /** Records of one commit, ascending and above everything already held. */
  push(records: readonly LogRecord[]): void {
    if (this.capacity <= 0) {
      const last = records[records.length - 1];
      if (last) this.from = last.seq + 1;
      return;
    }
    for (const r of records) this.recs.push(r);
    const size = this.recs.length - this.head;
    if (size > this.capacity) {
      this.head += size - this.capacity;
      this.from = this.recs[this.head - 1]!.seq + 1;
      // Compacted once the dead prefix is as large as the live part: amortised O(1) per record.
      if (this.head >= this.capacity) {
        this.recs = this.recs.slice(this.head);
        this.head = 0;
      }
    }
  }

  /** The database no longer holds rows below `firstSeq` (0: it holds none at all). */
  dropBelow(firstSeq: number): void {
    const n = this.recs.length;
    if (firstSeq === 0) {
      // Empty database: everything held was deleted; coverage stays (no row exists after it).
      if (n > this.head) {
        this.from = Math.max(this.from, this.recs[n - 1]!.seq + 1);
        this.recs = [];
        this.head = 0;
      }
      return;
    }
    if (n === this.head || this.recs[this.head]!.seq >= firstSeq) return;
    this.head = this.firstIndexAbove(firstSeq - 1);
    if (this.head === n) {
      this.recs = [];
      this.head = 0;
    }
  }

  /**
   * Up to `limit` records with seq > `after`, or null when some of them may lie below what the
   * tail answers for (the caller reads SQLite).
   */
  read(after: number, limit: number): LogRecord[] | null {
    if (after + 1 < this.from) return null;
    const i = this.firstIndexAbove(after);
    return this.recs.slice(i, Math.min(this.recs.length, i + limit));
  }

  /** Records held (tests, metrics). */
  size(): number {
    return this.recs.length - this.head;
  }

  private firstIndexAbove(seq: number): number {
    let lo = this.head;
    let hi = this.recs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.recs[mid]!.seq > seq) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
