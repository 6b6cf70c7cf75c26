import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { LogRecord, Reading, SeqRange, Value } from '@kedge/cloud-sync/model.ts';
import type { LogSource } from '@kedge/cloud-sync/north/log-source.ts';
import { packedFlags, packedValue, unpackValue, type SqlValue } from '@kedge/cloud-sync/sqlite-value.ts';
import { backoffCeiling } from '@kedge/cloud-sync/backoff.ts';
import { SCHEMA } from './schema.ts';
import { CommittedTail } from './committed-tail.ts';
import { RowColumns } from './row-columns.ts';
import { PointIndex } from './point-index.ts';
import { fileSize, inspectLogFile, moveAside, readIdentityFile, writeIdentityFile } from './log-file.ts';
import { describeWriteError, type WriteFailure } from './write-error.ts';

export interface ReadingLogOptions {
  /**
   * Rows of the cursors table that are counters, not sink positions (the sinks' logCounters,
   * e.g. Sparkplug's bdSeq): never the lowest cursor, kept across a renumbering. setSinks adds to them.
   */
  counters?: readonly string[];
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
  /** Monotonic clock (ms) for retry backoff and warning rate limits; tests move it. */
  monotonic?: () => number;
  /**
   * Readings kept in memory while the disk refuses writes (full, I/O error, read-only); past it
   * the oldest are dropped, counted, and reported to the center as evicted once writes resume.
   */
  maxBufferedReadings?: number;
  /**
   * Newest committed readings kept in memory for readAfter (the uplink reading fresh rows on
   * every flush); older ones, the backlog, come from SQLite. 0 reads everything from SQLite.
   */
  memoryTailRecords?: number;
  /**
   * Most rows one latestAfter call reads from SQLite, looking for the newest value of points
   * not written since the log was opened (after a restart; a point removed from the config).
   * It runs on the event loop at every reconnect: without a bound, one point that no longer
   * reports would make it walk the whole backlog. A point not found within it is not lost: its
   * readings come with the backlog, and the next call walks on from where this one stopped.
   */
  latestScanRows?: number;
  /** Backoff of write retries while writes fail. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** The size-cap warning is logged at most this often (with counts of what it summarises). */
  warnEveryMs?: number;
  onWarn?: (msg: string, details: Record<string, unknown>) => void;
  onInfo?: (msg: string, details: Record<string, unknown>) => void;
}

export interface EvictionReport extends SeqRange {
  count: number;
  at: number;
  /**
   * Of these readings, how many each sink had not yet delivered (sinks already past them are
   * absent): every sink named here reports the eviction in its own next batch.
   */
  sinks?: Record<string, number>;
}

/** One configured sink's position in the log (setSinks). */
export interface SinkCursor {
  name: string;
  /** Highest sequence the sink has had acknowledged. */
  cursor: number;
  /** Readings after its cursor that the log holds for it. */
  unacked: number;
  /** Readings this sink never delivered because the log evicted them first (size cap, full disk). */
  evicted: number;
}

/** How this log came to be what it is at this start; the birth message carries it. */
export interface LogIdentity {
  /** Random id given to the log file when it was created; sequences only mean something within it. */
  epoch: string;
  /** created: first start; opened: the log of the last run; reset: the previous log was damaged or missing. */
  origin: 'created' | 'opened' | 'reset';
  previousEpoch?: string;
  /** Why the previous log was not used (reset only). */
  reason?: string;
  /** Where the damaged file was moved (reset of a damaged file only). */
  movedTo?: string;
  /**
   * What could still be read of the replaced log (a reset whose file passed quick_check): its
   * epoch, its last sequence and what the center had confirmed of it. The center records
   * (confirmed..lastSeq] of that epoch as missing and unrecoverable from this box, so a
   * backlog left in the old file is a visible gap rather than silence.
   */
  previous?: { epoch: string; lastSeq: number; confirmed: number };
}

/** Writes failing: the log keeps readings in memory and retries until the disk takes them again. */
export interface WriteState {
  failing: boolean;
  code: string | null;
  reason: string | null;
  since: number | null;
  /** Readings dropped from the memory buffer since start (they become evicted ranges). */
  dropped: number;
}

export interface LogStats {
  firstSeq: number; // 0 when empty
  lastSeq: number;
  rows: number;
  /** Readings appended but not yet acknowledged by every sink (after the lowest cursor). */
  unacked: number;
  /** The lowest cursor of the configured sinks: what the log holds back for. */
  ackedSeq: number;
  /** Each configured sink's position. */
  sinks: SinkCursor[];
  /** Bytes in use by live pages (the figure the cap applies to). */
  usedBytes: number;
  /** Size of the database file plus its WAL. */
  fileBytes: number;
  pending: number;
  evictedTotal: number;
  oldestUnackedTs: number | null;
  recoveredFromCrash: boolean;
  epoch: string;
  /** Rows of the evictions table (contiguous evictions merge into one). */
  evictionRows: number;
  write: WriteState;
}

const UPLINK_CURSOR = 'uplink';
/** Meta key of a sink's evicted counter. */
const sinkEvictedKey = (name: string): string => `evicted_total:${name}`;
const MiB = 1024 * 1024;
/**
 * SQLite page cache of the log's connection, in KiB (issue 20). Appends touch only the table's
 * last pages and the uplink reads what was just written (most of it from the committed tail),
 * so 1 MiB holds the working set: measured at 10,000 rows/s with `synchronous: full`, the same
 * CPU per row as the 16 MB default (1.1-1.4 us) and 4 MB of native memory instead of 20.
 */
export const LOG_PAGE_CACHE_KIB = 1024;
/** Rows per multi-row INSERT in a commit (the rest of a commit goes row by row). */
const INSERT_CHUNK = 50;
/** Eviction rows kept for the UI once the center has confirmed past them. */
const KEEP_EVICTION_ROWS = 20;
/** More eviction rows than this at open (a log of an older version) are merged. */
const COMPACT_EVICTIONS_OVER = 1000;

/** SQLite error codes that mean the file itself is not a usable database. */
const DAMAGE_CODES = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CORRUPT_VTAB', 'SQLITE_CORRUPT_SEQUENCE', 'SQLITE_CORRUPT_INDEX']);

/**
 * Part of the cap set aside for the write-ahead log, so that database file plus WAL stay
 * under maxBytes: the WAL is checkpointed at this size and truncated back to it.
 */
export function walBudget(maxBytes: number): number {
  return Math.min(16 * MiB, Math.max(64 * 1024, Math.floor(maxBytes / 8)));
}

/** The columns every table of the log must have (schema.ts); anything less is another file. */
const EXPECTED_COLUMNS: Record<string, string[]> = {
  points: ['id', 'key'],
  readings: ['seq', 'ts', 'point', 'value', 'flags'],
  cursors: ['name', 'seq'],
  evictions: ['first', 'last', 'count', 'at'],
  meta: ['key', 'value'],
};

class LogSchemaError extends Error {}

