/**
 * The ingest store contract as a suite every backend runs (as aedes-persistence's abstract
 * suite is run by every backend): store.contract.test.ts runs it on the SQLite IngestStore,
 * pg-store.contract.test.ts on the PostgreSQL PgIngestStore. What the ingest consumer and the
 * confirmation to gateways rely on is checked here once, so the two stores cannot drift apart:
 * each reading stored once per (gateway, epoch, seq), confirmed = the run from 1 without a hole,
 * evicted ranges told apart from gaps, epochs kept apart, an unrecoverable tail recorded once.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import type { Batch } from '../codec/index.ts';
import type { LogRecord, SeqRange } from '../model.ts';
import type { GatewayIdentity } from '../topics.ts';
import type { EpochChange, StoreResult } from './sink.ts';

type Maybe<T> = T | Promise<T>;

/** The part of a store the ingest relies on; both backends have it (sync for SQLite, async for PostgreSQL). */
export interface ContractStore {
  storeBatch(id: GatewayIdentity, batch: Batch): Maybe<StoreResult>;
  confirmed(gateway: string, epoch?: string): Maybe<number>;
  epochOf(gateway: string): Maybe<string>;
  epochChanges(gateway: string): Maybe<EpochChange[]>;
  gaps(gateway: string, epoch?: string): Maybe<SeqRange[]>;
  recordUnrecoverable(gateway: string, epoch: string, confirmed: number, lastSeq: number): Maybe<SeqRange[]>;
  unrecoverableRanges(gateway: string, epoch: string): Maybe<SeqRange[]>;
}

export interface StoreUnderTest {
  store: ContractStore;
  /** The sequences stored of `gateway` in `epoch`, ascending (each backend reads its own tables). */
  sequences(gateway: string, epoch: string): Maybe<number[]>;
}

const T0 = 1_700_000_000_000;

/**
 * `make` opens an empty store (or one the other tests of the file do not touch: every test
 * names its own gateways from `gw`) and closes it after the test.
 */
