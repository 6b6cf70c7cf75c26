import pg from 'pg';
import type { Batch } from '../codec/index.ts';
import type { SeqRange, Value } from '../model.ts';
import type { GatewayIdentity } from '../topics.ts';
import type { IngestSink, StoreResult } from './sink.ts';
import { subtractRanges } from './store.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS kedge_readings (
  gateway TEXT NOT NULL,
  seq BIGINT NOT NULL,
  point TEXT NOT NULL,
  ts TIMESTAMPTZ NOT NULL,
  num DOUBLE PRECISION,
  txt TEXT,
  bool BOOLEAN,
  quality TEXT NOT NULL,
  received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (gateway, seq)
);
CREATE INDEX IF NOT EXISTS kedge_readings_point_ts ON kedge_readings (gateway, point, ts);
CREATE TABLE IF NOT EXISTS kedge_evicted (
  gateway TEXT NOT NULL,
  first BIGINT NOT NULL,
  last BIGINT NOT NULL,
  PRIMARY KEY (gateway, first, last)
);
CREATE TABLE IF NOT EXISTS kedge_gateways (
  gateway TEXT PRIMARY KEY,
  region TEXT NOT NULL,
  municipality TEXT NOT NULL,
  status TEXT,
  status_json JSONB,
  status_at TIMESTAMPTZ,
  last_seen TIMESTAMPTZ,
  max_seq BIGINT NOT NULL DEFAULT 0,
  readings BIGINT NOT NULL DEFAULT 0,
  duplicates BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS kedge_rejected (
  id BIGSERIAL PRIMARY KEY,
  topic TEXT NOT NULL,
  received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  error TEXT NOT NULL,
  payload BYTEA NOT NULL
);
`;

/** Values go to the column of their kind; 64-bit integers beyond 2^53 go to txt, exactly. */
function columns(v: Value): [number | null, string | null, boolean | null] {
  if (typeof v === 'number') return [v, null, null];
  if (typeof v === 'boolean') return [null, null, v];
  if (typeof v === 'string') return [null, v, null];
  if (typeof v === 'bigint') return [null, v.toString(), null];
  return [null, null, null];
}

/**
 * The center store in PostgreSQL. Inserts are idempotent on (gateway, seq), so several ingest
 * processes splitting one feed (MQTT 5 shared subscription) and redelivered batches never
 * store a reading twice; counters per gateway are updated in the same transaction.
 */
export class PgIngestStore implements IngestSink {
  private constructor(private readonly pool: pg.Pool) {}

  static async open(url: string, opts: { max?: number } = {}): Promise<PgIngestStore> {
    const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 4 });
    // Two ingest processes may start together: the schema is created under an advisory lock.
    const client = await pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock(7355608)');
      await client.query(SCHEMA);
      await client.query('SELECT pg_advisory_unlock(7355608)');
    } finally {
      client.release();
    }
    return new PgIngestStore(pool);
  }

  async storeBatch(id: GatewayIdentity, batch: Batch): Promise<StoreResult> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO kedge_gateways (gateway, region, municipality, last_seen) VALUES ($1, $2, $3, now())
         ON CONFLICT (gateway) DO UPDATE SET region = excluded.region, municipality = excluded.municipality, last_seen = now()`,
        [id.gateway, id.region, id.municipality],
      );
      // Row lock: batches of one gateway handled by two ingest processes serialize here.
      const prev = await client.query<{ max_seq: string }>('SELECT max_seq FROM kedge_gateways WHERE gateway = $1 FOR UPDATE', [id.gateway]);
      const previousMax = Number(prev.rows[0]?.max_seq ?? 0);
      const r = batch.readings;
      const cols = r.map((x) => columns(x.value));
      const inserted = await client.query(
        `INSERT INTO kedge_readings (gateway, seq, point, ts, num, txt, bool, quality)
         SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::timestamptz[], $5::float8[], $6::text[], $7::boolean[], $8::text[])
         ON CONFLICT (gateway, seq) DO NOTHING`,
        [
          id.gateway,
          r.map((x) => x.seq),
          r.map((x) => x.point),
          r.map((x) => new Date(x.ts).toISOString()),
          cols.map((c) => c[0]),
          cols.map((c) => c[1]),
          cols.map((c) => c[2]),
          r.map((x) => x.quality),
        ],
      );
      for (const e of batch.evicted) {
        await client.query('INSERT INTO kedge_evicted (gateway, first, last) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [id.gateway, e.first, e.last]);
      }
      const n = inserted.rowCount ?? 0;
      await client.query(
        'UPDATE kedge_gateways SET readings = readings + $2, duplicates = duplicates + $3, max_seq = greatest(max_seq, $4) WHERE gateway = $1',
        [id.gateway, n, r.length - n, batch.last],
      );
      await client.query('COMMIT');
      return { inserted: n, duplicates: r.length - n, previousMax };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async recordStatus(id: GatewayIdentity, status: string, json: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO kedge_gateways (gateway, region, municipality, status, status_json, status_at) VALUES ($1, $2, $3, $4, $5, now())
       ON CONFLICT (gateway) DO UPDATE SET status = excluded.status, status_json = excluded.status_json, status_at = now()`,
      [id.gateway, id.region, id.municipality, status, json],
    );
  }

  async reject(topic: string, payload: Buffer, error: string): Promise<void> {
    await this.pool.query('INSERT INTO kedge_rejected (topic, error, payload) VALUES ($1, $2, $3)', [topic, error, payload]);
  }

  /** Sequences neither stored nor reported evicted, from 1 to the highest seen: the gap report. */
  async gaps(gateway: string): Promise<SeqRange[]> {
    const max = Number((await this.pool.query('SELECT max_seq FROM kedge_gateways WHERE gateway = $1', [gateway])).rows[0]?.max_seq ?? 0);
    if (max === 0) return [];
    const holes = await this.pool.query<{ first: string; last: string }>(
      `SELECT prev + 1 AS first, seq - 1 AS last FROM (
         SELECT seq, coalesce(lag(seq) OVER (ORDER BY seq), 0) AS prev FROM kedge_readings WHERE gateway = $1
         UNION ALL SELECT $2::bigint + 1, (SELECT coalesce(max(seq), 0) FROM kedge_readings WHERE gateway = $1)
       ) s WHERE seq > prev + 1`,
      [gateway, max],
    );
    const evicted = await this.pool.query<{ first: string; last: string }>('SELECT first, last FROM kedge_evicted WHERE gateway = $1 ORDER BY first', [
      gateway,
    ]);
    const ranges = holes.rows.map((h) => ({ first: Number(h.first), last: Number(h.last) })).sort((a, b) => a.first - b.first);
    return subtractRanges(ranges, evicted.rows.map((e) => ({ first: Number(e.first), last: Number(e.last) })));
  }

  async counts(gateway: string): Promise<{ readings: number; distinct: number; duplicates: number; maxSeq: number }> {
    const row = (
      await this.pool.query(
        `SELECT g.readings, g.duplicates, g.max_seq, (SELECT count(*) FROM kedge_readings r WHERE r.gateway = g.gateway) AS distinct
         FROM kedge_gateways g WHERE g.gateway = $1`,
        [gateway],
      )
    ).rows[0];
    return { readings: Number(row?.readings ?? 0), distinct: Number(row?.distinct ?? 0), duplicates: Number(row?.duplicates ?? 0), maxSeq: Number(row?.max_seq ?? 0) };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
