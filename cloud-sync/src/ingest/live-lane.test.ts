import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import pg from 'pg';
import { runs } from '@kedge/testkit/fuzz.ts';
import { startPostgres, type PostgresHandle } from '@kedge/testkit/postgres.ts';
import type { Batch } from '../codec/index.ts';
import type { LogRecord, SeqRange } from '../model.ts';
import { PgIngestStore } from './pg-store.ts';
import { IngestStore, seqRuns } from './store.ts';

/**
 * The center with two lanes: live batches (newest readings, sparse real sequences) arrive
 * before, between and after the backlog batches that bring the same sequences in order, in
 * every interleaving, resends included. After every single batch the store must hold each
 * reading once, mark exactly the live arrivals, confirm only the contiguous prefix, and tell
 * "missing" (below the backlog lane's position) from "not yet received" (above it).
 */

const id = (gateway: string) => ({ prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway });
const EPOCH = 'e1';

interface Store {
  storeBatch(b: Batch): Promise<{ inserted: number; duplicates: number; confirmed: number; previousMax: number }>;
  sequences(): Promise<number[]>;
  live(): Promise<number[]>;
  gaps(): Promise<SeqRange[]>;
  notYet(): Promise<SeqRange[]>;
}

const reading = (seq: number): LogRecord => ({ seq, point: `dev-${seq % 3}/p${seq % 5}`, ts: 1_700_000_000_000 + seq, value: seq, quality: 'good' });

/** A gateway log of `n` sequences with evicted ranges, cut into backlog batches, plus live batches. */
const scenario = fc
  .record({
    n: fc.integer({ min: 1, max: 40 }),
    evicted: fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
    cuts: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 40, maxLength: 40 }),
    lives: fc.array(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 }), { maxLength: 5 }),
    repeats: fc.array(fc.nat(), { maxLength: 4 }),
    order: fc.array(fc.nat(), { minLength: 60, maxLength: 60 }),
  })
  .map(({ n, evicted, cuts, lives, repeats, order }) => {
    // Evicted in runs: a sequence is evicted when its flag is set and it is not the last one.
    const isEvicted = (s: number) => s < n && evicted[s - 1]! && evicted[s]!;
    const backlog: Batch[] = [];
    for (let first = 1, c = 0; first <= n; c++) {
      const last = Math.min(n, first + cuts[c % cuts.length]! - 1);
      const seqs = Array.from({ length: last - first + 1 }, (_, i) => first + i);
      backlog.push({
        gateway: 'gw',
        epoch: EPOCH,
        first,
        last,
        evicted: seqRuns(seqs.filter(isEvicted)),
        readings: seqs.filter((s) => !isEvicted(s)).map(reading),
      });
      first = last + 1;
    }
    // Live readings may be of sequences the log evicts later (sent live, then the size cap hit).
    const live: Batch[] = lives.map((l) => {
      const seqs = [...new Set(l.map((s) => Math.min(s, n)))].sort((a, b) => a - b);
      return { gateway: 'gw', epoch: EPOCH, live: true, first: seqs[0]!, last: seqs[seqs.length - 1]!, evicted: [], readings: seqs.map(reading) };
    });
    const all = [...backlog, ...live];
    const sent = [...all, ...repeats.map((r) => all[r % all.length]!)];
    // A permutation from the random keys: every interleaving of lanes and resends.
    const keyed = sent.map((b, i) => ({ b, k: order[i % order.length]! * 100 + i }));
    keyed.sort((x, y) => x.k - y.k);
    return keyed.map((x) => x.b);
  });

function ranges(seqs: number[]): SeqRange[] {
  return seqRuns([...seqs].sort((a, b) => a - b));
}

/** What the center must say after each batch, computed from the batches alone. */
class Model {
  stored = new Set<number>();
  live = new Set<number>();
  evicted = new Set<number>();
  covered = new Set<number>();
  byLane = new Set<string>();
  maxSeq = 0;
  backlogSeq = 0;

  apply(b: Batch): { duplicates: number } {
    const lane = b.live ? 'live' : 'backlog';
    let duplicates = 0;
    for (const r of b.readings) {
      if (this.byLane.has(`${lane}:${r.seq}`)) duplicates++;
      this.byLane.add(`${lane}:${r.seq}`);
      this.stored.add(r.seq);
      this.covered.add(r.seq);
      if (b.live) this.live.add(r.seq);
    }
    for (const e of b.evicted) for (let s = e.first; s <= e.last; s++) this.evicted.add(s);
    if (!b.live) for (let s = b.first; s <= b.last; s++) this.covered.add(s);
    this.maxSeq = Math.max(this.maxSeq, b.last);
    if (!b.live) this.backlogSeq = Math.max(this.backlogSeq, b.last);
    return { duplicates };
  }

  confirmed(): number {
    let n = 0;
    while (this.covered.has(n + 1)) n++;
    return n;
  }

  /** The backlog position carried over what is covered right after it: the consumer's gap check. */
  backlogReach(): number {
    let n = this.backlogSeq;
    while (this.covered.has(n + 1)) n++;
    return n;
  }

