import pg from 'pg';
import type { Batch } from '../codec/index.ts';
import type { SeqRange, Value } from '../model.ts';
import type { GatewayIdentity } from '../topics.ts';
import type { EpochChange, IngestSink, StoreResult } from './sink.ts';
import { seqRuns, subtractRanges } from './store.ts';
import { rebuildCoveredSql } from './covered-rebuild.ts';

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
-- Log epochs (see store.ts): stores of the time before them get epoch '' and the new keys.
ALTER TABLE kedge_readings ADD COLUMN IF NOT EXISTS epoch TEXT NOT NULL DEFAULT '';
ALTER TABLE kedge_evicted ADD COLUMN IF NOT EXISTS epoch TEXT NOT NULL DEFAULT '';
ALTER TABLE kedge_gateways ADD COLUMN IF NOT EXISTS epoch TEXT NOT NULL DEFAULT '';
-- The last birth (point metadata) survives the offline status that follows it.
ALTER TABLE kedge_gateways ADD COLUMN IF NOT EXISTS birth_json JSONB;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM information_schema.key_column_usage WHERE table_name = 'kedge_readings' AND constraint_name = 'kedge_readings_pkey' AND column_name = 'epoch') THEN
    ALTER TABLE kedge_readings DROP CONSTRAINT kedge_readings_pkey, ADD CONSTRAINT kedge_readings_pkey PRIMARY KEY (gateway, epoch, seq);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM information_schema.key_column_usage WHERE table_name = 'kedge_evicted' AND constraint_name = 'kedge_evicted_pkey' AND column_name = 'epoch') THEN
    ALTER TABLE kedge_evicted DROP CONSTRAINT kedge_evicted_pkey, ADD CONSTRAINT kedge_evicted_pkey PRIMARY KEY (gateway, epoch, first, last);
  END IF;
END $$;
CREATE TABLE IF NOT EXISTS kedge_epochs (
  gateway TEXT NOT NULL,
  epoch TEXT NOT NULL,
  first_seen TIMESTAMPTZ NOT NULL DEFAULT now(),
  max_seq BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (gateway, epoch)
);
INSERT INTO kedge_epochs (gateway, epoch, max_seq) SELECT gateway, epoch, max_seq FROM kedge_gateways WHERE max_seq > 0 ON CONFLICT DO NOTHING;
-- The live lane (store.ts): lanes a reading arrived on (bit 1 backlog, bit 2 live), and how far
-- the backlog lane has reached per epoch. Stores from before it: all backlog, reached max_seq.
ALTER TABLE kedge_readings ADD COLUMN IF NOT EXISTS lanes SMALLINT NOT NULL DEFAULT 1;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'kedge_epochs' AND column_name = 'backlog_seq') THEN
    ALTER TABLE kedge_epochs ADD COLUMN backlog_seq BIGINT NOT NULL DEFAULT 0;
    UPDATE kedge_epochs SET backlog_seq = max_seq;
  END IF;