/** A cheap check at every start: the file's tables have the log's columns. */
function schemaProblem(db: Database.Database): string | null {
  for (const [table, columns] of Object.entries(EXPECTED_COLUMNS)) {
    const have = new Set((db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name));
    const missing = columns.filter((c) => !have.has(c));
    if (missing.length) return `table ${table} lacks ${missing.join(', ')}`;
  }
  return null;
}

/** A value as SQLite gives it back: NaN is stored as NULL, -0 as 0 (the tail must read the same as the file). */
function asStored(value: Value): Value {
  if (typeof value !== 'number') return value;
  if (Number.isNaN(value)) return null;
  return value === 0 ? 0 : value;
}

export function newEpoch(): string {
  return randomBytes(8).toString('hex');
}

/**
 * The durable reading log: one SQLite database in WAL mode, the single source of truth
 * between the pollers (which only append) and the uplink (which only reads by cursor).
 * Sequence numbers are assigned at commit, so a crash never leaves a hole that the center
 * would take for lost data.
 */
export class ReadingLog implements LogSource {
  readonly path: string;
  private db!: Database.Database;
  private readonly opts: Required<Omit<ReadingLogOptions, 'onWarn' | 'onInfo'>> & Pick<ReadingLogOptions, 'onWarn' | 'onInfo'>;
  /** Appended, not yet committed: columns, not the pipeline's objects (row-columns.ts). Seq unused. */
  private readonly pending = new RowColumns();
  /** Committed records still served from memory (readAfter); created once nextSeq is known. */
  private tail!: CommittedTail;
  /** The epoch the tail's sequences belong to: a renumbering in place empties it. */
  private tailEpoch = '';
  /** The bound values of one multi-row insert, reused by every commit. */
  private readonly insertParams: SqlValue[] = new Array<SqlValue>(INSERT_CHUNK * 5).fill(null);
  /** Each pending row's point slot (point-index.ts), found once per row in the commit and reused once it committed. */
  private rowSlots = new Int32Array(1024);
  private flushTimer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Point key <-> point id of the file's points table; the log's per-point tables are indexed by its slots. */
  private readonly points = new PointIndex();
  /**
   * The slot of the point that followed each point's slot in the last commits (issue 20): a
   * device's poll appends its points in the same order every time, so a commit finds a row's
   * point by one string compare instead of a hash lookup among every point. Only a guess, taken
   * when the guessed slot holds the row's key: a slot a rollback took back, or one taken since
   * by another key, fails that check and is looked up afresh. -1: none yet.
   */
  private successorSlots = new Int32Array(1024).fill(-1);
  private readonly appendListeners = new Set<() => void>();
  /** Append listeners that threw (each logged): the readings were committed all the same. */
  private appendListenerFailures = 0;
  private readonly evictListeners = new Set<(e: EvictionReport) => void>();
  private nextSeq = 1;
  private closed = false;
  readonly recoveredFromCrash: boolean;
  readonly identity: LogIdentity;
  private stmt!: ReturnType<ReadingLog['prepare']>;
  /** Cursor positions accepted while the disk refused to store them (a cursor only grows). */
  private readonly unsavedCursors = new Map<string, number>();
  /**
   * The sinks whose cursors hold the log back (setSinks): prune and eviction go by the lowest
   * of them. Until told, the single legacy uplink.
   */
  private sinkNames: string[] = [UPLINK_CURSOR];
  private counters: readonly string[];
  /** Readings dropped from the memory buffer that still need their (evicted) sequence numbers. */
  private droppedUnsequenced = 0;
  private write: WriteState = { failing: false, code: null, reason: null, since: null, dropped: 0 };
  private retryAttempt = 0;
  /** Size-cap evictions not yet told in a warning (rate-limited). */
  private unwarned = { evictions: 0, readings: 0, first: 0, last: 0 };
  private lastEvictionWarnAt = Number.NEGATIVE_INFINITY;
  private lastDropWarnAt = Number.NEGATIVE_INFINITY;

  constructor(path: string, options: ReadingLogOptions) {
    this.path = path;
    this.opts = {
      now: Date.now,
      monotonic: () => performance.now(),
      maxBufferedReadings: 100_000,
      // A sink that keeps up reads at most a batch (2,000) plus a commit behind the end.
      memoryTailRecords: 4096,
      // A few poll cycles of a large box (40,000 tags): some tens of milliseconds of reading.
      latestScanRows: 100_000,
      retryMinMs: 1000,
      retryMaxMs: 30_000,
      warnEveryMs: 60_000,
      counters: [],
      ...options,
    };
    this.counters = [...this.opts.counters];
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const opened = this.openChecked();
    this.identity = opened.identity;
    this.recoveredFromCrash = opened.crashed;
    // In id order: a file the log numbered itself then needs no stored ids (point-index.ts).
    for (const row of this.db.prepare('SELECT id, key FROM points ORDER BY id').iterate() as IterableIterator<{ id: number; key: unknown }>) {
      // better-sqlite3 rounds integers past 2^53: two points would share an id and readings
      // would be stored under the wrong one. Only a file made elsewhere holds such ids.
      if (!Number.isSafeInteger(row.id)) throw new Error(`reading log ${path}: the points table holds id ${row.id}, past 2^53; not a file this log wrote`);
      // A TEXT column keeps a BLOB a BLOB (a file written elsewhere): held as its text.
      this.points.add(typeof row.key === 'string' ? row.key : String(row.key), row.id);
    }
    this.nextSeq = this.storedLastSeq() + 1;
    this.tail = new CommittedTail(this.opts.memoryTailRecords, this.nextSeq);
    this.tailEpoch = this.identity.epoch;
    // Marks the file as in use, in the database file itself (a checkpoint), not only in the
    // WAL: a crash followed by a lost WAL is then still seen as a crash at the next start. On
    // a full disk the daemon still starts: the flag is written with the first write that succeeds.
    this.tryWrite(() => this.markOpen());
    // A log of an older version may hold one eviction row per commit of a long outage (19 MB
    // of them were seen): merged once, so they no longer count against the cap.
    if ((this.stmt.evictionRows.get() as number) > COMPACT_EVICTIONS_OVER) this.tryWrite(() => this.compactEvictions());
    this.pruneTimer = setInterval(() => this.maintain(), 60_000);
    this.pruneTimer.unref();
  }

