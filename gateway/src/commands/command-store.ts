import Database from 'better-sqlite3';
import type { CommandResponse } from '@kedge/cloud-sync/downlink/envelope.ts';

/** How long answered command ids are remembered: far beyond the longest acceptance window (1 h + 5 min skew). */
export const KEEP_MS = 24 * 3_600_000;
/** At most this many answers are kept (a few KB each for a config command: at most some tens of MB). */
export const MAX_ENTRIES = 10_000;

export interface CommandStoreOptions {
  keepMs?: number;
  maxEntries?: number;
  /** Wall clock (ms since the epoch); default Date.now. */
  now?: () => number;
  /** Monotonic clock (ms, any origin, restarts with the process); default performance.now. */
  mono?: () => number;
}

/**
 * Answered command ids with their answer, in `<dataDir>/commands.db`: a command delivered
 * twice (QoS 1 redelivery, a center retry) is answered again without acting twice, across
 * restarts. Kept apart from the reading log so that neither schema depends on the other.
 *
 * Bounded in time (KEEP_MS) and in count (MAX_ENTRIES). An id is never forgotten while its
 * command could still pass the freshness check (the acceptance window): when the store is full
 * of such ids, hasRoom() says no and the executor refuses new commands (`overloaded`) rather
 * than evicting an id that could then be replayed.
 *
 * "Old" is not decided by the wall clock alone, which spoofed NTP or an RTC-less boot can
 * push a day ahead and then back: an id is forgotten only when all three say so — its answer
 * is older than the horizon on the wall clock, its command's `ts` is older than the horizon
 * before the newest `ts` ever accepted (persisted: it moves only with signed commands, not
 * with the box's clock), and the horizon has passed on the monotonic clock since this process
 * saw it (ids read from disk count as seen at open). A clock pushed ahead across a restart
 * therefore forgets nothing, and the commands captured before stay answered once it is set back.
 */
export class CommandStore {
  private readonly db: Database.Database;
  private readonly getStmt: Database.Statement<[string], { response: string }>;
  private readonly putStmt: Database.Statement<[string, string, number, number, string]>;
  private readonly countStmt: Database.Statement<[], { n: number }>;
  private readonly candidatesStmt: Database.Statement<[number, number], { id: string }>;
  private readonly deleteStmt: Database.Statement<[string]>;
  private readonly highWaterStmt: Database.Statement<[], { v: number | null }>;
  private readonly raiseStmt: Database.Statement<[number]>;
  private readonly keepMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly mono: () => number;
  /** When this process opened the store: every id on disk counts as seen then. */
  private readonly openedAt: number;
  /** Monotonic time each id was seen by this process (those answered since open). */
  private readonly seenAt = new Map<string, number>();

  constructor(path: string, o: CommandStoreOptions = {}) {
    this.keepMs = o.keepMs ?? KEEP_MS;
    this.maxEntries = o.maxEntries ?? MAX_ENTRIES;
    this.now = o.now ?? Date.now;
    this.mono = o.mono ?? (() => performance.now());
    this.openedAt = this.mono();
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS commands (
      id TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      answered_at INTEGER NOT NULL,
      response TEXT NOT NULL
    )`);
    // Stores from before issued_at: their answer time stands in for the command's ts.
    const columns = this.db.prepare<[], { name: string }>('PRAGMA table_info(commands)').all();
    if (!columns.some((c) => c.name === 'issued_at')) {
      this.db.exec('ALTER TABLE commands ADD COLUMN issued_at INTEGER; UPDATE commands SET issued_at = answered_at');
    }
    this.db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)');
    this.db.exec("INSERT OR IGNORE INTO meta (key, value) SELECT 'max_issued_at', MAX(issued_at) FROM commands HAVING MAX(issued_at) IS NOT NULL");
    this.getStmt = this.db.prepare('SELECT response FROM commands WHERE id = ?');
    this.putStmt = this.db.prepare('INSERT OR IGNORE INTO commands (id, kind, answered_at, issued_at, response) VALUES (?, ?, ?, ?, ?)');
    this.db.exec('CREATE INDEX IF NOT EXISTS commands_answered_at ON commands (answered_at)');
    this.countStmt = this.db.prepare('SELECT COUNT(*) AS n FROM commands');
    this.candidatesStmt = this.db.prepare('SELECT id FROM commands WHERE answered_at < ? AND issued_at < ? ORDER BY answered_at');
    this.deleteStmt = this.db.prepare('DELETE FROM commands WHERE id = ?');
    this.highWaterStmt = this.db.prepare("SELECT value AS v FROM meta WHERE key = 'max_issued_at'");
    this.raiseStmt = this.db.prepare(
      "INSERT INTO meta (key, value) VALUES ('max_issued_at', ?) ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)",
    );
  }

  /** The newest command ts this store ever accepted (null: none yet). */
  get highestIssuedAt(): number | null {
    return this.highWaterStmt.get()?.v ?? null;
  }

  /**
   * Forgets up to `limit` ids that are older than `horizonMs` on all three clocks (see the
   * class comment), oldest answers first; returns how many. `incoming`: the ts of the signed,
   * fresh command waiting for room (it counts as accepted, or a full store could never move on).
   */
  private forget(horizonMs: number, limit: number, incoming: number): number {
    const mono = this.mono();
    // Nothing on disk is older than the process on the monotonic clock.
    if (mono - this.openedAt <= horizonMs) return 0;
    const highest = Math.max(this.highestIssuedAt ?? incoming, incoming);
    let n = 0;
    for (const { id } of this.candidatesStmt.all(this.now() - horizonMs, highest - horizonMs)) {
      if (n >= limit) break;
      if (mono - (this.seenAt.get(id) ?? this.openedAt) <= horizonMs) continue;
      this.deleteStmt.run(id);
      this.seenAt.delete(id);
      n++;
    }
    return n;
  }

  answerOf(id: string): CommandResponse | null {
    const row = this.getStmt.get(id);
    return row ? (JSON.parse(row.response) as CommandResponse) : null;
  }

  get size(): number {
    return this.countStmt.get()!.n;
  }

  /**
   * Makes room for one more answer: drops answers older than KEEP_MS, then, when still full,
   * the oldest answers older than `windowMs` (their commands are stale by now, so forgetting
   * them lets no replay through), "older" on all three clocks. False when the store is full of
   * ids that are still inside the window. `issuedAt`: the signed ts of the command asking.
   */
  hasRoom(windowMs: number, issuedAt: number): boolean {
    this.forget(this.keepMs, Number.MAX_SAFE_INTEGER, issuedAt);
    const excess = this.size - this.maxEntries + 1;
    if (excess <= 0) return true;
    this.forget(windowMs, excess, issuedAt);
    return this.size < this.maxEntries;
  }

  /** `issuedAt`: the command's signed `ts` (the newest one accepted bounds what may be forgotten). */
  remember(id: string, kind: string, response: CommandResponse, issuedAt: number): void {
    this.db.transaction(() => {
      this.putStmt.run(id, kind, this.now(), issuedAt, JSON.stringify(response));
      this.raiseStmt.run(issuedAt);
    })();
    this.seenAt.set(id, this.mono());
  }

  close(): void {
    this.db.close();
  }
}
