import Database from 'better-sqlite3';
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LogRecord, Reading, SeqRange } from '@kedge/cloud-sync/model.ts';
import type { LogSource } from '@kedge/cloud-sync/uplink/log-source.ts';
import { packValue, unpackValue, type SqlValue } from '@kedge/cloud-sync/sqlite-value.ts';
import { SCHEMA } from './schema.ts';

export interface ReadingLogOptions {
  /** Size cap of the live data in bytes; over it, the oldest rows are evicted (counted). */
  maxBytes: number;
  /** Pending readings are committed at least this often. */
  flushMs: number;
  /** ... or as soon as this many are pending. */
  flushRows: number;
  /** 'full' survives power loss at the cost of one fsync per commit; 'normal' survives process crashes. */
  synchronous: 'normal' | 'full';
  /** Acknowledged readings are kept this long (local charts) before they are pruned. */
  retainAckedMs: number;
  /** Clock for retention; tests move it. */
  now?: () => number;
  onWarn?: (msg: string, details: Record<string, unknown>) => void;
}

export interface EvictionReport extends SeqRange {
  count: number;
  at: number;
}

export interface LogStats {
  firstSeq: number; // 0 when empty
  lastSeq: number;
  rows: number;
  /** Readings appended but not yet acknowledged by the uplink. */
  unacked: number;
  ackedSeq: number;
  /** Bytes in use by live pages (the figure the cap applies to). */
  usedBytes: number;
  /** Size of the database file plus its WAL. */
  fileBytes: number;
  pending: number;
  evictedTotal: number;
  oldestUnackedTs: number | null;
  recoveredFromCrash: boolean;
}

const UPLINK_CURSOR = 'uplink';

/**
 * The durable reading log: one SQLite database in WAL mode, the single source of truth
 * between the pollers (which only append) and the uplink (which only reads by cursor).
 * Sequence numbers are assigned at commit, so a crash never leaves a hole that the center
 * would take for lost data.
 */