  /**
   * Opens the file after the cheap checks (header, size, shutdown flag, WAL presence) and a
   * quick_check when something is odd. A file that fails is moved aside and a new log with a
   * new epoch starts; a log that vanished is noticed through the identity file beside it.
   */
  private openChecked(): { identity: LogIdentity; crashed: boolean } {
    const path = this.path;
    const remembered = path === ':memory:' ? null : readIdentityFile(path);
    let reset: { reason: string; movedTo?: string; previous?: LogIdentity['previous'] } | null = null;
    const damaged = (reason: string, previous?: LogIdentity['previous']) => {
      this.closeQuietly();
      const movedTo = moveAside(path, new Date(this.opts.now()));
      reset = { reason, movedTo, ...(previous ? { previous } : {}) };
    };
    let crashed = false;
    if (path !== ':memory:') {
      const verdict = inspectLogFile(path);
      const walExisted = fileSize(`${path}-wal`) > 0 || existsSync(`${path}-wal`);
      if (verdict.kind === 'damaged') damaged(verdict.reason);
      else if (verdict.kind === 'absent') {
        if (remembered) reset = { reason: `is missing (it held epoch ${remembered.epoch})` };
      } else {
        try {
          this.openDb();
          const state = this.stmt.getMeta.get('state') as string | undefined;
          const storedEpoch = this.stmt.getMeta.get('epoch') as string | undefined;
          crashed = state === 'open';
          // Until a checkpoint, even the flag and the epoch live only in the WAL.
          const lostWal = !walExisted && (crashed || (remembered !== null && storedEpoch === undefined));
          if (lostWal) {
            damaged(
              'was not closed cleanly and its write-ahead log (-wal) is gone: its newest commits are lost and their sequence numbers would be reused',
              this.readablePrevious(storedEpoch ?? remembered?.epoch),
            );
            crashed = false;
          } else if (crashed || verdict.odd || state === undefined) {
            const result = String(this.db.pragma('quick_check', { simple: true }));
            if (result !== 'ok') {
              damaged(`failed its integrity check (${result.split('\n')[0]})`);
              crashed = false;
            }
          }
        } catch (err) {
          if (err instanceof LogSchemaError) damaged(`is not a kedge reading log (${err.message})`);
          else if (!DAMAGE_CODES.has(String((err as { code?: unknown }).code))) throw err;
          else damaged(`cannot be read as a database (${(err as Error).message})`);
          crashed = false;
        }
      }
    }
    if (reset || !this.isOpen()) this.openDb();
    let epoch = this.stmt.getMeta.get('epoch') as string | undefined;
    let origin: LogIdentity['origin'] = 'opened';
    let legacy = false;
    if (epoch === undefined) {
      legacy = this.storedLastSeq() > 0;
      // A log of an older version keeps the legacy epoch '': the center holds its sequences
      // 1..n under '' and continues from there. A new random epoch would make the next batch
      // (sequence n+1) the first of an epoch whose 1..n the center never sees, so it would
      // confirm nothing of it, ever.
      epoch = legacy ? '' : newEpoch();
      this.stmt.setMeta.run('epoch', epoch);
      origin = reset ? 'reset' : legacy ? 'opened' : remembered ? 'reset' : 'created';
    }
    const identity: LogIdentity = { epoch, origin };
    const previous = remembered?.epoch;
    if (reset) {
      identity.origin = 'reset';
      Object.assign(identity, reset);
    }
    if (previous !== undefined && previous !== epoch) identity.previousEpoch = previous;
    if (path !== ':memory:' && remembered?.epoch !== epoch) writeIdentityFile(path, { epoch, createdAt: new Date(this.opts.now()).toISOString() });
    const r = reset as { reason: string; movedTo?: string; previous?: LogIdentity['previous'] } | null;
    if (r) {
      const p = r.previous;
      const unsent = p && p.lastSeq > p.confirmed ? `; its readings ${p.confirmed + 1}-${p.lastSeq} were never confirmed by the center and stay only in the moved file (the birth tells the center)` : '';
      this.opts.onWarn?.(
        `reading log ${path} ${r.reason}: ${r.movedTo ? `moved it to ${r.movedTo} and ` : ''}started a new log, epoch ${epoch}${previous ? ` (was ${previous})` : ''}; sequences restart at 1${unsent}`,
        { file: path, movedTo: r.movedTo, epoch, previousEpoch: previous, ...(p ? { previous: p } : {}) },
      );
    } else if (legacy) {
      this.opts.onInfo?.(`reading log ${path} had no epoch (written by an older version): it keeps the legacy epoch '' and continues at sequence ${this.storedLastSeq() + 1}`, { file: path, epoch });
    } else if (identity.origin === 'created') {
      this.opts.onInfo?.(`reading log ${path} created, epoch ${epoch}`, { file: path, epoch });
    }
    return { identity, crashed };
  }

  /**
   * Of a log about to be replaced (still open): its epoch, last sequence and confirmed cursor,
   * if the file passes quick_check; undefined when it cannot be trusted or the epoch is unknown.
   */
  private readablePrevious(epoch: string | undefined): LogIdentity['previous'] {
    if (epoch === undefined) return undefined;
    try {
      if (String(this.db.pragma('quick_check', { simple: true })) !== 'ok') return undefined;
      // The lowest cursor of any sink: a range the center is told is missing that it holds is
      // harmless; a range it is told it holds that it never got would hide a loss.
      // Counters (Sparkplug's bdSeq) share the table but are no position: they are left out.
      const lowest =
        (this.db.prepare('SELECT min(seq) FROM cursors WHERE name NOT IN (SELECT value FROM json_each(?))').pluck().get(JSON.stringify(this.counters)) as
          | number
          | null) ?? 0;
      return { epoch, lastSeq: this.storedLastSeq(), confirmed: lowest };
    } catch {
      return undefined;
    }
  }

  private isOpen(): boolean {
    return this.db !== undefined && this.db.open;
  }

