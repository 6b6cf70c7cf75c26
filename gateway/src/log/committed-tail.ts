import type { LogRecord, Quality, Value } from '@kedge/cloud-sync/model.ts';
import { RowColumns } from './row-columns.ts';

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
  /** Held rows from `head` on (columns, not records: row-columns.ts says why); rows before `head` are dead. */
  private readonly rows: RowColumns;
  private head = 0;
  /** Lowest sequence the tail answers for. */
  private from: number;

  constructor(
    private readonly capacity: number,
    nextSeq: number,
  ) {
    // NaN (a size computed from a field some sink lacks) would hold nothing and spin on growth.
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`the committed tail's capacity (memoryTailRecords) must be an integer >= 0, got ${capacity}`);
    this.from = nextSeq;
    this.rows = new RowColumns(Math.min(capacity, 1024));
  }

  /** Forgets everything: the database holds no row at or after `nextSeq` yet. */
  reset(nextSeq: number): void {
    this.rows.clear();
    this.head = 0;
    this.from = nextSeq;
  }

  /** Records of one commit, ascending and above everything already held. */
  push(records: readonly LogRecord[]): void {
    for (const r of records) this.add(r.seq, r.ts, r.point, r.value, r.quality);
    this.endCommit();
  }

  /** One committed row, above everything already held; `endCommit()` once the commit's rows are in. */
  add(seq: number, ts: number, point: string, value: Value, quality: Quality): void {
    if (this.capacity <= 0) this.from = seq + 1;
    else this.rows.push(seq, ts, point, value, quality);
  }

  /** Keeps the newest `capacity` rows. */
  endCommit(): void {
    const size = this.rows.length - this.head;
    if (size > this.capacity && this.capacity > 0) {
      this.head += size - this.capacity;
      this.from = this.rows.seq(this.head - 1) + 1;
      // Compacted once the dead prefix is as large as the live part: amortised O(1) per record.
      if (this.head >= this.capacity) {
        this.rows.shift(this.head);
        this.head = 0;
      }
    }
  }

  /** The database no longer holds rows below `firstSeq` (0: it holds none at all). */
  dropBelow(firstSeq: number): void {
    const n = this.rows.length;
    if (firstSeq === 0) {
      // Empty database: everything held was deleted; coverage stays (no row exists after it).
      if (n > this.head) {
        this.from = Math.max(this.from, this.rows.seq(n - 1) + 1);
        this.rows.clear();
        this.head = 0;
      }
      return;
    }
    if (n === this.head || this.rows.seq(this.head) >= firstSeq) return;
    this.head = this.rows.firstAbove(firstSeq - 1, this.head);
    if (this.head === n) {
      this.rows.clear();
      this.head = 0;
    }
  }

  /**
   * Up to `limit` records with seq > `after`, or null when some of them may lie below what the
   * tail answers for (the caller reads SQLite). Fresh objects: the caller may keep or change them.
   */
  read(after: number, limit: number): LogRecord[] | null {
    if (after + 1 < this.from) return null;
    const i = this.rows.firstAbove(after, this.head);
    const end = Math.min(this.rows.length, i + limit);
    const out = new Array<LogRecord>(Math.max(0, end - i));
    for (let k = i; k < end; k++) out[k - i] = this.rows.record(k);
    return out;
  }

  /** Records held (tests, metrics). */
  size(): number {
    return this.rows.length - this.head;
  }
}
