import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Batch } from '../codec/index.ts';
import type { LogRecord, SeqRange } from '../model.ts';
import { packValue, unpackValue, type SqlValue } from '../sqlite-value.ts';
import type { GatewayIdentity } from '../topics.ts';
import type { EpochChange, IngestSink, StoreResult } from './sink.ts';
import { rebuildCoveredSql } from './covered-rebuild.ts';

/**
 * Sequence numbers mean something only within one log epoch of a gateway (a log recreated
 * after damage restarts at 1), so readings, evicted ranges and coverage are keyed on
 * (gateway, epoch, seq). Payloads of gateways older than epochs have the epoch ''.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS readings (
  gateway TEXT NOT NULL,
  epoch TEXT NOT NULL DEFAULT '',
  seq INTEGER NOT NULL,
  point TEXT NOT NULL,
  ts INTEGER NOT NULL,
  value BLOB,
  flags INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  -- Lanes the reading arrived on: bit 1 backlog, bit 2 live (both: the live copy came first
  -- or later, and the backlog lane delivered it too). Stored once either way.
  lanes INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (gateway, epoch, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_point_ts ON readings (gateway, point, ts);
CREATE TABLE IF NOT EXISTS evicted (
  gateway TEXT NOT NULL,
  epoch TEXT NOT NULL DEFAULT '',
  first INTEGER NOT NULL,
  last INTEGER NOT NULL,
  PRIMARY KEY (gateway, epoch, first)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gateways (
  gateway TEXT PRIMARY KEY,
  region TEXT NOT NULL,
  municipality TEXT NOT NULL,
  status TEXT,
  status_json TEXT,
  status_at INTEGER,
  last_seen INTEGER,
  max_seq INTEGER NOT NULL DEFAULT 0,
  readings INTEGER NOT NULL DEFAULT 0,
  duplicates INTEGER NOT NULL DEFAULT 0,
  epoch TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS epochs (
  gateway TEXT NOT NULL,
  epoch TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  max_seq INTEGER NOT NULL DEFAULT 0,
  readings INTEGER NOT NULL DEFAULT 0,
  -- Highest sequence the backlog lane (in sequence order) has reached: holes above it, below
  -- max_seq (set by live readings), are not yet received rather than missing.
  backlog_seq INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (gateway, epoch)
) WITHOUT ROWID;
-- Sequence ranges fully accounted for (stored or reported evicted), merged: what the
-- center confirms to the gateway is the end of the range starting at 1.
CREATE TABLE IF NOT EXISTS covered (
  gateway TEXT NOT NULL,
  epoch TEXT NOT NULL,
  first INTEGER NOT NULL,
  last INTEGER NOT NULL,
  PRIMARY KEY (gateway, epoch, first)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS epoch_changes (
  id INTEGER PRIMARY KEY,
  gateway TEXT NOT NULL,
  previous_epoch TEXT NOT NULL,
  previous_last_seq INTEGER NOT NULL,
  previous_confirmed INTEGER NOT NULL,
  epoch TEXT NOT NULL,
  at INTEGER NOT NULL
);
-- Sequences a gateway could not send because its log was damaged and replaced (it told so
-- in its birth): missing for good, still counted as gaps, never silently dropped.
CREATE TABLE IF NOT EXISTS unrecoverable (
  gateway TEXT NOT NULL,
  epoch TEXT NOT NULL,
  first INTEGER NOT NULL,
  last INTEGER NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (gateway, epoch, first)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rejected (
  id INTEGER PRIMARY KEY,
  topic TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  error TEXT NOT NULL,
  payload BLOB NOT NULL
);
`;

export type { EpochChange, StoreResult } from './sink.ts';

export interface GatewaySummary {
  gateway: string;
  region: string;
  municipality: string;
  status: string | null;
  statusAt: number | null;
  lastSeen: number | null;
  /** The current log epoch, and how many the gateway has had. maxSeq, confirmed and evicted are of the current one. */
  epoch: string;
  epochs: number;
  maxSeq: number;
  /** Highest sequence of the current epoch held without a hole (what the gateway is told). */
  confirmed: number;
  readings: number;
  duplicates: number;
  evicted: number;
  /** Sequences above the backlog lane's position not yet received (live readings arrived beyond them). */
  notYetReceived: number;
}