  holes(): number[] {
    const out: number[] = [];
    for (let s = 1; s <= this.maxSeq; s++) if (!this.stored.has(s) && !this.evicted.has(s)) out.push(s);
    return out;
  }
}

async function checkAllInterleavings(open: () => Promise<Store & { close(): Promise<void> }>): Promise<void> {
  await fc.assert(
    fc.asyncProperty(scenario, async (batches) => {
      const store = await open();
      try {
        const model = new Model();
        for (const [i, b] of batches.entries()) {
          const at = `after batch ${i} (${b.live ? 'live' : 'backlog'} ${b.first}-${b.last})`;
          const reachBefore = model.backlogReach();
          const expected = model.apply(b);
          const result = await store.storeBatch(b);
          assert.equal(result.previousMax, reachBefore, `${at}: previousMax is the backlog lane's position carried over what follows it covered (the consumer's gap check)`);
          // What the consumer would report as a gap starts at a real hole: never a false alarm.
          if (!b.live && b.first > result.previousMax + 1) assert.ok(model.holes().includes(result.previousMax + 1), `${at}: the gap the consumer reports starts at a hole`);
          assert.equal(result.duplicates, expected.duplicates, `${at}: duplicates (a sequence from the other lane is no duplicate)`);
          assert.equal(result.confirmed, model.confirmed(), `${at}: confirmation covers only the contiguous prefix`);
          assert.deepEqual(await store.sequences(), [...model.stored].sort((x, y) => x - y), `${at}: each reading stored once`);
          assert.deepEqual(await store.live(), [...model.live].sort((x, y) => x - y), `${at}: live arrivals marked`);
          const holes = model.holes();
          assert.deepEqual(await store.gaps(), ranges(holes.filter((s) => s <= model.backlogSeq)), `${at}: missing = holes up to the backlog position`);
          assert.deepEqual(await store.notYet(), ranges(holes.filter((s) => s > model.backlogSeq)), `${at}: not yet received = holes above it`);
        }
      } finally {
        await store.close();
      }
    }),
    { numRuns: runs(60) },
  );
}

test('SQLite store: live and backlog batches in every interleaving keep the accounting exact at every moment', async () => {
  await checkAllInterleavings(async () => {
    const s = new IngestStore(':memory:');
    return {
      storeBatch: async (b) => s.storeBatch(id('gw'), b),
      sequences: async () => s.sequences('gw', EPOCH),
      live: async () => s.liveSequences('gw', EPOCH),
      gaps: async () => s.gaps('gw', EPOCH),
      notYet: async () => s.notYetReceived('gw', EPOCH),
      close: async () => s.close(),
    };
  });
});

let pgServer: PostgresHandle | undefined;
/** Raw SQL beside the store, for what the store does not expose and for making old schemas. */
let sql: pg.Pool | undefined;
// The pool first: its idle connection must not outlive the server it talks to.
test.after(async () => {
  await sql?.end();
  await pgServer?.stop();
});

test('PostgreSQL store: live and backlog batches in every interleaving keep the accounting exact at every moment', async () => {
  pgServer ??= await startPostgres();
  sql ??= new pg.Pool({ connectionString: pgServer.url, max: 1 });
  const store = await PgIngestStore.open(pgServer.url);
  let round = 0;
  try {
    await checkAllInterleavings(async () => {
      // One gateway per round: the stores share the database.
      const gw = `gw${round++}`;
      const on = (b: Batch) => ({ ...b, gateway: gw });
      return {
        storeBatch: async (b) => store.storeBatch(id(gw), on(b)),
        sequences: async () => pgSequences(store, gw),
        live: async () => store.liveSequences(gw, EPOCH),
        gaps: async () => store.gaps(gw, EPOCH),
        notYet: async () => store.notYetReceived(gw, EPOCH),
        close: async () => {},
      };
    });
  } finally {
    await store.close();
  }
});

async function pgSequences(store: PgIngestStore, gateway: string): Promise<number[]> {
  void store;
  const rows = await sql!.query<{ seq: string }>('SELECT seq FROM kedge_readings WHERE gateway = $1 AND epoch = $2 ORDER BY seq', [gateway, EPOCH]);
  return rows.rows.map((r) => Number(r.seq));
}

test('SQLite: a center database from before the live lane upgrades: backlog lane, nothing "not yet received", then live works', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-lanes-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'center.db');
  const old = new IngestStore(path);
  old.storeBatch(id('gw'), { gateway: 'gw', epoch: EPOCH, first: 1, last: 10, evicted: [], readings: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(reading) });
  old.storeBatch(id('gw'), { gateway: 'gw', epoch: EPOCH, first: 21, last: 30, evicted: [], readings: [21, 22, 23, 24, 25, 26, 27, 28, 29, 30].map(reading) });
  old.close();
  // Make it what an older ingest left behind: no lanes, no backlog position.
  const raw = new Database(path);
  raw.exec('ALTER TABLE readings DROP COLUMN lanes; ALTER TABLE epochs DROP COLUMN backlog_seq');
  raw.close();

  const store = new IngestStore(path);
  t.after(() => store.close());
  assert.deepEqual(store.gaps('gw', EPOCH), [{ first: 11, last: 20 }], 'the hole of the old data is still missing, not "not yet received"');
  assert.deepEqual(store.notYetReceived('gw', EPOCH), []);
  assert.deepEqual(store.liveSequences('gw', EPOCH), []);
  assert.equal(store.backlogSeq('gw', EPOCH), 30);
  store.storeBatch(id('gw'), { gateway: 'gw', epoch: EPOCH, live: true, first: 35, last: 40, evicted: [], readings: [35, 40].map(reading) });
  assert.deepEqual(store.notYetReceived('gw', EPOCH), [{ first: 31, last: 34 }, { first: 36, last: 39 }]);
  assert.deepEqual(store.liveSequences('gw', EPOCH), [35, 40]);
  assert.equal(store.confirmed('gw', EPOCH), 10);
});