END $$;
CREATE TABLE IF NOT EXISTS kedge_covered (
  gateway TEXT NOT NULL,
  epoch TEXT NOT NULL,
  first BIGINT NOT NULL,
  last BIGINT NOT NULL,
  PRIMARY KEY (gateway, epoch, first)
);
CREATE TABLE IF NOT EXISTS kedge_epoch_changes (
  id BIGSERIAL PRIMARY KEY,
  gateway TEXT NOT NULL,
  previous_epoch TEXT NOT NULL,
  previous_last_seq BIGINT NOT NULL,
  previous_confirmed BIGINT NOT NULL,
  epoch TEXT NOT NULL,
  at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Sequences a gateway could not send because its log was damaged and replaced (see store.ts).
CREATE TABLE IF NOT EXISTS kedge_unrecoverable (
  gateway TEXT NOT NULL,
  epoch TEXT NOT NULL,
  first BIGINT NOT NULL,
  last BIGINT NOT NULL,
  at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (gateway, epoch, first)
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

  /**
   * `onWarn` hears about a server whose commits are not durable whatever a session does
   * (fsync off). The ingest acknowledges only after a commit, so each session insists on
   * synchronous_commit = on (a server default of off would let a power cut undo batches
   * already acknowledged); a session that still reports off is refused.
   */
  static async open(url: string, opts: { max?: number; onWarn?: (msg: string) => void } = {}): Promise<PgIngestStore> {
    const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 4, options: '-c synchronous_commit=on' });
    // Two ingest processes may start together: the schema is created under an advisory lock.
    const client = await pool.connect();
    try {
      const setting = async (name: string) => String((await client.query(`SHOW ${name}`)).rows[0]?.[name]);
      const syncCommit = await setting('synchronous_commit');
      if (syncCommit === 'off') {
        throw new Error(
          'PostgreSQL synchronous_commit is off for the ingest session: an acknowledged batch could be lost in a power cut; allow the session to set it on',
        );
      }
      if ((await setting('fsync')) === 'off') {
        opts.onWarn?.('PostgreSQL runs with fsync = off: commits are not durable and a power cut at the center can lose acknowledged batches');
      }
      await client.query('SELECT pg_advisory_lock(7355608)');
      const before = await client.query<{ covered: string | null }>("SELECT to_regclass('kedge_covered')::text AS covered");
      await client.query(SCHEMA);
      // A store from before the covered table: build it from what it holds (stored + evicted).
      if (before.rows[0]?.covered == null) {
        await client.query(rebuildCoveredSql({ readings: 'kedge_readings', evicted: 'kedge_evicted', covered: 'kedge_covered' }));
      }
      await client.query('SELECT pg_advisory_unlock(7355608)');
    } catch (err) {
      client.release();
      await pool.end();
      throw err;
    }
    client.release();
    return new PgIngestStore(pool);
  }

  /** What this store's sessions run with (synchronous_commit is forced on per session). */
  async durability(): Promise<{ synchronousCommit: string; fsync: string }> {
    const r = await this.pool.query<{ synchronous_commit: string; fsync: string }>(
      "SELECT current_setting('synchronous_commit') AS synchronous_commit, current_setting('fsync') AS fsync",
    );
    return { synchronousCommit: r.rows[0]!.synchronous_commit, fsync: r.rows[0]!.fsync };
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
      const gw = await client.query<{ epoch: string }>('SELECT epoch FROM kedge_gateways WHERE gateway = $1 FOR UPDATE', [id.gateway]);
      const current = gw.rows[0]?.epoch ?? '';
      const epoch = batch.epoch ?? '';
      const row = await client.query<{ max_seq: string }>('SELECT max_seq FROM kedge_epochs WHERE gateway = $1 AND epoch = $2', [id.gateway, epoch]);
      let epochChange: EpochChange | undefined;
      if (row.rows.length === 0) {
        const prev = await client.query<{ max_seq: string }>('SELECT max_seq FROM kedge_epochs WHERE gateway = $1 AND epoch = $2', [id.gateway, current]);
        await client.query('INSERT INTO kedge_epochs (gateway, epoch) VALUES ($1, $2)', [id.gateway, epoch]);
        const prevMax = Number(prev.rows[0]?.max_seq ?? 0);
        if (prevMax > 0) {
          const previousConfirmed = await this.confirmedIn(client, id.gateway, current);
          epochChange = { gateway: id.gateway, previousEpoch: current, previousLastSeq: prevMax, previousConfirmed, epoch, at: Date.now() };
          await client.query(
            'INSERT INTO kedge_epoch_changes (gateway, previous_epoch, previous_last_seq, previous_confirmed, epoch) VALUES ($1, $2, $3, $4, $5)',
            [id.gateway, current, prevMax, previousConfirmed, epoch],
          );
        }
        if (epoch !== current) await client.query('UPDATE kedge_gateways SET epoch = $2, max_seq = 0 WHERE gateway = $1', [id.gateway, epoch]);
      }
      // Where the backlog lane stood (live readings beyond it do not move it), carried over what
      // is covered right after it (the backlog resumes behind a merged live run), as in store.ts.
      const previousMax = row.rows.length === 0 ? 0 : await this.backlogReachIn(client, id.gateway, epoch);
      const r = batch.readings;
      const cols = r.map((x) => columns(x.value));
      const lane = batch.live ? 2 : 1;
      const inserted = await client.query(
        `INSERT INTO kedge_readings (gateway, epoch, lanes, seq, point, ts, num, txt, bool, quality)
         SELECT $1, $9, $10::smallint, * FROM unnest($2::bigint[], $3::text[], $4::timestamptz[], $5::float8[], $6::text[], $7::boolean[], $8::text[])
         ON CONFLICT (gateway, epoch, seq) DO NOTHING`,
        [
          id.gateway,
          r.map((x) => x.seq),
          r.map((x) => x.point),
          r.map((x) => new Date(x.ts).toISOString()),
          cols.map((c) => c[0]),
          cols.map((c) => c[1]),
          cols.map((c) => c[2]),
          r.map((x) => x.quality),
          epoch,
          lane,
        ],
      );
      // Held already: the first copy from the other lane is marked, not counted as a duplicate.
      // (Rows inserted just now carry the lane already, so they never match.)
      const crossed =
        r.length === 0
          ? 0
          : ((
              await client.query(
                'UPDATE kedge_readings SET lanes = lanes | $4::smallint WHERE gateway = $1 AND epoch = $2 AND seq = ANY($3::bigint[]) AND (lanes & $4::smallint) = 0',
                [id.gateway, epoch, r.map((x) => x.seq), lane],
              )
            ).rowCount ?? 0);
      // As in store.ts: evicted ranges never overlap a stored reading or each other.
      if (r.length > 0) {
        const inside = await client.query<{ first: string; last: string }>(
          'DELETE FROM kedge_evicted WHERE gateway = $1 AND epoch = $2 AND last >= $3 AND first <= $4 RETURNING first, last',
          [id.gateway, epoch, r[0]!.seq, r[r.length - 1]!.seq],
        );
        for (const e of inside.rows) await this.recordEvicted(client, id.gateway, epoch, { first: Number(e.first), last: Number(e.last) });
      }
      for (const e of batch.evicted) await this.recordEvicted(client, id.gateway, epoch, e);
      // A range recorded unrecoverable (a damaged log) that a broker still delivers: re-clipped.
      if (r.length > 0) {
        const late = await client.query<{ first: string; last: string; at: Date }>(
          'DELETE FROM kedge_unrecoverable WHERE gateway = $1 AND epoch = $2 AND last >= $3 AND first <= $4 RETURNING first, last, at',
          [id.gateway, epoch, r[0]!.seq, r[r.length - 1]!.seq],
        );
        for (const u of late.rows) {
          const range = { first: Number(u.first), last: Number(u.last) };
          const held = await client.query<{ seq: string }>('SELECT seq FROM kedge_readings WHERE gateway = $1 AND epoch = $2 AND seq BETWEEN $3 AND $4', [
            id.gateway,
            epoch,
            range.first,
            range.last,
          ]);
          for (const rest of subtractRanges([range], held.rows.map((h) => ({ first: Number(h.seq), last: Number(h.seq) })))) {
            await client.query('INSERT INTO kedge_unrecoverable (gateway, epoch, first, last, at) VALUES ($1, $2, $3, $4, $5)', [id.gateway, epoch, rest.first, rest.last, u.at]);
          }
        }
      }
      const n = inserted.rowCount ?? 0;
      const duplicates = r.length - n - crossed;
      await client.query('UPDATE kedge_gateways SET readings = readings + $2, duplicates = duplicates + $3 WHERE gateway = $1', [id.gateway, n, duplicates]);
      if (!batch.live) await client.query('UPDATE kedge_epochs SET backlog_seq = greatest(backlog_seq, $3) WHERE gateway = $1 AND epoch = $2', [id.gateway, epoch, batch.last]);
      await client.query('UPDATE kedge_gateways SET max_seq = greatest(max_seq, $3) WHERE gateway = $1 AND epoch = $2', [id.gateway, epoch, batch.last]);
      await client.query('UPDATE kedge_epochs SET max_seq = greatest(max_seq, $3) WHERE gateway = $1 AND epoch = $2', [id.gateway, epoch, batch.last]);
      // first..last is now all stored or reported evicted: merge it into the covered ranges.
      // A live batch covers only its own sequences, so the confirmation never jumps a hole.
      const spans = batch.live ? seqRuns(r.map((x) => x.seq)) : [{ first: batch.first, last: batch.last }];
      for (const span of spans) {
        // ::bigint: an untyped `$3 - 1` is integer arithmetic and fails from sequence 2^31 on.
        const touching = await client.query<{ first: string; last: string }>(
          'DELETE FROM kedge_covered WHERE gateway = $1 AND epoch = $2 AND last >= $3::bigint - 1 AND first <= $4::bigint + 1 RETURNING first, last',
          [id.gateway, epoch, span.first, span.last],
        );
        const lo = Math.min(span.first, ...touching.rows.map((x) => Number(x.first)));
        const hi = Math.max(span.last, ...touching.rows.map((x) => Number(x.last)));
        await client.query('INSERT INTO kedge_covered (gateway, epoch, first, last) VALUES ($1, $2, $3, $4)', [id.gateway, epoch, lo, hi]);
      }
      const confirmed = await this.confirmedIn(client, id.gateway, epoch);
      // The PUBACK to the broker and the confirmation to the gateway both wait for this commit.
      await client.query('COMMIT');
      return { inserted: n, duplicates, previousMax, epoch, confirmed, ...(epochChange ? { epochChange } : {}) };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  /** A reported evicted range minus the stored readings, merged with the evicted ranges it touches. */
  private async recordEvicted(client: pg.PoolClient, gateway: string, epoch: string, e: SeqRange): Promise<void> {
    const stored = await client.query<{ seq: string }>(
      'SELECT seq FROM kedge_readings WHERE gateway = $1 AND epoch = $2 AND seq BETWEEN $3 AND $4 ORDER BY seq',
      [gateway, epoch, e.first, e.last],
    );
    const parts: SeqRange[] = [];
    let from = e.first;
    for (const row of stored.rows) {
      const seq = Number(row.seq);
      if (seq > from) parts.push({ first: from, last: seq - 1 });
      from = seq + 1;
    }
    if (from <= e.last) parts.push({ first: from, last: e.last });
    for (const p of parts) {
      const touching = await client.query<{ first: string; last: string }>(
        'DELETE FROM kedge_evicted WHERE gateway = $1 AND epoch = $2 AND last >= $3::bigint - 1 AND first <= $4::bigint + 1 RETURNING first, last',
        [gateway, epoch, p.first, p.last],
      );
      const lo = Math.min(p.first, ...touching.rows.map((x) => Number(x.first)));
      const hi = Math.max(p.last, ...touching.rows.map((x) => Number(x.last)));
      await client.query('INSERT INTO kedge_evicted (gateway, epoch, first, last) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [gateway, epoch, lo, hi]);
    }
  }

  private async confirmedIn(client: pg.PoolClient | pg.Pool, gateway: string, epoch: string): Promise<number> {
    const r = await client.query<{ last: string }>('SELECT last FROM kedge_covered WHERE gateway = $1 AND epoch = $2 AND first = 1', [gateway, epoch]);
    return Number(r.rows[0]?.last ?? 0);
  }

  async epochOf(gateway: string): Promise<string> {
    return (await this.pool.query<{ epoch: string }>('SELECT epoch FROM kedge_gateways WHERE gateway = $1', [gateway])).rows[0]?.epoch ?? '';
  }

  /** Highest sequence n of the epoch (default: the current one) with 1..n all stored or evicted. */
  async confirmed(gateway: string, epoch?: string): Promise<number> {
    return this.confirmedIn(this.pool, gateway, epoch ?? (await this.epochOf(gateway)));
  }

  async epochChanges(gateway: string): Promise<EpochChange[]> {
    const rows = await this.pool.query(
      'SELECT previous_epoch, previous_last_seq, previous_confirmed, epoch, at FROM kedge_epoch_changes WHERE gateway = $1 ORDER BY id',
      [gateway],
    );
    return rows.rows.map((r) => ({
      gateway,
      previousEpoch: r.previous_epoch as string,
      previousLastSeq: Number(r.previous_last_seq),
      previousConfirmed: Number(r.previous_confirmed),
      epoch: r.epoch as string,
      at: new Date(r.at as string).getTime(),
    }));
  }

  async recordStatus(id: GatewayIdentity, status: string, json: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO kedge_gateways (gateway, region, municipality, status, status_json, status_at, birth_json)
       VALUES ($1, $2, $3, $4, $5, now(), CASE WHEN $4 = 'online' THEN $5::jsonb END)
       ON CONFLICT (gateway) DO UPDATE SET status = excluded.status, status_json = excluded.status_json, status_at = now(),
         birth_json = coalesce(excluded.birth_json, kedge_gateways.birth_json)`,
      [id.gateway, id.region, id.municipality, status, json],
    );
  }

  /** The gateway's last birth message (its points with unit, type, name), kept while it is offline. */
  async lastBirth(gateway: string): Promise<Record<string, unknown> | undefined> {
    const r = await this.pool.query('SELECT birth_json FROM kedge_gateways WHERE gateway = $1', [gateway]);
    return (r.rows[0]?.birth_json as Record<string, unknown> | null | undefined) ?? undefined;
  }

  /** As IngestStore.recordUnrecoverable: (confirmed..lastSeq] of a replaced log, minus what is held. */
  async recordUnrecoverable(gateway: string, epoch: string, confirmed: number, lastSeq: number): Promise<SeqRange[]> {
    if (lastSeq <= confirmed) return [];
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // The same row lock as storeBatch: the two serialize per gateway.
      const gw = await client.query<{ epoch: string }>('SELECT epoch FROM kedge_gateways WHERE gateway = $1 FOR UPDATE', [gateway]);
      await client.query(
        // Never coming by the backlog lane either: missing, not "not yet received".
        `INSERT INTO kedge_epochs (gateway, epoch, max_seq, backlog_seq) VALUES ($1, $2, $3, $3) ON CONFLICT (gateway, epoch)
         DO UPDATE SET max_seq = greatest(kedge_epochs.max_seq, excluded.max_seq), backlog_seq = greatest(kedge_epochs.backlog_seq, excluded.backlog_seq)`,
        [gateway, epoch, lastSeq],
      );
      if (gw.rows[0]?.epoch === epoch) await client.query('UPDATE kedge_gateways SET max_seq = greatest(max_seq, $2) WHERE gateway = $1', [gateway, lastSeq]);
      const ranges = async (sql: string, params: unknown[]) =>
        (await client.query<{ first: string; last: string }>(sql, params)).rows.map((x) => ({ first: Number(x.first), last: Number(x.last) }));
      const held = await ranges('SELECT first, last FROM kedge_covered WHERE gateway = $1 AND epoch = $2 AND last >= $3 AND first <= $4', [gateway, epoch, confirmed + 1, lastSeq]);
      const known = await ranges('SELECT first, last FROM kedge_unrecoverable WHERE gateway = $1 AND epoch = $2', [gateway, epoch]);
      const fresh = subtractRanges(subtractRanges([{ first: confirmed + 1, last: lastSeq }], held), known);
      for (const f of fresh) {
        await client.query('INSERT INTO kedge_unrecoverable (gateway, epoch, first, last) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [gateway, epoch, f.first, f.last]);
      }
      await client.query('COMMIT');
      return fresh;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async unrecoverableRanges(gateway: string, epoch: string): Promise<SeqRange[]> {
    const r = await this.pool.query<{ first: string; last: string }>('SELECT first, last FROM kedge_unrecoverable WHERE gateway = $1 AND epoch = $2 ORDER BY first', [
      gateway,
      epoch,
    ]);
    return r.rows.map((x) => ({ first: Number(x.first), last: Number(x.last) }));
  }

  async reject(topic: string, payload: Buffer, error: string): Promise<void> {
    await this.pool.query('INSERT INTO kedge_rejected (topic, error, payload) VALUES ($1, $2, $3)', [topic, error, payload]);
  }

  /** Sequences neither stored nor reported evicted, from 1 to the backlog lane's position: the gap report. */
  async gaps(gateway: string, epoch?: string): Promise<SeqRange[]> {
    const ep = epoch ?? (await this.epochOf(gateway));
    const backlog = await this.backlogSeq(gateway, ep);
    return (await this.holes(gateway, ep)).flatMap((h) => (h.first > backlog ? [] : [{ first: h.first, last: Math.min(h.last, backlog) }]));
  }

  /** Holes above the backlog lane's position, below the newest live reading: not yet received. */
  async notYetReceived(gateway: string, epoch?: string): Promise<SeqRange[]> {
    const ep = epoch ?? (await this.epochOf(gateway));
    const backlog = await this.backlogSeq(gateway, ep);
    return (await this.holes(gateway, ep)).flatMap((h) => (h.last <= backlog ? [] : [{ first: Math.max(h.first, backlog + 1), last: h.last }]));
  }

  async backlogSeq(gateway: string, epoch: string): Promise<number> {
    return this.backlogSeqIn(this.pool, gateway, epoch);
  }

  /** As IngestStore.backlogReach: the backlog position carried to the end of the covered run continuing it. */
  async backlogReach(gateway: string, epoch: string): Promise<number> {
    return this.backlogReachIn(this.pool, gateway, epoch);
  }

  private async backlogReachIn(client: pg.PoolClient | pg.Pool, gateway: string, epoch: string): Promise<number> {
    const backlog = await this.backlogSeqIn(client, gateway, epoch);
    // ::bigint: an untyped `$3 + 1` is integer arithmetic and fails from sequence 2^31 on.
    const r = await client.query<{ last: string }>(
      'SELECT last FROM kedge_covered WHERE gateway = $1 AND epoch = $2 AND first <= $3::bigint + 1 ORDER BY first DESC LIMIT 1',
      [gateway, epoch, backlog],
    );
    const end = r.rows[0] ? Number(r.rows[0].last) : 0;
    return end > backlog ? end : backlog;
  }

  private async backlogSeqIn(client: pg.PoolClient | pg.Pool, gateway: string, epoch: string): Promise<number> {
    const r = await client.query('SELECT backlog_seq FROM kedge_epochs WHERE gateway = $1 AND epoch = $2', [gateway, epoch]);
    return Number(r.rows[0]?.backlog_seq ?? 0);
  }

  /** Stored sequences that arrived on the live lane. */
  async liveSequences(gateway: string, epoch?: string): Promise<number[]> {
    const ep = epoch ?? (await this.epochOf(gateway));
    const r = await this.pool.query('SELECT seq FROM kedge_readings WHERE gateway = $1 AND epoch = $2 AND (lanes & 2) != 0 ORDER BY seq', [gateway, ep]);
    return r.rows.map((x) => Number(x.seq));
  }

  private async holes(gateway: string, epoch?: string): Promise<SeqRange[]> {
    const ep = epoch ?? (await this.epochOf(gateway));
    const max = Number(
      (await this.pool.query('SELECT max_seq FROM kedge_epochs WHERE gateway = $1 AND epoch = $2', [gateway, ep])).rows[0]?.max_seq ?? 0,
    );
    if (max === 0) return [];
    const holes = await this.pool.query<{ first: string; last: string }>(
      `SELECT prev + 1 AS first, seq - 1 AS last FROM (
         SELECT seq, coalesce(lag(seq) OVER (ORDER BY seq), 0) AS prev FROM kedge_readings WHERE gateway = $1 AND epoch = $3
         UNION ALL SELECT $2::bigint + 1, (SELECT coalesce(max(seq), 0) FROM kedge_readings WHERE gateway = $1 AND epoch = $3)
       ) s WHERE seq > prev + 1`,
      [gateway, max, ep],
    );
    const evicted = await this.pool.query<{ first: string; last: string }>(
      'SELECT first, last FROM kedge_evicted WHERE gateway = $1 AND epoch = $2 ORDER BY first',
      [gateway, ep],
    );
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