/** Moves a store of the time before epochs to the epoch-keyed schema (its data gets epoch ''). */
function migrate(db: Database.Database): void {
  const columns = (table: string) => (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name);
  if (!columns('readings').length || columns('readings').includes('epoch')) return;
  db.transaction(() => {
    db.exec(`ALTER TABLE readings RENAME TO readings_v1; ALTER TABLE evicted RENAME TO evicted_v1;
      DROP INDEX IF EXISTS readings_point_ts;`);
    db.exec(SCHEMA);
    db.exec(`INSERT INTO readings (gateway, epoch, seq, point, ts, value, flags, received_at)
        SELECT gateway, '', seq, point, ts, value, flags, received_at FROM readings_v1;
      INSERT INTO evicted (gateway, epoch, first, last) SELECT gateway, '', first, last FROM evicted_v1;
      INSERT INTO epochs (gateway, epoch, first_seen, max_seq, readings, backlog_seq) SELECT gateway, '', coalesce(last_seen, 0), max_seq, readings, max_seq FROM gateways;
      DROP TABLE readings_v1; DROP TABLE evicted_v1;`);
    if (!columns('gateways').includes('epoch')) db.exec("ALTER TABLE gateways ADD COLUMN epoch TEXT NOT NULL DEFAULT ''");
  })();
}

const LANE_BACKLOG = 1;
/** Rows per INSERT statement of a batch (9 parameters each). */
const INSERT_CHUNK = 50;
const LANE_LIVE = 2;

/**
 * Stores from before the live lane: every reading came by the backlog lane, and the backlog
 * reached each epoch's highest sequence (nothing is "not yet received" after the upgrade).
 */
function migrateLanes(db: Database.Database): void {
  const columns = (table: string) => (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name);
  db.transaction(() => {
    if (!columns('readings').includes('lanes')) db.exec('ALTER TABLE readings ADD COLUMN lanes INTEGER NOT NULL DEFAULT 1');
    if (!columns('epochs').includes('backlog_seq')) {
      db.exec('ALTER TABLE epochs ADD COLUMN backlog_seq INTEGER NOT NULL DEFAULT 0; UPDATE epochs SET backlog_seq = max_seq');
    }
  })();
}

/** Ascending sequences as runs of consecutive ones. */
export function seqRuns(seqs: number[]): SeqRange[] {
  const runs: SeqRange[] = [];
  for (const s of seqs) {
    const last = runs[runs.length - 1];
    if (last && s === last.last + 1) last.last = s;
    else runs.push({ first: s, last: s });
  }
  return runs;
}

/**
 * The center's store. (gateway, epoch, seq) is the primary key, so a batch the uplink sent
 * twice (it resends from the center's position after every reconnect) is stored once and
 * counted as duplicate, while a log recreated after damage (a new epoch, sequences from 1
 * again) is new data, not duplicates. Commits are durable (synchronous = FULL) before the
 * ingest acknowledges anything, to the broker or to the gateway.
 */