  private openDb(): void {
    this.db = new Database(this.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${this.opts.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    // better-sqlite3 builds SQLite with a 16 MB page cache per connection, which an append-only
    // log fills within a minute at 10,000 readings/s and then keeps: RSS a box cannot spare.
    this.db.pragma(`cache_size = -${LOG_PAGE_CACHE_KIB}`);
    // Database file plus WAL stay under the cap: checkpoint at the WAL's share of it, and
    // truncate the WAL back to that share after a burst.
    const budget = walBudget(this.opts.maxBytes);
    this.db.pragma(`journal_size_limit = ${budget}`);
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    this.db.pragma(`wal_autocheckpoint = ${Math.max(16, Math.floor(budget / pageSize))}`);
    this.db.exec(SCHEMA);
    const problem = schemaProblem(this.db);
    if (problem) throw new LogSchemaError(problem);
    this.stmt = this.prepare();
  }

  private closeQuietly(): void {
    try {
      if (this.isOpen()) this.db.close();
    } catch {
      // a damaged file may refuse even this; it is moved aside next
    }
  }

  private prepare() {
    const db = this.db;
    return {
      insert: db.prepare('INSERT INTO readings (seq, ts, point, value, flags) VALUES (?, ?, ?, ?, ?)'),
      insertChunk: db.prepare(`INSERT INTO readings (seq, ts, point, value, flags) VALUES ${new Array<string>(INSERT_CHUNK).fill('(?, ?, ?, ?, ?)').join(', ')}`),
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
      touchingEvictions: db.prepare('SELECT rowid, first, last, count FROM evictions WHERE last >= ? AND first <= ?'),
      deleteEviction: db.prepare('DELETE FROM evictions WHERE rowid = ?'),
      pruneEvictions: db.prepare('DELETE FROM evictions WHERE last <= ? AND rowid NOT IN (SELECT rowid FROM evictions ORDER BY last DESC LIMIT ?)'),
      evictionRows: db.prepare('SELECT count(*) FROM evictions').pluck(),
      cursors: db.prepare('SELECT name, seq FROM cursors'),
      dropCursor: db.prepare('DELETE FROM cursors WHERE name = ?'),
      startCursor: db.prepare('INSERT OR IGNORE INTO cursors (name, seq) VALUES (?, ?)'),
      deleteMeta: db.prepare('DELETE FROM meta WHERE key = ?'),
      countBetween: db.prepare('SELECT count(*) FROM readings WHERE seq > ? AND seq <= ?').pluck(),
      evictedAfter: db.prepare('SELECT coalesce(sum(count), 0) FROM evictions WHERE first > ?').pluck(),
      bumpCounter: db.prepare("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'readings'"),
      insertCounter: db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('readings', ?)"),
      firstTsFrom: db.prepare('SELECT ts FROM readings WHERE seq >= ? ORDER BY seq LIMIT 1').pluck(),
      recentOf: db.prepare(
        'SELECT seq, ts, value, flags FROM readings WHERE seq >= ? AND point = ? AND ts >= ? ORDER BY seq DESC LIMIT ?',
      ),
    };
  }

  /**
   * Runs a write; a failure (disk full, I/O error, read-only remount, lock) becomes the
   * failing write state with a retry, never an exception out of a timer or a callback.
   */
  private tryWrite<T>(fn: () => T): { ok: true; value: T } | { ok: false } {
    try {
      const value = fn();
      return { ok: true, value };
    } catch (err) {
      this.writeFailed(err);
      return { ok: false };
    }
  }

  private writeFailed(err: unknown): void {
    const failure: WriteFailure = describeWriteError(err);
    if (!this.write.failing || this.write.code !== failure.code) {
      this.opts.onWarn?.(`reading log ${this.path}: writes failing (${failure.reason}); readings are kept in memory (up to ${this.opts.maxBufferedReadings}) and retried`, {
        code: failure.code,
        buffered: this.pending.length,
      });
    }
    this.write = { ...this.write, failing: true, code: failure.code, reason: failure.reason, since: this.write.since ?? this.opts.now() };
    this.scheduleRetry();
  }

  private writeSucceeded(): void {
    if (!this.write.failing) return;
    const failedForMs = this.opts.now() - (this.write.since ?? this.opts.now());
    this.opts.onInfo?.(`reading log ${this.path}: writes resumed after ${Math.round(failedForMs / 1000)} s`, {
      dropped: this.write.dropped,
      failedForMs,
    });
    this.write = { ...this.write, failing: false, code: null, reason: null, since: null };
    this.retryAttempt = 0;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    const delay = backoffCeiling(this.retryAttempt++, this.opts.retryMinMs, this.opts.retryMaxMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.retryWrites();
    }, delay);
  }

  /** Writes what waited for the disk: the shutdown flag, cursors, pending readings. */
  private retryWrites(): void {
    if (this.closed) return;
    const ok = this.tryWrite(() => {
      this.markOpen();
      this.saveCursors();
    }).ok;
    if (!ok) return;
    if (this.pending.length > 0 || this.droppedUnsequenced > 0) this.flush();
    else this.writeSucceeded();
  }

  /** Merges touching and overlapping eviction rows into one per range (counts summed). */
  private compactEvictions(): void {
    const before = this.stmt.evictionRows.get() as number;
    this.db.transaction(() => {
      const rows = this.db.prepare('SELECT first, last, count, at FROM evictions ORDER BY first').all() as EvictionReport[];
      const merged: EvictionReport[] = [];
      for (const r of rows) {
        const prev = merged.at(-1);
        if (prev && r.first <= prev.last + 1) {
          prev.last = Math.max(prev.last, r.last);
          prev.count += r.count;
          prev.at = Math.max(prev.at, r.at);
        } else merged.push({ ...r });
      }
      this.db.prepare('DELETE FROM evictions').run();
      for (const m of merged) this.stmt.addEviction.run(m.first, m.last, m.count, m.at);
      this.stmt.pruneEvictions.run(this.lowestCursor(), KEEP_EVICTION_ROWS);
    })();
    this.opts.onInfo?.(`reading log ${this.path}: merged ${before} eviction rows into ${this.stmt.evictionRows.get() as number}`, { before });
  }

  private markOpen(): void {
    this.stmt.setMeta.run('state', 'open');
    if (this.path !== ':memory:') this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  private saveCursors(): void {
    for (const [name, seq] of this.unsavedCursors) {
      this.stmt.advance.run(name, seq);
      this.unsavedCursors.delete(name);
    }
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
    for (const r of readings) this.pending.push(0, r.ts, r.point, r.value, r.quality);
    this.boundBuffer();
    // While writes fail, the retry timer decides when to try again (with backoff).
    if (this.write.failing) return;
    if (this.pending.length >= this.opts.flushRows) this.flush();
    else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = null;
        this.flush();
      }, this.opts.flushMs);
    }
  }

  /**
   * Past maxBufferedReadings the oldest pending readings are dropped: counted now, and given
   * their sequence numbers as an evicted range with the next commit, so the center sees them.
   */
  private boundBuffer(): void {
    const excess = this.pending.length - this.opts.maxBufferedReadings;
    if (excess <= 0) return;
    this.pending.shift(excess);
    this.droppedUnsequenced += excess;
    this.write.dropped += excess;
    const now = this.opts.monotonic();
    if (now - this.lastDropWarnAt >= this.opts.warnEveryMs) {
      this.lastDropWarnAt = now;
      this.opts.onWarn?.(`reading log ${this.path}: memory buffer full while writes fail; oldest readings dropped (reported to the center as evicted)`, {
        droppedTotal: this.write.dropped,
        buffered: this.pending.length,
        reason: this.write.reason,
      });
    }
  }

  /**
   * Commits everything pending in one transaction; returns the number of readings committed
   * (0 when the disk refused: they stay pending and a retry is scheduled).
   */
  flush(): number {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    if (this.closed || (this.pending.length === 0 && this.droppedUnsequenced === 0)) return 0;
    const batch = this.pending;
    const dropped = this.droppedUnsequenced;
    const first = this.nextSeq;
    const at = this.opts.now();
    // Points this commit creates get the slots from here on; a rollback takes them back.
    const knownPoints = this.points.size;
    if (this.rowSlots.length < batch.length) this.rowSlots = new Int32Array(batch.length * 2);
    const slots = this.rowSlots;
    let usedBefore = 0;
    try {
      usedBefore = this.usedBytes();
      this.db.transaction(() => {
        if (dropped > 0) {
          this.recordEviction(first, first + dropped - 1, dropped, at);
          // Never logged, so no sink had them.
          this.addSinkEvictions(this.everySink(dropped));
          if (batch.length === 0) this.keepCounter(first + dropped - 1);
        }
        let seq = first + dropped;
        // INSERT_CHUNK rows per statement: one native call and one bound array per chunk
        // instead of per row (about 40 % less CPU per row, measured in scripts/src/build/README.md).
        const params = this.insertParams;
        const points = this.points;
        let k = 0;
        let prevSlot = -1;
        for (let i = 0; i < batch.length; i++) {
          const value = batch.value(i);
          const flags = packedFlags(value, batch.quality(i));
          const key = batch.point(i);
          // The guess is checked on every row, never trusted: a wrong id here is a row stored
          // under another point, silently (the check costs one string compare).
          const guess = prevSlot >= 0 && prevSlot < this.successorSlots.length ? this.successorSlots[prevSlot]! : -1;
          let slot: number;
          if (guess >= 0 && points.key(guess) === key) slot = guess;
          else {
            slot = this.pointSlot(key);
            if (prevSlot >= 0) this.noteSuccessor(prevSlot, slot);
          }
          prevSlot = slots[i] = slot;
          params[k++] = seq++;
          params[k++] = batch.ts(i);
          params[k++] = points.id(slot);
          // asStored: SQLite keeps a bound -0 as -0.0, while the tail, the newest table and every
          // LogSource (north/memory-log.ts) give 0; one value for one reading, whichever answers.
          params[k++] = packedValue(asStored(value));
          params[k++] = flags;
          if (k === params.length) {
            this.stmt.insertChunk.run(params);
            k = 0;
          }
        }
        for (let j = 0; j < k; j += 5) this.stmt.insert.run(params[j], params[j + 1], params[j + 2], params[j + 3], params[j + 4]);
      })();
    } catch (err) {
      // Rolled back: so are the point ids it created, or a retry would name points with no row.
      // Their slots with them, so no successor guess can confirm a taken-back slot.
      this.points.truncate(knownPoints);
      this.writeFailed(err);
      return 0;
    }
    const count = batch.length;
    this.droppedUnsequenced = 0;
    this.nextSeq = first + dropped + count;
    // Committed: into the tail and the newest row of each point, as readAfter would read them back.
    try {
      for (let i = 0, seq = first + dropped; i < count; i++, seq++) {
        const point = batch.point(i);
        const ts = batch.ts(i);
        const value = asStored(batch.value(i));
        const quality = batch.quality(i);
        this.tail.add(seq, ts, point, value, quality);
        this.newest.set(slots[i]!, seq, ts, point, value, quality);
      }
      this.tail.endCommit();
    } catch (err) {
      // Memory only (an allocation refused): SQLite holds the rows. The tail starts over above
      // them, so readAfter reads them from the file, and latestAfter walks the file afresh.
      this.tail.reset(this.nextSeq);
      this.forgetNewest();
      this.opts.onWarn?.(`reading log ${this.path}: the in-memory copy of a commit failed; the readings are committed and read from the file`, {
        err: (err as Error).message,
      });
    } finally {
      // Out of the pending rows whatever happened above: kept, they would be committed again under new sequences.
      batch.clear();
    }
    this.noteCommitSize(usedBefore);
    if (this.write.failing && this.tryWrite(() => this.saveCursors()).ok) this.writeSucceeded();
    if (dropped > 0) this.reportEviction({ first, last: first + dropped - 1, count: dropped, at, sinks: this.everySink(dropped) }, 'buffer');
    this.enforceCap();
    // The readings are committed: a listener that throws (a sink's bug) must neither throw out
    // of the append, as if they were lost, nor keep the other listeners from hearing of them.
    for (const listener of this.appendListeners) {
      try {
        listener();
      } catch (err) {
        this.appendListenerFailures++;
        this.opts.onWarn?.(`reading log ${this.path}: an append listener failed; the readings are committed`, {
          err: (err as Error).message,
          failures: this.appendListenerFailures,
        });
      }
    }
    return count;
  }

  /** Keeps AUTOINCREMENT's counter at `seq` when sequences were assigned without rows. */
  private keepCounter(seq: number): void {
    if (this.stmt.bumpCounter.run(seq).changes === 0) this.stmt.insertCounter.run(seq);
  }

  private noteSuccessor(prevSlot: number, slot: number): void {
    if (this.successorSlots.length <= prevSlot) {
      const grown = new Int32Array(Math.max(prevSlot + 1, this.successorSlots.length * 2)).fill(-1);
      grown.set(this.successorSlots);
      this.successorSlots = grown;
    }
    this.successorSlots[prevSlot] = slot;
  }

  /** The slot of the point `key`, created (in the points table too) if it is new. */
  private pointSlot(key: string): number {
    const slot = this.points.slotOfKey(key);
    if (slot < 0) return this.points.add(key, Number(this.stmt.insertPoint.run(key).lastInsertRowid));
    // The row's key is the config's string; the one held may be SQLite's copy from the open.
    this.points.adopt(slot, key);
    return slot;
  }

  /**
   * Up to `limit` committed records after `after`. Fresh ones (the common case: the uplink
   * keeps up and re-reads its short batch on every flush) come from the in-memory tail of the
   * last commits; the backlog from SQLite. The tail never holds a row that is not committed,
   * and rows the database no longer holds (pruned, evicted) leave it before it answers.
   */
  readAfter(after: number, limit: number): LogRecord[] {
    if (this.tailEpoch !== this.identity.epoch) {
      this.tail.reset(this.nextSeq);
      this.tailEpoch = this.identity.epoch;
    }
    this.tail.dropBelow(this.firstSeq());
    const fresh = this.tail.read(after, limit);
    if (fresh) return fresh;
    return this.readStored(after, limit);
  }

  /** readAfter from SQLite alone (the backlog; tests compare the tail with it). */
  readStored(after: number, limit: number): LogRecord[] {
    const rows = this.stmt.readAfter.all(after, limit) as Array<{
      seq: number;
      ts: number;
      point: number;
      value: SqlValue;
      flags: number;
    }>;
    return rows.map((row) => {
      const { value, quality } = unpackValue(row.value, row.flags);
      const slot = this.points.slotOfId(row.point);
      if (slot < 0) throw new Error(`corrupt log: reading ${row.seq} names unknown point ${row.point}`);
      return { seq: row.seq, ts: row.ts, point: this.points.key(slot)!, value, quality };
    });
  }

  private latestStmt: Database.Statement | null = null;
  /**
   * The newest committed record of each point written since the log was opened (or since its
   * epoch began), by point slot: columns updated in place at every commit (row-columns.ts).
   */
  private readonly newest = new RowColumns();

  /** Empties `newest` (renumbered, or a commit's memory copy failed): latestAfter walks the file afresh. */
  private forgetNewest(): void {
    this.newest.clear();
    this.unwrittenBelow = Number.MAX_SAFE_INTEGER;
  }
  /**
   * Points of the file missing from `newest` have no row at or above this sequence:
   * latestAfter walked down to it (a later call walks on below it, never again above).
   */
  private unwrittenBelow = Number.MAX_SAFE_INTEGER;
  /** Rows the last latestAfter call read from SQLite (its bound is latestScanRows). */
  latestAfterRowsRead = 0;

  /**
   * The newest record of each point with seq > `after`, ascending (live-first, once per
   * reconnect). Points written since the log was opened are answered from memory (the newest
   * committed record of each, kept at every commit). Only the points of the file not written
   * since (a restart before the first poll, a point removed from the config) need SQLite: one
   * walk down the primary key, bounded by `latestScanRows` and resumed below where the
   * previous call stopped, so a point that no longer reports never makes a reconnect read the
   * backlog. A point the bound leaves out is not lost: it comes with the backlog.
   */
  latestAfter(after: number): LogRecord[] {
    this.latestAfterRowsRead = 0;
    // An empty file (everything pruned or evicted) holds nothing below nextSeq: memory must not answer for it.
    const held = this.firstSeq() || this.nextSeq;
    const unwritten = new Set<number>();
    for (let slot = 0; slot < this.points.size; slot++) if (!this.newest.has(slot)) unwritten.add(slot);
    if (unwritten.size > 0 && this.unwrittenBelow - 1 > Math.max(after, held - 1)) this.walkForUnwritten(after, unwritten);
    const out: LogRecord[] = [];
    for (let slot = 0; slot < this.newest.length; slot++) {
      if (!this.newest.has(slot)) continue;
      const seq = this.newest.seq(slot);
      if (seq > after && seq >= held) out.push(this.newest.record(slot));
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  /** Finds the newest rows of `unwritten` points (slots) below unwrittenBelow, at most latestScanRows rows down. */
  private walkForUnwritten(after: number, unwritten: Set<number>): void {
    this.latestStmt ??= this.db.prepare('SELECT seq, ts, point, value, flags FROM readings WHERE seq > ? AND seq < ? ORDER BY seq DESC');
    let lowest = this.unwrittenBelow;
    let exhausted = true;
    for (const row of this.latestStmt.iterate(after, this.unwrittenBelow) as IterableIterator<{ seq: number; ts: number; point: number; value: SqlValue; flags: number }>) {
      if (this.latestAfterRowsRead >= this.opts.latestScanRows) {
        exhausted = false;
        break;
      }
      this.latestAfterRowsRead++;
      lowest = row.seq;
      // A row of a point the file does not know is not one of the unwritten points either.
      const slot = this.points.slotOfId(row.point);
      if (slot < 0 || !unwritten.delete(slot)) continue;
      const { value, quality } = unpackValue(row.value, row.flags);
      this.newest.set(slot, row.seq, row.ts, this.points.key(slot)!, value, quality);
      if (unwritten.size === 0) {
        exhausted = false;
        break;
      }
    }
    // Walked to `after`: the points still missing have nothing above it either.
    this.unwrittenBelow = exhausted ? Math.min(lowest, after + 1) : lowest;
  }

  cursor(name: string = UPLINK_CURSOR): number {
    const stored = (this.stmt.cursor.get(name) as number | undefined) ?? 0;
    return Math.max(stored, this.unsavedCursors.get(name) ?? 0);
  }

  /**
   * Moves a cursor forward. Called from MQTT callbacks: a disk that refuses the write keeps
   * the position in memory (and retries) instead of throwing into the callback.
   */
  advance(name: string, seq: number): void {
    if (this.closed || seq <= this.cursor(name)) return;
    if (this.write.failing || !this.tryWrite(() => this.stmt.advance.run(name, seq)).ok) this.unsavedCursors.set(name, seq);
  }

  /**
   * Declares the configured sinks (each sink's name is its cursor); the log prunes and evicts
   * by the lowest of their cursors. Called at start and at every reload.
   *
   * A cursor of a sink no longer configured is dropped (and said, with its position): it would
   * otherwise hold the log back forever, and the size cap would evict what the remaining sinks
   * still need. A new sink starts with what the log still holds: at 0 it would report every
   * sequence pruned before it existed as evicted. Only when no sink has ever had a position
   * (a log of the legacy single uplink that never got an acknowledgement) does it start at 0,
   * since nothing was pruned then and whatever is missing below the log's start was evicted.
   */
  setSinks(
    names: readonly string[],
    /** Rows of the cursors table that are counters, not sink positions (Sparkplug's bdSeq): kept, never a sink. */
    counters: readonly string[] = [],
  ): { added: Array<{ name: string; startAfter: number }>; dropped: Array<{ name: string; cursor: number }> } {
    if (names.length === 0) throw new Error('setSinks: at least one sink is needed (with none, nothing would hold the log back)');
    const clash = names.find((n) => counters.includes(n) || this.counters.includes(n));
    if (clash !== undefined) throw new Error(`setSinks: "${clash}" is a counter of the log, not a sink name`);
    this.counters = [...new Set([...this.counters, ...counters])];
    const wanted = new Set(names);
    const stored = new Map((this.stmt.cursors.all() as Array<{ name: string; seq: number }>).map((r) => [r.name, r.seq]));
    for (const [name, seq] of this.unsavedCursors) stored.set(name, Math.max(seq, stored.get(name) ?? 0));
    for (const c of this.counters) stored.delete(c);
    const dropped: Array<{ name: string; cursor: number }> = [];
    const added: Array<{ name: string; startAfter: number }> = [];
    const neverAcked = stored.size === 0;
    const held = this.firstSeq();
    const startAfter = neverAcked ? 0 : held === 0 ? this.lastSeq() : held - 1;
    this.tryWrite(() =>
      this.db.transaction(() => {
        for (const [name, cursor] of stored) {
          if (wanted.has(name)) continue;
          this.stmt.dropCursor.run(name);
          this.stmt.deleteMeta.run(sinkEvictedKey(name));
          this.unsavedCursors.delete(name);
          dropped.push({ name, cursor });
        }
        for (const name of wanted) {
          if (stored.has(name)) continue;
          this.stmt.startCursor.run(name, startAfter);
          added.push({ name, startAfter });
        }
      })(),
    );
    this.sinkNames = [...wanted];
    for (const d of dropped) {
      this.opts.onWarn?.(
        `reading log ${this.path}: uplink "${d.name}" is no longer configured: its cursor (sequence ${d.cursor}) is dropped and no longer holds the log back; configured again, it would start with what the log then holds`,
        { sink: d.name, cursor: d.cursor, lastSeq: this.lastSeq() },
      );
    }
    for (const a of added) {
      this.opts.onInfo?.(`reading log ${this.path}: new uplink "${a.name}" starts after sequence ${a.startAfter} (with what the log holds)`, {
        sink: a.name,
        startAfter: a.startAfter,
      });
    }
    return { added, dropped };
  }

  /** The configured sinks (setSinks), in the order given. */
  sinks(): string[] {
    return [...this.sinkNames];
  }

  /** The lowest cursor of the configured sinks: the log keeps everything after it. */
  lowestCursor(): number {
    let lowest = Number.POSITIVE_INFINITY;
    for (const name of this.sinkNames) lowest = Math.min(lowest, this.cursor(name));
    return lowest;
  }

  /** Readings the named sink never delivered because the log evicted them first. */
  sinkEvicted(name: string): number {
    return Number(this.stmt.getMeta.get(sinkEvictedKey(name)) ?? 0);
  }

  /** Counts evicted readings per configured sink that had not delivered them (inside the eviction's transaction). */
  private countSinkEvictions(first: number, last: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const name of this.sinkNames) {
      const cursor = this.cursor(name);
      if (cursor >= last) continue;
      const n = this.stmt.countBetween.get(Math.max(cursor, first - 1), last) as number;
      if (n > 0) out[name] = n;
    }
    return out;
  }

  private everySink(count: number): Record<string, number> {
    return Object.fromEntries(this.sinkNames.map((name) => [name, count]));
  }

  /** Adds evicted counts to each sink's persistent counter. */
  private addSinkEvictions(counts: Record<string, number>): void {
    for (const [name, n] of Object.entries(counts)) this.stmt.setMeta.run(sinkEvictedKey(name), this.sinkEvicted(name) + n);
  }

  /** The log's identity: sequences only mean something within one epoch. */
  epoch(): string {
    return this.identity.epoch;
  }

  /**
   * Starts a new epoch in place, when the log is proven to have gone backwards (the center
   * holds more of this epoch than the log ever wrote: a restored backup, a lost write). New
   * readings under the old epoch would reuse sequences the center holds with other content.
   * What the uplink had not had confirmed is renumbered from 1 in the new epoch (sent again,
   * never counted delivered); what was confirmed is dropped. Returns the new epoch.
   * With several sinks, what every sink had delivered is dropped (below the lowest cursor);
   * every sink starts the new epoch at 0, so a sink that was ahead gets the readings between
   * the lowest cursor and its own again under their new numbers (a duplicate, never a gap the
   * center could not confirm past).
   */
  startNewEpoch(reason: string): string {
    this.flush();
    const base = this.lowestCursor();
    const previous = this.identity.epoch;
    const epoch = newEpoch();
    const last = this.storedLastSeq();
    this.db.transaction(() => {
      this.stmt.deleteUpTo.run(base);
      // Two steps: an in-place shift could collide with a not yet moved row.
      this.db.prepare('UPDATE readings SET seq = -(seq - ?)').run(base);
      this.db.prepare('UPDATE readings SET seq = -seq').run();
      this.db.prepare('DELETE FROM evictions WHERE last <= ?').run(base);
      this.db.prepare('UPDATE evictions SET first = max(first, ?) - ?, last = last - ?').run(base + 1, base, base);
      // Sink positions restart with the numbering; a counter (Sparkplug's bdSeq) must keep counting.
      this.db.prepare('UPDATE cursors SET seq = 0 WHERE name NOT IN (SELECT value FROM json_each(?))').run(JSON.stringify(this.counters));
      this.db.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'readings'").run(Math.max(0, last - base));
      this.stmt.setMeta.run('epoch', epoch);
    })();
    for (const name of [...this.unsavedCursors.keys()]) if (!this.counters.includes(name)) this.unsavedCursors.delete(name);
    this.nextSeq = Math.max(0, last - base) + 1;
    // Renumbered: the newest records known in memory name old sequences; latestAfter walks afresh.
    this.forgetNewest();
    Object.assign(this.identity, { epoch, origin: 'reset', previousEpoch: previous, reason });
    delete this.identity.movedTo;
    delete this.identity.previous;
    if (this.path !== ':memory:') writeIdentityFile(this.path, { epoch, createdAt: new Date(this.opts.now()).toISOString() });
    this.opts.onWarn?.(
      `reading log ${this.path} ${reason}: started a new epoch ${epoch} (was ${previous || "''"}); its ${this.nextSeq - 1} unconfirmed readings are renumbered from 1 and sent again`,
      { file: this.path, epoch, previousEpoch: previous },
    );
    return epoch;
  }

  /** Whether writes currently fail, why, and how much the memory buffer had to drop. */
  writeState(): WriteState {
    return { ...this.write };
  }

  /** Lowest sequence still held (0 when empty): anything below was pruned (delivered) or evicted. */
  firstSeq(): number {
    return (this.stmt.firstSeq.get() as number | null) ?? 0;
  }

  lastSeq(): number {
    return this.nextSeq - 1;
  }

  onAppend(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  /** How many times an append listener threw (logged each time through onWarn). */
  listenerFailures(): number {
    return this.appendListenerFailures;
  }

  onEvict(listener: (e: EvictionReport) => void): () => void {
    this.evictListeners.add(listener);
    return () => this.evictListeners.delete(listener);
  }

  /** Prepared once per open database: `db.pragma()` prepares a statement on every call, and this runs three times a commit. */
  private sizeStmts: { db: Database.Database; size: Database.Statement } | null = null;

  private usedBytes(): number {
    if (this.sizeStmts?.db !== this.db) {
      this.sizeStmts = {
        db: this.db,
        size: this.db.prepare('SELECT (page_count - freelist_count) * page_size FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()').pluck(),
      };
    }
    return this.sizeStmts.size.get() as number;
  }

  /** The largest growth of live data one commit caused: the headroom the cap keeps free. */
  private maxCommitBytes = 0;

  private noteCommitSize(usedBefore: number): void {
    try {
      this.maxCommitBytes = Math.max(this.maxCommitBytes, this.usedBytes() - usedBefore);
    } catch {
      // only an estimate
    }
  }

  /**
   * What the live data may occupy so that everything in the file (tables, indexes, the
   * evictions record, free pages) plus the WAL stays under maxBytes: the WAL's budget and
   * room for two commits (one in the WAL, one in the file before the cap is enforced) are kept free.
   */
  private dataBudget(): number {
    const max = this.opts.maxBytes;
    return Math.max(Math.floor(max / 4), max - walBudget(max) - Math.ceil(this.maxCommitBytes * 2.2));
  }

  /**
   * Keeps the live data under its budget: acknowledged rows go first (no loss), then the
   * oldest unacknowledged ones, which are counted, recorded and reported.
   */
  private enforceCap(): void {
    try {
      const budget = this.dataBudget();
      for (let round = 0; round < 8; round++) {
        const used = this.usedBytes();
        if (used <= budget) return;
        const first = this.firstSeq();
        const last = this.lastSeq();
        if (first === 0) return;
        const rows = last - first + 1;
        // Free a little more than the excess so the cap is not hit again on the next commit.
        const excessRows = Math.ceil(((used - budget) / used) * rows + rows * 0.02);
        const upTo = Math.min(last, first + Math.max(excessRows, 1) - 1);
        // Delivered by every sink: no loss. Past the lowest cursor, rows some sink still needs.
        const acked = this.lowestCursor();
        if (acked >= first) {
          this.stmt.deleteUpTo.run(Math.min(acked, upTo));
          continue;
        }
        this.evict(first, upTo);
      }
    } catch (err) {
      this.writeFailed(err);
    }
  }

  private evict(first: number, last: number): void {
    const at = this.opts.now();
    const { count, sinks } = this.db.transaction(() => {
      // Counted before the delete: each sink loses only what lies after its own cursor.
      const perSink = this.countSinkEvictions(first, last);
      const changes = this.stmt.deleteUpTo.run(last).changes;
      this.recordEviction(first, last, changes, at);
      this.addSinkEvictions(perSink);
      return { count: changes, sinks: perSink };
    })();
    this.reportEviction({ first, last, count, at, sinks });
  }

  /**
   * Records evicted sequences, merged with any recorded range they touch or overlap: an
   * outage of any length leaves one row, not one per commit. Also counts them in evicted_total.
   */
  private recordEviction(first: number, last: number, count: number, at: number): void {
    const touching = this.stmt.touchingEvictions.all(first - 1, last + 1) as Array<{ rowid: number; first: number; last: number; count: number }>;
    let lo = first;
    let hi = last;
    let total = count;
    for (const row of touching) {
      lo = Math.min(lo, row.first);
      hi = Math.max(hi, row.last);
      total += row.count;
      this.stmt.deleteEviction.run(row.rowid);
    }
    this.stmt.addEviction.run(lo, hi, total, at);
    this.stmt.setMeta.run('evicted_total', Number(this.stmt.getMeta.get('evicted_total') ?? 0) + count);
    // Ranges every sink is past are no longer needed beyond the few the UI shows.
    this.stmt.pruneEvictions.run(this.lowestCursor(), KEEP_EVICTION_ROWS);
  }

  /** Tells listeners at once; the warning is rate-limited and says how much it summarises. */
  private reportEviction(report: EvictionReport, cause: 'cap' | 'buffer' = 'cap'): void {
    if (cause === 'buffer') {
      // Warned (rate-limited) when they were dropped; now they have sequence numbers.
      this.opts.onWarn?.(`reading log ${this.path}: ${report.count} readings dropped while writes failed are recorded as evicted sequences ${report.first}-${report.last}`, {
        ...report,
      });
      for (const listener of this.evictListeners) listener(report);
      return;
    }
    const u = this.unwarned;
    if (u.evictions === 0) u.first = report.first;
    u.evictions++;
    u.readings += report.count;
    u.last = report.last;
    const now = this.opts.monotonic();
    if (now - this.lastEvictionWarnAt >= this.opts.warnEveryMs) {
      this.lastEvictionWarnAt = now;
      this.opts.onWarn?.('log size cap reached: oldest unsent readings evicted', {
        first: u.first,
        last: u.last,
        count: u.readings,
        evictions: u.evictions,
        evictedTotal: this.evictedTotal(),
        // Which sinks lost what (totals since the log was created): the one that is down, typically.
        sinksEvicted: Object.fromEntries(this.sinkNames.map((name) => [name, this.sinkEvicted(name)])),
        maxBytes: this.opts.maxBytes,
        ...(u.evictions > 1 ? { since: 'the last warning' } : {}),
      });
      this.unwarned = { evictions: 0, readings: 0, first: 0, last: 0 };
    }
    for (const listener of this.evictListeners) listener(report);
  }

  /** Prunes acknowledged readings past their retention; runs every minute. */
  maintain(): void {
    if (this.closed) return;
    if (this.write.failing) return; // the retry timer is on it
    this.tryWrite(() => {
      // What every configured sink has delivered, past its retention.
      const acked = this.lowestCursor();
      const upTo = this.stmt.prunable.get(acked, this.opts.now() - this.opts.retainAckedMs) as number | null;
      if (upTo) this.stmt.deleteUpTo.run(upTo);
      this.stmt.pruneEvictions.run(acked, KEEP_EVICTION_ROWS);
    });
  }

  /**
   * A point's readings since `sinceTs`, oldest first (at most `limit`, the newest kept): the
   * local charts. Timestamps grow with seq, so a binary search on seq bounds the scan to the
   * recent rows instead of the whole (possibly days-long, unsent) log.
   */
  recentReadings(pointKey: string, sinceTs: number, limit = 5000): LogRecord[] {
    const slot = this.points.slotOfKey(pointKey);
    if (slot < 0) return [];
    const id = this.points.id(slot);
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

  /** Every evicted range still recorded, ascending (the record is bounded: merged, pruned once confirmed). */
  evictedRanges(): SeqRange[] {
    return (this.stmt.evictions.all(1_000_000) as EvictionReport[]).map((e) => ({ first: e.first, last: e.last })).reverse();
  }

  stats(): LogStats {
    const firstSeq = this.firstSeq();
    const lastSeq = this.lastSeq();
    const ackedSeq = this.lowestCursor();
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const oldest = this.stmt.tsOf.get(ackedSeq) as number | undefined;
    // Readings dropped while writes failed leave holes inside the held range.
    const holes = firstSeq === 0 ? 0 : (this.stmt.evictedAfter.get(firstSeq) as number);
    return {
      firstSeq,
      lastSeq,
      rows: firstSeq === 0 ? 0 : lastSeq - firstSeq + 1 - holes,
      unacked: Math.max(0, lastSeq - Math.max(ackedSeq, firstSeq - 1)),
      ackedSeq,
      sinks: this.sinkNames.map((name) => {
        const cursor = this.cursor(name);
        return { name, cursor, unacked: Math.max(0, lastSeq - Math.max(cursor, firstSeq - 1)), evicted: this.sinkEvicted(name) };
      }),
      usedBytes: this.usedBytes(),
      fileBytes: pages * pageSize + this.walBytes(),
      pending: this.pending.length,
      evictedTotal: this.evictedTotal(),
      oldestUnackedTs: oldest ?? null,
      recoveredFromCrash: this.recoveredFromCrash,
      epoch: this.identity.epoch,
      evictionRows: this.stmt.evictionRows.get() as number,
      write: this.writeState(),
    };
  }

  private walBytes(): number {
    return this.path === ':memory:' ? 0 : fileSize(`${this.path}-wal`);
  }

  /**
   * Commits what is pending and closes the database, marking the shutdown as clean. On a
   * disk that still refuses writes, what is pending cannot be kept: said loudly, with counts.
   */
  close(): void {
    if (this.closed) return;
    this.flush();
    if (this.write.failing) this.retryWrites();
    if (this.pending.length > 0 || this.droppedUnsequenced > 0) {
      this.opts.onWarn?.(
        `reading log ${this.path}: closing while writes fail (${this.write.reason}): ${this.pending.length + this.droppedUnsequenced} readings not written are lost`,
        { pending: this.pending.length, dropped: this.droppedUnsequenced },
      );
    }
    this.closed = true;
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    try {
      this.saveCursors();
      this.stmt.setMeta.run('state', 'closed');
    } catch {
      // left 'open': the next start checks the file, which is what a failed write deserves
    }
    this.db.close();
  }
}