export function ingestStoreContract(name: string, make: (t: test.TestContext) => Promise<StoreUnderTest>): void {
  let n = 0;
  /** A gateway name no other test of this run uses, so one database can serve the whole suite. */
  const gw = (label: string) => `contract-${label}-${process.pid}-${++n}`;
  const idOf = (gateway: string): GatewayIdentity => ({ prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway });
  const batch = (gateway: string, first: number, last: number, o: { epoch?: string; evictedUpTo?: number } = {}): Batch => {
    const readings: LogRecord[] = [];
    for (let s = o.evictedUpTo === undefined ? first : o.evictedUpTo + 1; s <= last; s++) readings.push({ seq: s, point: `m/p${s % 3}`, ts: T0 + s, value: s / 2, quality: 'good' });
    return { gateway, ...(o.epoch ? { epoch: o.epoch } : {}), first, last, evicted: o.evictedUpTo === undefined ? [] : [{ first, last: o.evictedUpTo }], readings };
  };
  const range = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, i) => first + i);
  const label = (what: string) => `${name} (ingest store contract): ${what}`;

  test(label('a batch stored twice is kept once, the second time counted as duplicates'), async (t) => {
    const { store, sequences } = await make(t);
    const g = gw('dup');
    assert.deepEqual(await store.storeBatch(idOf(g), batch(g, 1, 10)), { inserted: 10, duplicates: 0, previousMax: 0, epoch: '', confirmed: 10 });
    assert.deepEqual(await store.storeBatch(idOf(g), batch(g, 1, 10)), { inserted: 0, duplicates: 10, previousMax: 10, epoch: '', confirmed: 10 });
    assert.deepEqual(await store.storeBatch(idOf(g), batch(g, 6, 15)), { inserted: 5, duplicates: 5, previousMax: 10, epoch: '', confirmed: 15 }, 'an overlap inserts only its new part');
    assert.deepEqual(await sequences(g, ''), range(1, 15));
  });

  test(label('the same sequences of two gateways are different readings'), async (t) => {
    const { store, sequences } = await make(t);
    const [a, b] = [gw('a'), gw('b')];
    await store.storeBatch(idOf(a), batch(a, 1, 5));
    assert.equal((await store.storeBatch(idOf(b), batch(b, 1, 5))).inserted, 5);
    assert.deepEqual(await sequences(b, ''), range(1, 5));
  });

  test(label('confirmed is the run from 1 without a hole; a hole is a gap until it fills; evicted ranges are no gap'), async (t) => {
    const { store, sequences } = await make(t);
    const g = gw('gaps');
    const e = 'e1';
    assert.equal((await store.storeBatch(idOf(g), batch(g, 1, 10, { epoch: e }))).confirmed, 10);
    assert.equal((await store.storeBatch(idOf(g), batch(g, 21, 30, { epoch: e }))).confirmed, 10, 'a hole at 11-20');
    assert.deepEqual(await store.gaps(g, e), [{ first: 11, last: 20 }]);
    assert.equal((await store.storeBatch(idOf(g), batch(g, 31, 40, { epoch: e, evictedUpTo: 35 }))).confirmed, 10);
    assert.deepEqual(await store.gaps(g, e), [{ first: 11, last: 20 }], '31-35 were evicted on the gateway: not a gap');
    assert.equal((await store.storeBatch(idOf(g), batch(g, 11, 20, { epoch: e }))).confirmed, 40, 'filled: 1-40 with 31-35 evicted');
    assert.deepEqual(await store.gaps(g, e), []);
    assert.equal(await store.confirmed(g, e), 40);
    assert.equal(await store.confirmed(g, 'never-seen'), 0);
    assert.deepEqual(await sequences(g, e), [...range(1, 30), ...range(36, 40)]);
  });

  test(label('readings missing before the first stored one are a gap from 1, and nothing is confirmed'), async (t) => {
    const { store } = await make(t);
    const g = gw('head');
    assert.equal((await store.storeBatch(idOf(g), batch(g, 5, 10, { epoch: 'e1' }))).confirmed, 0);
    assert.deepEqual(await store.gaps(g, 'e1'), [{ first: 1, last: 4 }]);
  });

  test(label('a new epoch restarting at 1 is new data, the change is recorded, an old epoch late batch stays in it'), async (t) => {
    const { store, sequences } = await make(t);
    const g = gw('epochs');
    await store.storeBatch(idOf(g), batch(g, 1, 10, { epoch: 'aaaa' }));
    const r = await store.storeBatch(idOf(g), batch(g, 1, 4, { epoch: 'bbbb' }));
    assert.deepEqual({ inserted: r.inserted, duplicates: r.duplicates, epoch: r.epoch, confirmed: r.confirmed }, { inserted: 4, duplicates: 0, epoch: 'bbbb', confirmed: 4 });
    assert.ok(r.epochChange, 'the first batch of the new epoch reports the change');
    const { at: _at, ...change } = r.epochChange;
    assert.deepEqual(change, { gateway: g, previousEpoch: 'aaaa', previousLastSeq: 10, previousConfirmed: 10, epoch: 'bbbb' });
    assert.deepEqual((await store.epochChanges(g)).map(({ at: _a, ...c }) => c), [change]);
    assert.equal(await store.epochOf(g), 'bbbb');
    const late = await store.storeBatch(idOf(g), batch(g, 11, 12, { epoch: 'aaaa' }));
    assert.equal(late.epochChange, undefined);
    assert.equal(late.confirmed, 12, 'confirmations are per epoch');
    assert.equal(await store.epochOf(g), 'bbbb', 'a late batch does not switch the gateway back');
    assert.equal((await store.epochChanges(g)).length, 1);
    assert.deepEqual(await sequences(g, 'aaaa'), range(1, 12));
    assert.deepEqual(await sequences(g, 'bbbb'), range(1, 4));
  });

  test(label('a replaced log names its unsent tail: recorded missing and unrecoverable once, still a gap, clipped by a late delivery'), async (t) => {
    const { store } = await make(t);
    const g = gw('tail');
    await store.storeBatch(idOf(g), batch(g, 1, 20, { epoch: 'aaaa' }));
    await store.storeBatch(idOf(g), batch(g, 31, 32, { epoch: 'aaaa' }));
    const fresh = await store.recordUnrecoverable(g, 'aaaa', 15, 50);
    assert.deepEqual(fresh, [{ first: 21, last: 30 }, { first: 33, last: 50 }]);
    assert.deepEqual(await store.gaps(g, 'aaaa'), fresh, 'a visible gap, not silence');
    assert.deepEqual(await store.recordUnrecoverable(g, 'aaaa', 15, 50), [], 'recorded once');
    await store.storeBatch(idOf(g), batch(g, 41, 42, { epoch: 'aaaa' }));
    assert.deepEqual(await store.unrecoverableRanges(g, 'aaaa'), [{ first: 21, last: 30 }, { first: 33, last: 40 }, { first: 43, last: 50 }]);
    assert.equal((await store.storeBatch(idOf(g), batch(g, 1, 3, { epoch: 'bbbb' }))).epochChange?.previousLastSeq, 50, 'the change names where the old log ended');
  });
}