export class ReadingLog implements LogSource {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly opts: Required<Omit<ReadingLogOptions, 'onWarn'>> & Pick<ReadingLogOptions, 'onWarn'>;
  private pending: Reading[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private readonly pointIds = new Map<string, number>();
  private readonly pointKeys = new Map<number, string>();
  private readonly appendListeners = new Set<() => void>();
  private readonly evictListeners = new Set<(e: EvictionReport) => void>();
  private nextSeq: number;
  private closed = false;
  readonly recoveredFromCrash: boolean;
  private readonly stmt: ReturnType<ReadingLog['prepare']>;

  constructor(path: string, options: ReadingLogOptions) {
    this.path = path;
    this.opts = { now: Date.now, ...options };
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    // Keeps the WAL file from staying large after a burst; pages are reused otherwise.
    this.db.pragma('journal_size_limit = 16777216');
    this.db.exec(SCHEMA);
    this.stmt = this.prepare();
    this.recoveredFromCrash = this.checkCleanShutdown();
    for (const row of this.db.prepare('SELECT id, key FROM points').all() as Array<{ id: number; key: string }>) {
      this.pointIds.set(row.key, row.id);
      this.pointKeys.set(row.id, row.key);
    }
    this.nextSeq = this.storedLastSeq() + 1;
    this.pruneTimer = setInterval(() => this.maintain(), 60_000);
    this.pruneTimer.unref();
  }

  private prepare() {
    const db = this.db;
    return {
      insert: db.prepare('INSERT INTO readings (seq, ts, point, value, flags) VALUES (?, ?, ?, ?, ?)'),
      insertPoint: db.prepare('INSERT INTO points (key) VALUES (?)'),
      readAfter: db.prepare('SELECT seq, ts, point, value, flags FROM readings WHERE seq > ? ORDER BY seq LIMIT ?'),
      cursor: db.prepare('SELECT seq FROM cursors WHERE name = ?').pluck(),
      advance: db.prepare(
        'INSERT INTO cursors (name, seq) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET seq = excluded.seq WHERE excluded.seq > cursors.seq',
      ),
      firstSeq: db.prepare('SELECT min(seq) FROM readings').pluck(),
      lastSeq: db.prepare('SELECT max(seq) FROM readings').pluck(),
      seqCounter: db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'readings'").pluck(),
      tsOf: db.prepare('SELECT ts FROM readings WHERE seq > ? ORDER BY seq LIMIT 1').pluck(),
      deleteUpTo: db.prepare('DELETE FROM readings WHERE seq <= ?'),
      prunable: db.prepare('SELECT max(seq) FROM readings WHERE seq <= ? AND ts < ?').pluck(),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      addEviction: db.prepare('INSERT INTO evictions (first, last, count, at) VALUES (?, ?, ?, ?)'),
      evictions: db.prepare('SELECT first, last, count, at FROM evictions ORDER BY first DESC LIMIT ?'),
      firstTsFrom: db.prepare('SELECT ts FROM readings WHERE seq >= ? ORDER BY seq LIMIT 1').pluck(),
      recentOf: db.prepare(
        'SELECT seq, ts, value, flags FROM readings WHERE seq >= ? AND point = ? AND ts >= ? ORDER BY seq DESC LIMIT ?',
      ),
    };
  }

  /** Marks the file as in use; returns true when the previous run did not close it. */
  private checkCleanShutdown(): boolean {
    const state = this.stmt.getMeta.get('state');
    const crashed = state === 'open';
    if (crashed) {
      const result = this.db.pragma('quick_check', { simple: true });
      if (result !== 'ok') throw new Error(`reading log ${this.path} failed its integrity check: ${String(result)}`);
    }
    this.stmt.setMeta.run('state', 'open');
    return crashed;
  }

  private storedLastSeq(): number {
    const counter = (this.stmt.seqCounter.get() as number | undefined) ?? 0;
    const max = (this.stmt.lastSeq.get() as number | null) ?? 0;
    return Math.max(counter, max);
  }

  /** Queues readings; they are committed within flushMs (or at once past flushRows). */
  append(readings: readonly Reading[]): void {
    if (this.closed) throw new Error('reading log is closed');
    if (readings.length === 0) return;
    for (const r of readings) this.pending.push(r);
    if (this.pending.length >= this.opts.flushRows) this.flush();
    else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = null;
        this.flush();
      }, this.opts.flushMs);
    }
  }

  /** Commits everything pending in one transaction; returns the number of readings committed. */
  flush(): number {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    if (this.pending.length === 0 || this.closed) return 0;
    const batch = this.pending;
    this.pending = [];
    const first = this.nextSeq;
    try {
      this.insertBatch(batch, first);
      this.nextSeq = first + batch.length;
    } catch (err) {
      // Nothing of the batch was committed: keep it queued so a transient error (disk busy)
      // loses nothing, and let the caller see why.
      this.pending = batch.concat(this.pending);
      this.nextSeq = this.storedLastSeq() + 1;
      throw err;
    }
    this.enforceCap();
    for (const listener of this.appendListeners) listener();
    return batch.length;
  }

  private readonly insertBatch = (batch: Reading[], firstSeq: number): void => {
    this.db.transaction(() => {
      let seq = firstSeq;
      for (const r of batch) {
        const { value, flags } = packValue(r.value, r.quality);
        this.stmt.insert.run(seq++, r.ts, this.pointId(r.point), value, flags);
      }
    })();
  };

  private pointId(key: string): number {
    let id = this.pointIds.get(key);
    if (id === undefined) {
      id = Number(this.stmt.insertPoint.run(key).lastInsertRowid);
      this.pointIds.set(key, id);
      this.pointKeys.set(id, key);
    }
    return id;
  }

  readAfter(after: number, limit: number): LogRecord[] {
    const rows = this.stmt.readAfter.all(after, limit) as Array<{
      seq: number;
      ts: number;
      point: number;
      value: SqlValue;
      flags: number;
    }>;
    return rows.map((row) => {
      const { value, quality } = unpackValue(row.value, row.flags);
      const point = this.pointKeys.get(row.point);
      if (point === undefined) throw new Error(`corrupt log: reading ${row.seq} names unknown point ${row.point}`);
      return { seq: row.seq, ts: row.ts, point, value, quality };
    });
  }

  cursor(name: string = UPLINK_CURSOR): number {
    return (this.stmt.cursor.get(name) as number | undefined) ?? 0;
  }

  advance(name: string, seq: number): void {
    this.stmt.advance.run(name, seq);
  }

  lastSeq(): number {
    return this.nextSeq - 1;
  }

  onAppend(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  onEvict(listener: (e: EvictionReport) => void): () => void {
    this.evictListeners.add(listener);
    return () => this.evictListeners.delete(listener);
  }

  private usedBytes(): number {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * pageSize;
  }

  /**
   * Keeps the live data under maxBytes: acknowledged rows go first (no loss), then the
   * oldest unacknowledged ones, which are counted, recorded and reported.
   */
  private enforceCap(): void {
    for (let round = 0; round < 8; round++) {
      const used = this.usedBytes();
      if (used <= this.opts.maxBytes) return;
      const first = (this.stmt.firstSeq.get() as number | null) ?? 0;
      const last = this.lastSeq();
      if (first === 0) return;
      const rows = last - first + 1;
      // Free a little more than the excess so the cap is not hit again on the next commit.
      const excessRows = Math.ceil(((used - this.opts.maxBytes) / used) * rows + rows * 0.02);
      const upTo = Math.min(last, first + Math.max(excessRows, 1) - 1);
      const acked = this.cursor(UPLINK_CURSOR);
      if (acked >= first) {
        this.stmt.deleteUpTo.run(Math.min(acked, upTo));
        continue;
      }
      this.evict(first, upTo);
    }
  }

  private evict(first: number, last: number): void {
    const at = this.opts.now();
    const count = this.db.transaction(() => {
      const changes = this.stmt.deleteUpTo.run(last).changes;
      this.stmt.addEviction.run(first, last, changes, at);
      const total = Number(this.stmt.getMeta.get('evicted_total') ?? 0) + changes;
      this.stmt.setMeta.run('evicted_total', total);
      return changes;
    })();
    const report = { first, last, count, at };
    this.opts.onWarn?.('log size cap reached: oldest unsent readings evicted', {
      ...report,
      maxBytes: this.opts.maxBytes,
    });
    for (const listener of this.evictListeners) listener(report);
  }

  /** Prunes acknowledged readings past their retention; runs every minute. */
  maintain(): void {
    if (this.closed) return;
    const acked = this.cursor(UPLINK_CURSOR);
    const upTo = this.stmt.prunable.get(acked, this.opts.now() - this.opts.retainAckedMs) as number | null;
    if (upTo) this.stmt.deleteUpTo.run(upTo);
  }

  /**
   * A point's readings since `sinceTs`, oldest first (at most `limit`, the newest kept): the
   * local charts. Timestamps grow with seq, so a binary search on seq bounds the scan to the
   * recent rows instead of the whole (possibly days-long, unsent) log.
   */
  recentReadings(pointKey: string, sinceTs: number, limit = 5000): LogRecord[] {
    const id = this.pointIds.get(pointKey);
    if (id === undefined) return [];
    let lo = (this.stmt.firstSeq.get() as number | null) ?? 0;
    let hi = this.lastSeq() + 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const ts = this.stmt.firstTsFrom.get(mid) as number | undefined;
      if (ts === undefined || ts >= sinceTs) hi = mid;
      else lo = mid + 1;
    }
    const rows = this.stmt.recentOf.all(lo, id, sinceTs, limit) as Array<{ seq: number; ts: number; value: SqlValue; flags: number }>;
    return rows.reverse().map((row) => ({ seq: row.seq, ts: row.ts, point: pointKey, ...unpackValue(row.value, row.flags) }));
  }

  evictedTotal(): number {
    return Number(this.stmt.getMeta.get('evicted_total') ?? 0);
  }

  evictions(limit = 20): EvictionReport[] {
    return this.stmt.evictions.all(limit) as EvictionReport[];
  }

  stats(): LogStats {
    const firstSeq = (this.stmt.firstSeq.get() as number | null) ?? 0;
    const lastSeq = this.lastSeq();
    const ackedSeq = this.cursor(UPLINK_CURSOR);
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const oldest = this.stmt.tsOf.get(ackedSeq) as number | undefined;
    return {
      firstSeq,
      lastSeq,
      rows: firstSeq === 0 ? 0 : lastSeq - firstSeq + 1,
      unacked: Math.max(0, lastSeq - Math.max(ackedSeq, firstSeq - 1)),
      ackedSeq,
      usedBytes: this.usedBytes(),
      fileBytes: pages * pageSize + this.walBytes(),
      pending: this.pending.length,
      evictedTotal: this.evictedTotal(),
      oldestUnackedTs: oldest ?? null,
      recoveredFromCrash: this.recoveredFromCrash,
    };
  }

  private walBytes(): number {
    if (this.path === ':memory:') return 0;
    try {
      return statSync(`${this.path}-wal`).size;
    } catch {
      return 0;
    }
  }

  /** Commits what is pending and closes the database, marking the shutdown as clean. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.stmt.setMeta.run('state', 'closed');
    this.db.close();
  }
}