test('PostgreSQL: a center database from before the live lane upgrades the same way', async () => {
  pgServer ??= await startPostgres();
  sql ??= new pg.Pool({ connectionString: pgServer.url, max: 1 });
  const first = await PgIngestStore.open(pgServer.url);
  await first.storeBatch(id('gw-old'), { gateway: 'gw-old', epoch: EPOCH, first: 1, last: 10, evicted: [], readings: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(reading) });
  await first.storeBatch(id('gw-old'), { gateway: 'gw-old', epoch: EPOCH, first: 21, last: 30, evicted: [], readings: [21, 22, 23, 24, 25, 26, 27, 28, 29, 30].map(reading) });
  await first.close();
  await sql.query('ALTER TABLE kedge_readings DROP COLUMN lanes; ALTER TABLE kedge_epochs DROP COLUMN backlog_seq');

  const store = await PgIngestStore.open(pgServer.url);
  try {
    assert.deepEqual(await store.gaps('gw-old', EPOCH), [{ first: 11, last: 20 }]);
    assert.deepEqual(await store.notYetReceived('gw-old', EPOCH), []);
    assert.deepEqual(await store.liveSequences('gw-old', EPOCH), []);
    assert.equal(await store.backlogSeq('gw-old', EPOCH), 30);
    await store.storeBatch(id('gw-old'), { gateway: 'gw-old', epoch: EPOCH, live: true, first: 35, last: 40, evicted: [], readings: [35, 40].map(reading) });
    assert.deepEqual(await store.notYetReceived('gw-old', EPOCH), [{ first: 31, last: 34 }, { first: 36, last: 39 }]);
    assert.deepEqual(await store.liveSequences('gw-old', EPOCH), [35, 40]);
    assert.equal(await store.confirmed('gw-old', EPOCH), 10);
  } finally {
    await store.close();
  }
});

/**
 * What north/window.ts sends around a merge: the snapshot (newest per point, up to where live
 * first began: 100), the backlog 1..100, live 101..125 as polled; after the merge the backlog
 * lane resumes at 126. The store's previousMax (the consumer's gap check) must reach 125 then,
 * and a backlog batch after a real hole must still fall short of it.
 */
async function mergeShape(storeBatch: (b: Batch) => Promise<{ previousMax: number }>, gaps: () => Promise<SeqRange[]>): Promise<void> {
  const seqs = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, i) => first + i);
  const backlog = (first: number, last: number): Batch => ({ gateway: 'gw', epoch: EPOCH, first, last, evicted: [], readings: seqs(first, last).map(reading) });
  const live = (s: number[]): Batch => ({ gateway: 'gw', epoch: EPOCH, live: true, first: s[0]!, last: s[s.length - 1]!, evicted: [], readings: s.map(reading) });
  for (const b of [live([98, 99, 100]), backlog(1, 60), live(seqs(101, 125)), backlog(61, 100)]) await storeBatch(b);
  assert.equal((await storeBatch(backlog(126, 130))).previousMax, 125, 'the live run 101-125 continues the backlog position: 126 is next, no gap');
  assert.equal((await storeBatch(backlog(136, 140))).previousMax, 130, '131-135 never came: the consumer reports them');
  assert.deepEqual(await gaps(), [{ first: 131, last: 135 }]);
}

test('SQLite store: after a live-first merge the backlog position reaches over the live run', async () => {
  const s = new IngestStore(':memory:');
  try {
    await mergeShape(async (b) => s.storeBatch(id('gw'), b), async () => s.gaps('gw', EPOCH));
    assert.equal(s.backlogReach('gw', EPOCH), 140, 'the hole stays below the position: missing, not "not yet received"');
  } finally {
    s.close();
  }
});

test('PostgreSQL store: after a live-first merge the backlog position reaches over the live run', async () => {
  pgServer ??= await startPostgres();
  const store = await PgIngestStore.open(pgServer.url);
  try {
    const gw = 'gw-merge';
    await mergeShape(async (b) => store.storeBatch(id(gw), { ...b, gateway: gw }), async () => store.gaps(gw, EPOCH));
    assert.equal(await store.backlogReach(gw, EPOCH), 140, 'the hole stays below the position: missing, not "not yet received"');
  } finally {
    await store.close();
  }
});