export class IngestStore implements IngestSink {
  private readonly db: Database.Database;
  private readonly s;
  private readonly chunkParams: unknown[] = new Array(INSERT_CHUNK * 9);

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // A power cut at the center must not undo a commit that was acknowledged.
    this.db.pragma('synchronous = FULL');
    const hadCovered = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'covered'").get() !== undefined;
    migrate(this.db);
    this.db.exec(SCHEMA);
    if (!hadCovered) this.db.exec(rebuildCoveredSql({ readings: 'readings', evicted: 'evicted', covered: 'covered' }));
    // The last birth (point metadata: units, types) survives the offline status that follows it.
    const gatewayColumns = (this.db.prepare('PRAGMA table_info(gateways)').all() as Array<{ name: string }>).map((c) => c.name);
    if (!gatewayColumns.includes('birth_json')) this.db.exec('ALTER TABLE gateways ADD COLUMN birth_json TEXT');
    migrateLanes(this.db);
    const db = this.db;
    this.s = {
      insert: db.prepare(
        'INSERT OR IGNORE INTO readings (gateway, epoch, seq, point, ts, value, flags, received_at, lanes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      insertChunk: db.prepare(
        `INSERT OR IGNORE INTO readings (gateway, epoch, seq, point, ts, value, flags, received_at, lanes) VALUES ${Array(INSERT_CHUNK).fill('(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      ),
      // Already stored: the first copy from the other lane is not a duplicate, only marked.
      crossLane: db.prepare('UPDATE readings SET lanes = lanes | ? WHERE gateway = ? AND epoch = ? AND seq = ? AND (lanes & ?) = 0'),
      backlogSeq: db.prepare('UPDATE epochs SET backlog_seq = max(backlog_seq, ?) WHERE gateway = ? AND epoch = ?'),
      backlogSeqOf: db.prepare('SELECT backlog_seq FROM epochs WHERE gateway = ? AND epoch = ?').pluck(),
      // The covered range holding sequence ? (ranges are merged, so at most one; the newest start at or below it).
      coveredEnd: db.prepare('SELECT last FROM covered WHERE gateway = ? AND epoch = ? AND first <= ? ORDER BY first DESC LIMIT 1').pluck(),
      liveSeqs: db.prepare('SELECT seq FROM readings WHERE gateway = ? AND epoch = ? AND (lanes & 2) != 0 ORDER BY seq').pluck(),
      // A batch resent from the gateway's cursor (its PUBACK was lost) reports the evicted range
      // from the same first sequence, grown by what was evicted since: keep the larger one.
      evicted: db.prepare(
        'INSERT INTO evicted (gateway, epoch, first, last) VALUES (?, ?, ?, ?) ON CONFLICT(gateway, epoch, first) DO UPDATE SET last = max(last, excluded.last)',
      ),
      overlappingEvicted: db.prepare('SELECT first, last FROM evicted WHERE gateway = ? AND epoch = ? AND last >= ? AND first <= ? ORDER BY first'),
      deleteEvicted: db.prepare('DELETE FROM evicted WHERE gateway = ? AND epoch = ? AND first = ?'),
      storedIn: db.prepare('SELECT seq FROM readings WHERE gateway = ? AND epoch = ? AND seq BETWEEN ? AND ? ORDER BY seq').pluck(),
      upsertGateway: db.prepare(`INSERT INTO gateways (gateway, region, municipality, last_seen) VALUES (@gateway, @region, @municipality, @now)
        ON CONFLICT(gateway) DO UPDATE SET region = excluded.region, municipality = excluded.municipality, last_seen = excluded.last_seen`),
      currentEpoch: db.prepare('SELECT epoch FROM gateways WHERE gateway = ?').pluck(),
      setEpoch: db.prepare('UPDATE gateways SET epoch = ?, max_seq = 0 WHERE gateway = ?'),
      epochRow: db.prepare('SELECT max_seq AS maxSeq, readings FROM epochs WHERE gateway = ? AND epoch = ?'),
      addEpoch: db.prepare('INSERT INTO epochs (gateway, epoch, first_seen) VALUES (?, ?, ?)'),
      countEpoch: db.prepare('UPDATE epochs SET readings = readings + ?, max_seq = max(max_seq, ?) WHERE gateway = ? AND epoch = ?'),
      epochCount: db.prepare('SELECT count(*) FROM epochs WHERE gateway = ?').pluck(),
      addChange: db.prepare(
        'INSERT INTO epoch_changes (gateway, previous_epoch, previous_last_seq, previous_confirmed, epoch, at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      changes: db.prepare(
        'SELECT gateway, previous_epoch AS previousEpoch, previous_last_seq AS previousLastSeq, previous_confirmed AS previousConfirmed, epoch, at FROM epoch_changes WHERE gateway = ? ORDER BY id',
      ),
      count: db.prepare('UPDATE gateways SET readings = readings + ?, duplicates = duplicates + ? WHERE gateway = ?'),
      countMax: db.prepare('UPDATE gateways SET max_seq = max(max_seq, ?) WHERE gateway = ?'),
      touchingCovered: db.prepare('SELECT first, last FROM covered WHERE gateway = ? AND epoch = ? AND last >= ? AND first <= ?'),
      deleteCovered: db.prepare('DELETE FROM covered WHERE gateway = ? AND epoch = ? AND first = ?'),
      addCovered: db.prepare('INSERT INTO covered (gateway, epoch, first, last) VALUES (?, ?, ?, ?)'),
      confirmed: db.prepare('SELECT last FROM covered WHERE gateway = ? AND epoch = ? AND first = 1').pluck(),
      status: db.prepare(`INSERT INTO gateways (gateway, region, municipality, status, status_json, status_at, birth_json)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(gateway) DO UPDATE SET status = excluded.status, status_json = excluded.status_json, status_at = excluded.status_at,
          birth_json = coalesce(excluded.birth_json, gateways.birth_json)`),
      birth: db.prepare('SELECT birth_json FROM gateways WHERE gateway = ?').pluck(),
      reject: db.prepare('INSERT INTO rejected (topic, received_at, error, payload) VALUES (?, ?, ?, ?)'),
      holes: db.prepare(`SELECT seq + 1 AS first, next - 1 AS last FROM (
          SELECT seq, lead(seq) OVER (ORDER BY seq) AS next FROM readings WHERE gateway = ? AND epoch = ?
        ) WHERE next > seq + 1`),
      minSeq: db.prepare('SELECT min(seq) FROM readings WHERE gateway = ? AND epoch = ?').pluck(),
      maxStored: db.prepare('SELECT max(seq) FROM readings WHERE gateway = ? AND epoch = ?').pluck(),
      evictedRanges: db.prepare('SELECT first, last FROM evicted WHERE gateway = ? AND epoch = ? ORDER BY first'),
      summaries: db.prepare('SELECT * FROM gateways ORDER BY gateway'),
      seqs: db.prepare('SELECT seq FROM readings WHERE gateway = ? AND epoch = ? ORDER BY seq').pluck(),
      readingsOf: db.prepare('SELECT seq, point, ts, value, flags FROM readings WHERE gateway = ? AND epoch = ? AND seq > ? ORDER BY seq LIMIT ?'),
      latest: db.prepare(`SELECT r.point, r.ts, r.value, r.flags, r.seq FROM readings r
        JOIN (SELECT point, max(seq) AS seq FROM readings WHERE gateway = ? AND epoch = ? GROUP BY point) l ON r.seq = l.seq
        WHERE r.gateway = ? AND r.epoch = ? ORDER BY r.point`),
      rejectedCount: db.prepare('SELECT count(*) FROM rejected').pluck(),
      unrecoverableOf: db.prepare('SELECT first, last FROM unrecoverable WHERE gateway = ? AND epoch = ? ORDER BY first'),
      overlappingUnrecoverable: db.prepare('SELECT first, last, at FROM unrecoverable WHERE gateway = ? AND epoch = ? AND last >= ? AND first <= ?'),
      deleteUnrecoverable: db.prepare('DELETE FROM unrecoverable WHERE gateway = ? AND epoch = ? AND first = ?'),
      addUnrecoverable: db.prepare('INSERT OR IGNORE INTO unrecoverable (gateway, epoch, first, last, at) VALUES (?, ?, ?, ?, ?)'),
    };
  }

  /**
   * Stores a decoded batch in one durable transaction; tells the highest sequence of its epoch
   * the center now holds without a hole (`confirmed`), and an epoch change when the batch is
   * the first of a new epoch of a gateway that had data in another one.
   */
  storeBatch(id: GatewayIdentity, batch: Batch, now = Date.now()): StoreResult {
    const epoch = batch.epoch ?? '';
    return this.db.transaction((): StoreResult => {
      this.s.upsertGateway.run({ gateway: id.gateway, region: id.region, municipality: id.municipality, now });
      const current = this.s.currentEpoch.get(id.gateway) as string;
      let row = this.s.epochRow.get(id.gateway, epoch) as { maxSeq: number; readings: number } | undefined;
      let epochChange: EpochChange | undefined;
      if (!row) {
        const previous = this.s.epochRow.get(id.gateway, current) as { maxSeq: number; readings: number } | undefined;
        this.s.addEpoch.run(id.gateway, epoch, now);
        if (previous && previous.maxSeq > 0) {
          epochChange = {
            gateway: id.gateway,
            previousEpoch: current,
            previousLastSeq: previous.maxSeq,
            previousConfirmed: this.confirmed(id.gateway, current),
            epoch,
            at: now,
          };
          this.s.addChange.run(id.gateway, current, previous.maxSeq, epochChange.previousConfirmed, epoch, now);
        }
        // A new epoch becomes the gateway's current one; a late batch of an old one does not.
        if (epoch !== current) this.s.setEpoch.run(epoch, id.gateway);
        row = { maxSeq: 0, readings: 0 };
      }
      // Where the backlog lane stood (live readings beyond it do not move it), carried over what
      // is covered right after it: after live-first the lanes merge and the gateway's backlog
      // resumes behind the live run the center holds already. The consumer's gap check
      // compares a backlog batch's first sequence with it, so only a real hole is a gap.
      const previousMax = this.backlogReach(id.gateway, epoch);
      let inserted = 0;
      const lane = batch.live ? LANE_LIVE : LANE_BACKLOG;
      let crossed = 0;
      const rs = batch.readings;
      // INSERT_CHUNK rows per statement (one native call and one bound array per chunk, as the
      // gateway's log does). A chunk that did not insert every row held copies already stored:
      // each of its rows may be the first copy from the other lane, so each is marked; a row
      // this chunk just inserted carries the lane already and is left as it is.
      let i = 0;
      const params = this.chunkParams;
      for (; i + INSERT_CHUNK <= rs.length; i += INSERT_CHUNK) {
        let k = 0;
        for (let j = i; j < i + INSERT_CHUNK; j++) {
          const r = rs[j]!;
          const { value, flags } = packValue(r.value, r.quality);
          params[k++] = id.gateway;
          params[k++] = epoch;
          params[k++] = r.seq;
          params[k++] = r.point;
          params[k++] = r.ts;
          params[k++] = value;
          params[k++] = flags;
          params[k++] = now;
          params[k++] = lane;
        }
        const added = this.s.insertChunk.run(params).changes;
        inserted += added;
        if (added < INSERT_CHUNK) for (let j = i; j < i + INSERT_CHUNK; j++) crossed += this.s.crossLane.run(lane, id.gateway, epoch, rs[j]!.seq, lane).changes;
      }
      for (; i < rs.length; i++) {
        const r = rs[i]!;
        const { value, flags } = packValue(r.value, r.quality);
        const added = this.s.insert.run(id.gateway, epoch, r.seq, r.point, r.ts, value, flags, now, lane).changes;
        inserted += added;
        if (added === 0) crossed += this.s.crossLane.run(lane, id.gateway, epoch, r.seq, lane).changes;
      }
      // A reading that arrives inside a range recorded evicted is real after all: re-clip that range.
      if (batch.readings.length > 0) {
        const lo = batch.readings[0]!.seq;
        const hi = batch.readings[batch.readings.length - 1]!.seq;
        for (const e of this.s.overlappingEvicted.all(id.gateway, epoch, lo, hi) as SeqRange[]) {
          this.s.deleteEvicted.run(id.gateway, epoch, e.first);
          this.recordEvicted(id.gateway, epoch, e);
        }
        // Likewise a range recorded unrecoverable (a damaged log) that a broker still delivers.
        for (const u of this.s.overlappingUnrecoverable.all(id.gateway, epoch, lo, hi) as Array<SeqRange & { at: number }>) {
          this.s.deleteUnrecoverable.run(id.gateway, epoch, u.first);
          const held = this.s.storedIn.all(id.gateway, epoch, u.first, u.last) as number[];
          const rest = subtractRanges([u], held.map((s) => ({ first: s, last: s })));
          for (const r of rest) this.s.addUnrecoverable.run(id.gateway, epoch, r.first, r.last, u.at);
        }
      }
      for (const e of batch.evicted) this.recordEvicted(id.gateway, epoch, e);
      const duplicates = batch.readings.length - inserted - crossed;
      this.s.count.run(inserted, duplicates, id.gateway);
      this.s.countEpoch.run(inserted, batch.last, id.gateway, epoch);
      if (!batch.live) this.s.backlogSeq.run(batch.last, id.gateway, epoch);
      if ((this.s.currentEpoch.get(id.gateway) as string) === epoch) this.s.countMax.run(batch.last, id.gateway);
      // Every sequence of first..last is now a stored reading or inside a reported evicted range.
      // A live batch covers only its own sequences: a hole between them stays a hole, so the
      // confirmation never jumps over what the backlog lane has yet to bring.
      if (batch.live) for (const run of seqRuns(batch.readings.map((r) => r.seq))) this.cover(id.gateway, epoch, run.first, run.last);
      else this.cover(id.gateway, epoch, batch.first, batch.last);
      return { inserted, duplicates, previousMax, epoch, confirmed: this.confirmed(id.gateway, epoch), ...(epochChange ? { epochChange } : {}) };
    })();
  }

  /**
   * Records a range the gateway reports evicted, minus what the center holds: in center ack
   * mode a gateway may evict readings the center stored but had not yet confirmed (the
   * confirmation was lost with the link). Merged with the evicted ranges it touches, so
   * recorded ranges never overlap each other or a stored reading.
   */
  private recordEvicted(gateway: string, epoch: string, e: SeqRange): void {
    const parts: SeqRange[] = [];
    let from = e.first;
    for (const seq of this.s.storedIn.all(gateway, epoch, e.first, e.last) as number[]) {
      if (seq > from) parts.push({ first: from, last: seq - 1 });
      from = seq + 1;
    }
    if (from <= e.last) parts.push({ first: from, last: e.last });
    for (const p of parts) {
      let lo = p.first;
      let hi = p.last;
      for (const r of this.s.overlappingEvicted.all(gateway, epoch, p.first - 1, p.last + 1) as SeqRange[]) {
        lo = Math.min(lo, r.first);
        hi = Math.max(hi, r.last);
        this.s.deleteEvicted.run(gateway, epoch, r.first);
      }
      this.s.evicted.run(gateway, epoch, lo, hi);
    }
  }

  private cover(gateway: string, epoch: string, first: number, last: number): void {
    let lo = first;
    let hi = last;
    for (const r of this.s.touchingCovered.all(gateway, epoch, first - 1, last + 1) as SeqRange[]) {
      lo = Math.min(lo, r.first);
      hi = Math.max(hi, r.last);
      this.s.deleteCovered.run(gateway, epoch, r.first);
    }
    this.s.addCovered.run(gateway, epoch, lo, hi);
  }

  /** Highest sequence n of the epoch such that 1..n are all stored or reported evicted (0: none). */
  confirmed(gateway: string, epoch = this.epochOf(gateway)): number {
    return (this.s.confirmed.get(gateway, epoch) as number | undefined) ?? 0;
  }

  /** The gateway's current log epoch ('' for a gateway older than epochs, or unknown). */
  epochOf(gateway: string): string {
    return (this.s.currentEpoch.get(gateway) as string | undefined) ?? '';
  }

  /** Every epoch change of a gateway, oldest first, with what the center held of the old epoch. */
  epochChanges(gateway: string): EpochChange[] {
    return this.s.changes.all(gateway) as EpochChange[];
  }

  /**
   * A gateway replaced a damaged log: (confirmed..lastSeq] of `epoch` stayed in the old file.
   * What of it the center does not hold becomes missing (the epoch reaches lastSeq, so gaps()
   * shows it) and is recorded unrecoverable. Idempotent: the birth is retained and repeated.
   */
  recordUnrecoverable(gateway: string, epoch: string, confirmed: number, lastSeq: number, now = Date.now()): SeqRange[] {
    if (lastSeq <= confirmed) return [];
    return this.db.transaction((): SeqRange[] => {
      if (!this.s.epochRow.get(gateway, epoch)) this.s.addEpoch.run(gateway, epoch, now);
      this.s.countEpoch.run(0, lastSeq, gateway, epoch);
      // Never coming by the backlog lane either: missing, not "not yet received".
      this.s.backlogSeq.run(lastSeq, gateway, epoch);
      if ((this.s.currentEpoch.get(gateway) as string | undefined) === epoch) this.s.countMax.run(lastSeq, gateway);
      const held = this.s.touchingCovered.all(gateway, epoch, confirmed + 1, lastSeq) as SeqRange[];
      const known = this.s.unrecoverableOf.all(gateway, epoch) as SeqRange[];
      const fresh = subtractRanges(subtractRanges([{ first: confirmed + 1, last: lastSeq }], held), known);
      for (const f of fresh) this.s.addUnrecoverable.run(gateway, epoch, f.first, f.last, now);
      return fresh;
    })();
  }

  /** Ranges of an epoch the gateway reported lost with a damaged log. */
  unrecoverableRanges(gateway: string, epoch: string): SeqRange[] {
    return this.s.unrecoverableOf.all(gateway, epoch) as SeqRange[];
  }

  recordStatus(id: GatewayIdentity, status: string, json: string, now = Date.now()): void {
    this.s.status.run(id.gateway, id.region, id.municipality, status, json, now, status === 'online' ? json : null);
  }

  /** The gateway's last birth message (its points with unit, type, name), kept while it is offline. */
  lastBirth(gateway: string): Record<string, unknown> | undefined {
    const json = this.s.birth.get(gateway) as string | null | undefined;
    return json ? (JSON.parse(json) as Record<string, unknown>) : undefined;
  }

  /** Keeps what could not be decoded, with the reason, so nothing is lost on the way in. */
  reject(topic: string, payload: Buffer, error: string, now = Date.now()): void {
    this.s.reject.run(topic, now, error, payload);
  }

  rejectedCount(): number {
    return this.s.rejectedCount.get() as number;
  }

  /**
   * Sequence ranges of a gateway that are neither stored nor reported evicted, between 1 and
   * the position the backlog lane has reached, within one epoch (default: the gateway's
   * current one): data lost on the way (or being resent). Holes above that position, below
   * live readings, are notYetReceived(), not gaps.
   */
  gaps(gateway: string, epoch = this.epochOf(gateway)): SeqRange[] {
    const backlog = this.backlogSeq(gateway, epoch);
    return this.holes(gateway, epoch).flatMap((h) => (h.first > backlog ? [] : [{ first: h.first, last: Math.min(h.last, backlog) }]));
  }

  /**
   * Holes above the backlog lane's position, below the newest live reading: sequences the
   * gateway logged and the backlog lane has yet to bring (not lost, not evicted).
   */
  notYetReceived(gateway: string, epoch = this.epochOf(gateway)): SeqRange[] {
    const backlog = this.backlogSeq(gateway, epoch);
    return this.holes(gateway, epoch).flatMap((h) => (h.last <= backlog ? [] : [{ first: Math.max(h.first, backlog + 1), last: h.last }]));
  }

  /**
   * The backlog lane's position carried to the end of the covered run (stored or reported
   * evicted, by either lane) that continues it: the next backlog batch starting right after
   * is no gap. Between backlogSeq and it there is no hole, so gaps() is the same either way.
   */
  backlogReach(gateway: string, epoch = this.epochOf(gateway)): number {
    const backlog = this.backlogSeq(gateway, epoch);
    const end = this.s.coveredEnd.get(gateway, epoch, backlog + 1) as number | undefined;
    return end !== undefined && end > backlog ? end : backlog;
  }

  /** Highest sequence of the epoch a backlog batch (or a recorded unrecoverable range) has reached. */
  backlogSeq(gateway: string, epoch = this.epochOf(gateway)): number {
    return (this.s.backlogSeqOf.get(gateway, epoch) as number | undefined) ?? 0;
  }

  /** Stored sequences that arrived on the live lane (whether or not the backlog delivered them too). */
  liveSequences(gateway: string, epoch = this.epochOf(gateway)): number[] {
    return this.s.liveSeqs.all(gateway, epoch) as number[];
  }

  private holes(gateway: string, epoch: string): SeqRange[] {
    const holes: SeqRange[] = [];
    const min = this.s.minSeq.get(gateway, epoch) as number | null;
    const maxSeq = (this.s.epochRow.get(gateway, epoch) as { maxSeq: number } | undefined)?.maxSeq ?? 0;
    if (min === null) {
      if (maxSeq > 0) holes.push({ first: 1, last: maxSeq });
    } else {
      if (min > 1) holes.push({ first: 1, last: min - 1 });
      holes.push(...(this.s.holes.all(gateway, epoch) as SeqRange[]));
      // After the newest stored reading, up to the highest sequence a batch reported (a batch
      // may end in, or consist of, evicted ranges).
      const maxStored = this.s.maxStored.get(gateway, epoch) as number;
      if (maxSeq > maxStored) holes.push({ first: maxStored + 1, last: maxSeq });
    }
    return subtractRanges(holes, this.s.evictedRanges.all(gateway, epoch) as SeqRange[]);
  }

  evictedRanges(gateway: string, epoch = this.epochOf(gateway)): SeqRange[] {
    return this.s.evictedRanges.all(gateway, epoch) as SeqRange[];
  }

  summaries(): GatewaySummary[] {
    const rows = this.s.summaries.all() as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      gateway: r.gateway as string,
      region: r.region as string,
      municipality: r.municipality as string,
      status: (r.status as string | null) ?? null,
      statusAt: (r.status_at as number | null) ?? null,
      lastSeen: (r.last_seen as number | null) ?? null,
      epoch: r.epoch as string,
      epochs: this.s.epochCount.get(r.gateway) as number,
      maxSeq: r.max_seq as number,
      confirmed: this.confirmed(r.gateway as string, r.epoch as string),
      readings: r.readings as number,
      duplicates: r.duplicates as number,
      evicted: this.evictedRanges(r.gateway as string, r.epoch as string).reduce((n, e) => n + e.last - e.first + 1, 0),
      notYetReceived: this.notYetReceived(r.gateway as string, r.epoch as string).reduce((n, e) => n + e.last - e.first + 1, 0),
    }));
  }

  /** Every stored sequence of a gateway's epoch (default: the current one), in order (for audits and tests). */
  sequences(gateway: string, epoch = this.epochOf(gateway)): number[] {
    return this.s.seqs.all(gateway, epoch) as number[];
  }

  readings(gateway: string, afterSeq = 0, limit = 1000, epoch = this.epochOf(gateway)): LogRecord[] {
    return (this.s.readingsOf.all(gateway, epoch, afterSeq, limit) as Array<Row>).map(toRecord);
  }

  /** The newest reading of every point of a gateway (its current epoch). */
  latest(gateway: string, epoch = this.epochOf(gateway)): LogRecord[] {
    return (this.s.latest.all(gateway, epoch, gateway, epoch) as Array<Row>).map(toRecord);
  }

  close(): void {
    this.db.close();
  }
}

type Row = { seq: number; point: string; ts: number; value: SqlValue; flags: number };

function toRecord(r: Row): LogRecord {
  const { value, quality } = unpackValue(r.value, r.flags);
  return { seq: r.seq, point: r.point, ts: r.ts, value, quality };
}

/** Removes the `cut` ranges from sorted, disjoint `ranges`. */
export function subtractRanges(ranges: SeqRange[], cut: SeqRange[]): SeqRange[] {
  let out = ranges;
  for (const c of cut) {
    const next: SeqRange[] = [];
    for (const r of out) {
      if (c.last < r.first || c.first > r.last) {
        next.push(r);
        continue;
      }
      if (c.first > r.first) next.push({ first: r.first, last: c.first - 1 });
      if (c.last < r.last) next.push({ first: c.last + 1, last: r.last });
    }
    out = next;
  }
  return out;
}
