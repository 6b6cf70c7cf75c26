import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Batch } from '../codec/index.ts';
import type { LogRecord, SeqRange } from '../model.ts';
import { packValue, unpackValue, type SqlValue } from '../sqlite-value.ts';
import type { GatewayIdentity } from '../topics.ts';
import type { IngestSink, StoreResult } from './sink.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS readings (
  gateway TEXT NOT NULL,
  seq INTEGER NOT NULL,
  point TEXT NOT NULL,
  ts INTEGER NOT NULL,
  value BLOB,
  flags INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (gateway, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_point_ts ON readings (gateway, point, ts);
CREATE TABLE IF NOT EXISTS evicted (
  gateway TEXT NOT NULL,
  first INTEGER NOT NULL,
  last INTEGER NOT NULL,
  PRIMARY KEY (gateway, first)
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
  duplicates INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS rejected (
  id INTEGER PRIMARY KEY,
  topic TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  error TEXT NOT NULL,
  payload BLOB NOT NULL
);
`;

export type { StoreResult } from './sink.ts';

export interface GatewaySummary {
  gateway: string;
  region: string;
  municipality: string;
  status: string | null;
  statusAt: number | null;
  lastSeen: number | null;
  maxSeq: number;
  readings: number;
  duplicates: number;
  evicted: number;
}

/**
 * The center's store. (gateway, seq) is the primary key, so a batch the uplink sent twice
 * (it resends from its cursor after every reconnect) is stored once and counted as duplicate.
 */
export class IngestStore implements IngestSink {
  private readonly db: Database.Database;
  private readonly s;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    const db = this.db;
    this.s = {
      insert: db.prepare(
        'INSERT OR IGNORE INTO readings (gateway, seq, point, ts, value, flags, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      // A batch resent from the gateway's cursor (its PUBACK was lost) reports the evicted range
      // from the same first sequence, grown by what was evicted since: keep the larger one.
      evicted: db.prepare(
        'INSERT INTO evicted (gateway, first, last) VALUES (?, ?, ?) ON CONFLICT(gateway, first) DO UPDATE SET last = max(last, excluded.last)',
      ),
      upsertGateway: db.prepare(`INSERT INTO gateways (gateway, region, municipality, last_seen) VALUES (@gateway, @region, @municipality, @now)
        ON CONFLICT(gateway) DO UPDATE SET region = excluded.region, municipality = excluded.municipality, last_seen = excluded.last_seen`),
      maxSeq: db.prepare('SELECT max_seq FROM gateways WHERE gateway = ?').pluck(),
      count: db.prepare(
        'UPDATE gateways SET readings = readings + ?, duplicates = duplicates + ?, max_seq = max(max_seq, ?) WHERE gateway = ?',
      ),
      status: db.prepare(`INSERT INTO gateways (gateway, region, municipality, status, status_json, status_at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT(gateway) DO UPDATE SET status = excluded.status, status_json = excluded.status_json, status_at = excluded.status_at`),
      reject: db.prepare('INSERT INTO rejected (topic, received_at, error, payload) VALUES (?, ?, ?, ?)'),
      holes: db.prepare(`SELECT seq + 1 AS first, next - 1 AS last FROM (
          SELECT seq, lead(seq) OVER (ORDER BY seq) AS next FROM readings WHERE gateway = ?
        ) WHERE next > seq + 1`),
      minSeq: db.prepare('SELECT min(seq) FROM readings WHERE gateway = ?').pluck(),
      maxStored: db.prepare('SELECT max(seq) FROM readings WHERE gateway = ?').pluck(),
      evictedRanges: db.prepare('SELECT first, last FROM evicted WHERE gateway = ? ORDER BY first'),
      summaries: db.prepare('SELECT * FROM gateways ORDER BY gateway'),
      seqs: db.prepare('SELECT seq FROM readings WHERE gateway = ? ORDER BY seq').pluck(),
      readingsOf: db.prepare('SELECT seq, point, ts, value, flags FROM readings WHERE gateway = ? AND seq > ? ORDER BY seq LIMIT ?'),
      latest: db.prepare(`SELECT r.point, r.ts, r.value, r.flags, r.seq FROM readings r
        JOIN (SELECT point, max(seq) AS seq FROM readings WHERE gateway = ? GROUP BY point) l ON r.seq = l.seq
        WHERE r.gateway = ? ORDER BY r.point`),
      rejectedCount: db.prepare('SELECT count(*) FROM rejected').pluck(),
    };
  }

  /** Stores a decoded batch in one transaction. */
  storeBatch(id: GatewayIdentity, batch: Batch, now = Date.now()): StoreResult {
    return this.db.transaction((): StoreResult => {
      this.s.upsertGateway.run({ gateway: id.gateway, region: id.region, municipality: id.municipality, now });
      const previousMax = (this.s.maxSeq.get(id.gateway) as number | undefined) ?? 0;
      let inserted = 0;
      for (const r of batch.readings) {
        const { value, flags } = packValue(r.value, r.quality);
        inserted += this.s.insert.run(id.gateway, r.seq, r.point, r.ts, value, flags, now).changes;
      }
      for (const e of batch.evicted) this.s.evicted.run(id.gateway, e.first, e.last);
      const duplicates = batch.readings.length - inserted;
      this.s.count.run(inserted, duplicates, batch.last, id.gateway);
      return { inserted, duplicates, previousMax };
    })();
  }

  recordStatus(id: GatewayIdentity, status: string, json: string, now = Date.now()): void {
    this.s.status.run(id.gateway, id.region, id.municipality, status, json, now);
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
   * the highest sequence seen: data lost on the way (or still on its way).
   */
  gaps(gateway: string): SeqRange[] {
    const holes: SeqRange[] = [];
    const min = this.s.minSeq.get(gateway) as number | null;
    const maxSeq = (this.s.maxSeq.get(gateway) as number | undefined) ?? 0;
    if (min === null) {
      if (maxSeq > 0) holes.push({ first: 1, last: maxSeq });
    } else {
      if (min > 1) holes.push({ first: 1, last: min - 1 });
      holes.push(...(this.s.holes.all(gateway) as SeqRange[]));
      // After the newest stored reading, up to the highest sequence a batch reported (a batch
      // may end in, or consist of, evicted ranges).
      const maxStored = this.s.maxStored.get(gateway) as number;
      if (maxSeq > maxStored) holes.push({ first: maxStored + 1, last: maxSeq });
    }
    return subtractRanges(holes, this.s.evictedRanges.all(gateway) as SeqRange[]);
  }

  evictedRanges(gateway: string): SeqRange[] {
    return this.s.evictedRanges.all(gateway) as SeqRange[];
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
      maxSeq: r.max_seq as number,
      readings: r.readings as number,
      duplicates: r.duplicates as number,
      evicted: this.evictedRanges(r.gateway as string).reduce((n, e) => n + e.last - e.first + 1, 0),
    }));
  }

  /** Every stored sequence of a gateway, in order (for audits and tests). */
  sequences(gateway: string): number[] {
    return this.s.seqs.all(gateway) as number[];
  }

  readings(gateway: string, afterSeq = 0, limit = 1000): LogRecord[] {
    return (this.s.readingsOf.all(gateway, afterSeq, limit) as Array<Row>).map(toRecord);
  }

  /** The newest reading of every point of a gateway. */
  latest(gateway: string): LogRecord[] {
    return (this.s.latest.all(gateway, gateway) as Array<Row>).map(toRecord);
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
