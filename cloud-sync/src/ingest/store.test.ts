import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import type { Batch } from '../codec/index.ts';
import type { LogRecord, Quality, SeqRange, Value } from '../model.ts';
import type { GatewayIdentity } from '../topics.ts';
import { IngestStore, subtractRanges } from './store.ts';

const T0 = 1_700_000_000_000;

function idOf(gateway: string, municipality = 'kemerovo'): GatewayIdentity {
  return { prefix: 'kedge/v1', region: 'kuzbass', municipality, gateway };
}

function memoryStore(t: test.TestContext): IngestStore {
  const store = new IngestStore(':memory:');
  t.after(() => store.close());
  return store;
}

function record(seq: number, value: Value = seq * 0.5, point = `meter/p${seq % 3}`, quality: Quality = 'good'): LogRecord {
  return { seq, point, ts: T0 + seq * 1000, value, quality };
}

/** A batch of readings first..last, optionally with an evicted prefix first..evictedUpTo. */
function batch(gateway: string, first: number, last: number, evictedUpTo?: number): Batch {
  const from = evictedUpTo === undefined ? first : evictedUpTo + 1;
  const readings: LogRecord[] = [];
  for (let s = from; s <= last; s++) readings.push(record(s));
  return { gateway, first, last, evicted: evictedUpTo === undefined ? [] : [{ first, last: evictedUpTo }], readings };
}

// --- duplicates ----------------------------------------------------------------------------

test('storing the same batch twice keeps one copy and counts the second as duplicates', (t) => {
  const store = memoryStore(t);
  const b = batch('gw1', 1, 10);
  assert.deepEqual(store.storeBatch(idOf('gw1'), b, T0), { inserted: 10, duplicates: 0, previousMax: 0, epoch: '', confirmed: 10 });
  assert.deepEqual(store.storeBatch(idOf('gw1'), b, T0 + 1), { inserted: 0, duplicates: 10, previousMax: 10, epoch: '', confirmed: 10 });
  assert.deepEqual(
    store.sequences('gw1'),
    Array.from({ length: 10 }, (_, i) => i + 1),
  );
  assert.deepEqual(store.readings('gw1'), b.readings);
  const [s] = store.summaries();
  assert.equal(s!.readings, 10);
  assert.equal(s!.duplicates, 10);
});

test('a batch overlapping one already stored inserts only the new part', (t) => {
  const store = memoryStore(t);
  store.storeBatch(idOf('gw1'), batch('gw1', 1, 10));
  assert.deepEqual(store.storeBatch(idOf('gw1'), batch('gw1', 6, 15)), { inserted: 5, duplicates: 5, previousMax: 10, epoch: '', confirmed: 15 });
  assert.equal(store.sequences('gw1').length, 15);
});

test('batches of hundreds of readings (50 rows a statement) count inserted, duplicates and lane crossings row by row', (t) => {
  const store = memoryStore(t);
  const id = idOf('gw1');
  const live = (first: number, last: number): Batch => ({ ...batch('gw1', first, last), live: true });
  assert.deepEqual(store.storeBatch(id, batch('gw1', 1, 120)), { inserted: 120, duplicates: 0, previousMax: 0, epoch: '', confirmed: 120 });
  // 101..200 live: 20 already stored from the backlog (the first live copy: marked, not a duplicate), 80 new.
  const first = store.storeBatch(id, live(101, 200));
  assert.equal(first.inserted, 80);
  assert.equal(first.duplicates, 0);
  assert.deepEqual(store.liveSequences('gw1'), Array.from({ length: 100 }, (_, i) => 101 + i));
  assert.equal(store.storeBatch(id, live(101, 200)).duplicates, 100, 'the same live batch again: all duplicates');
  // The backlog lane resends 1..230: 1..120 again (duplicates), 121..200 first on this lane, 201..230 new.
  const resend = store.storeBatch(id, batch('gw1', 1, 230));
  assert.equal(resend.inserted, 30);
  assert.equal(resend.duplicates, 120);
  assert.equal(resend.confirmed, 230);
  assert.deepEqual(store.sequences('gw1'), Array.from({ length: 230 }, (_, i) => i + 1));
  assert.deepEqual(store.readings('gw1', 0, 1000), batch('gw1', 1, 230).readings, 'every value stored exactly once, in order');
  const [sum] = store.summaries();
  assert.equal(sum!.readings, 230);
  assert.equal(sum!.duplicates, 220);
});

test('the same sequence numbers of two gateways are different readings', (t) => {
  const store = memoryStore(t);
  assert.equal(store.storeBatch(idOf('gw1'), batch('gw1', 1, 5)).inserted, 5);
  assert.equal(store.storeBatch(idOf('gw2'), batch('gw2', 1, 5)).inserted, 5);
  assert.deepEqual(store.sequences('gw2'), [1, 2, 3, 4, 5]);
});

// --- gaps ----------------------------------------------------------------------------------

test('batches 1-10 and 21-30 leave the gap 11-20', (t) => {
  const store = memoryStore(t);
  store.storeBatch(idOf('gw1'), batch('gw1', 1, 10));
  const second = store.storeBatch(idOf('gw1'), batch('gw1', 21, 30));
  assert.equal(second.previousMax, 10);
  assert.deepEqual(store.gaps('gw1'), [{ first: 11, last: 20 }]);
});

test('a gap filled later disappears', (t) => {
  const store = memoryStore(t);
  store.storeBatch(idOf('gw1'), batch('gw1', 1, 10));
  store.storeBatch(idOf('gw1'), batch('gw1', 21, 30));
  store.storeBatch(idOf('gw1'), batch('gw1', 11, 15));
  assert.deepEqual(store.gaps('gw1'), [{ first: 16, last: 20 }]);
  store.storeBatch(idOf('gw1'), batch('gw1', 16, 20));
  assert.deepEqual(store.gaps('gw1'), []);
});

test('ranges a batch reports evicted are not gaps', (t) => {
  const store = memoryStore(t);
  store.storeBatch(idOf('gw1'), batch('gw1', 1, 10));
  store.storeBatch(idOf('gw1'), batch('gw1', 11, 30, 20)); // 11-20 evicted on the gateway, 21-30 sent
  assert.deepEqual(store.gaps('gw1'), []);
  assert.deepEqual(store.evictedRanges('gw1'), [{ first: 11, last: 20 }]);
});

test('only the part of a hole that was not reported evicted is a gap', (t) => {
  const store = memoryStore(t);
  store.storeBatch(idOf('gw1'), batch('gw1', 1, 10));
  // batch 11-15 lost; the next one says 16-20 were evicted
  store.storeBatch(idOf('gw1'), batch('gw1', 16, 30, 20));
  assert.deepEqual(store.gaps('gw1'), [{ first: 11, last: 15 }]);
});

test('readings missing before the first stored one are a gap from 1', (t) => {
  const store = memoryStore(t);
  store.storeBatch(idOf('gw1'), batch('gw1', 5, 8));
  assert.deepEqual(store.gaps('gw1'), [{ first: 1, last: 4 }]);
  assert.deepEqual(store.gaps('never-seen'), []);
});

test('a gap before a batch that carries only evicted ranges is still a gap', (t) => {
  const store = memoryStore(t);
  store.storeBatch(idOf('gw1'), batch('gw1', 1, 5));
  // 6-10 lost on the way; 11-20 all evicted on the gateway (a valid batch without readings)
  store.storeBatch(idOf('gw1'), { gateway: 'gw1', first: 11, last: 20, evicted: [{ first: 11, last: 20 }], readings: [] });
  assert.equal(store.summaries()[0]!.maxSeq, 20);
  assert.deepEqual(store.gaps('gw1'), [{ first: 6, last: 10 }]);
});

test('a batch resent after a lost acknowledgement may report its evicted range grown over stored readings: those stay stored, no gap, no overlap', (t) => {
  const store = memoryStore(t);
  store.storeBatch(idOf('gw1'), batch('gw1', 1, 20, 10)); // stored, but the gateway never got the acknowledgement
  store.storeBatch(idOf('gw1'), batch('gw1', 1, 40, 30)); // resent from its cursor: 1-30 evicted by now
  assert.deepEqual(store.gaps('gw1'), []);
  assert.deepEqual(store.evictedRanges('gw1'), [{ first: 1, last: 10 }, { first: 21, last: 30 }]);
  assert.deepEqual(store.sequences('gw1').slice(0, 10), [11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
  assert.equal(store.summaries()[0]!.evicted, 20);
  assert.equal(store.confirmed('gw1'), 40);
});

test('a reading that arrives inside a range recorded evicted splits the range: every sequence is one or the other', (t) => {
  const store = memoryStore(t);
  store.storeBatch(idOf('gw1'), batch('gw1', 1, 30, 30)); // 1-30 reported evicted
  store.storeBatch(idOf('gw1'), batch('gw1', 12, 14)); // a late batch of real readings inside it
  assert.deepEqual(store.evictedRanges('gw1'), [{ first: 1, last: 11 }, { first: 15, last: 30 }]);
  assert.deepEqual(store.sequences('gw1'), [12, 13, 14]);
  assert.deepEqual(store.gaps('gw1'), []);
});

test('a gateway whose only batch was all evicted has no gap; one whose batch was all lost before it has', (t) => {
  const store = memoryStore(t);
  store.storeBatch(idOf('gw1'), { gateway: 'gw1', first: 1, last: 10, evicted: [{ first: 1, last: 10 }], readings: [] });
  assert.deepEqual(store.gaps('gw1'), []);
  store.storeBatch(idOf('gw2'), { gateway: 'gw2', first: 4, last: 10, evicted: [{ first: 4, last: 10 }], readings: [] });
  assert.deepEqual(store.gaps('gw2'), [{ first: 1, last: 3 }]);
});

// --- summaries -----------------------------------------------------------------------------

test('gateway summaries count readings, duplicates, the highest sequence, evicted readings and the last status', (t) => {
  const store = memoryStore(t);
  store.storeBatch(idOf('gw-b', 'novokuznetsk'), batch('gw-b', 1, 3), T0 + 5);
  store.storeBatch(idOf('gw-a'), batch('gw-a', 1, 10), T0 + 1);
  store.storeBatch(idOf('gw-a'), batch('gw-a', 1, 10), T0 + 2);
  store.storeBatch(idOf('gw-a'), batch('gw-a', 11, 40, 25), T0 + 3); // 11-25 evicted
  store.storeBatch(idOf('gw-a'), { gateway: 'gw-a', first: 41, last: 50, evicted: [{ first: 41, last: 44 }], readings: batch('gw-a', 45, 50).readings }, T0 + 4);
  store.recordStatus(idOf('gw-a'), 'online', JSON.stringify({ state: 'online' }), T0 + 6);
  store.recordStatus(idOf('gw-c'), 'offline', JSON.stringify({ state: 'offline' }), T0 + 7);

  assert.deepEqual(store.summaries(), [
    {
      gateway: 'gw-a',
      region: 'kuzbass',
      municipality: 'kemerovo',
      status: 'online',
      statusAt: T0 + 6,
      lastSeen: T0 + 4,
      epoch: '',
      epochs: 1,
      maxSeq: 50,
      confirmed: 50,
      readings: 10 + 15 + 6,
      duplicates: 10,
      evicted: 15 + 4,
      notYetReceived: 0,
    },
    {
      gateway: 'gw-b',
      region: 'kuzbass',
      municipality: 'novokuznetsk',
      status: null,
      statusAt: null,
      lastSeen: T0 + 5,
      epoch: '',
      epochs: 1,
      maxSeq: 3,
      confirmed: 3,
      readings: 3,
      duplicates: 0,
      evicted: 0,
      notYetReceived: 0,
    },
    {
      gateway: 'gw-c',
      region: 'kuzbass',
      municipality: 'kemerovo',
      status: 'offline',
      statusAt: T0 + 7,
      lastSeen: null,
      epoch: '',
      epochs: 0,
      maxSeq: 0,
      confirmed: 0,
      readings: 0,
      duplicates: 0,
      evicted: 0,
      notYetReceived: 0,
    },
  ]);
});

test('a late, older batch does not lower the highest sequence', (t) => {
  const store = memoryStore(t);
  store.storeBatch(idOf('gw1'), batch('gw1', 21, 30));
  assert.equal(store.storeBatch(idOf('gw1'), batch('gw1', 1, 20)).previousMax, 30);
  assert.equal(store.summaries()[0]!.maxSeq, 30);
  assert.deepEqual(store.gaps('gw1'), []);
});

// --- values --------------------------------------------------------------------------------

const EVERY_KIND: Array<[Value, Quality]> = [
  [231.5, 'good'],
  [-0.001, 'good'],
  [0, 'good'],
  [42, 'good'],
  [Number.MAX_SAFE_INTEGER, 'good'],
  [1e300, 'good'],
  [true, 'good'],
  [false, 'good'],
  ['Кемерово, насосная №3', 'good'],
  ['', 'good'],
  ['123', 'good'],
  [2n ** 64n - 1n, 'good'],
  [-(2n ** 63n), 'good'],
  [12.5, 'uncertain'],
  [null, 'bad_no_response'],
  [null, 'bad_config'],
];

test('values of every kind come back from readings() and latest() exactly as stored', (t) => {
  const store = memoryStore(t);
  const records = EVERY_KIND.map(([value, quality], i) => record(i + 1, value, `meter/v${String(i).padStart(2, '0')}`, quality));
  store.storeBatch(idOf('gw1'), { gateway: 'gw1', first: 1, last: records.length, evicted: [], readings: records });
  assert.deepStrictEqual(store.readings('gw1'), records);
  assert.deepStrictEqual(store.latest('gw1'), records);
});

test('latest() gives the newest reading of each point, ordered by point', (t) => {
  const store = memoryStore(t);
  store.storeBatch(idOf('gw1'), {
    gateway: 'gw1',
    first: 1,
    last: 5,
    evicted: [],
    readings: [record(1, 1, 'm/b'), record(2, 2, 'm/a'), record(3, 3, 'm/b'), record(4, null, 'm/a', 'bad_comm'), record(5, 'x', 'm/c')],
  });
  store.storeBatch(idOf('gw2'), { gateway: 'gw2', first: 1, last: 1, evicted: [], readings: [record(1, 99, 'm/a')] });
  assert.deepStrictEqual(store.latest('gw1'), [record(4, null, 'm/a', 'bad_comm'), record(3, 3, 'm/b'), record(5, 'x', 'm/c')]);
});

test('readings() pages by sequence: after a seq, at most limit', (t) => {
  const store = memoryStore(t);
  store.storeBatch(idOf('gw1'), batch('gw1', 1, 10));
  assert.deepEqual(
    store.readings('gw1', 3, 4).map((r) => r.seq),
    [4, 5, 6, 7],
  );
  assert.deepEqual(store.readings('gw1', 10), []);
});

test('any value round-trips through the store (property)', (t) => {
  const store = memoryStore(t);
  let nextSeq = 1;
  const value: fc.Arbitrary<Value> = fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Object.is(x, -0)),
    fc.integer(),
    fc.boolean(),
    fc.string({ unit: 'grapheme' }),
    fc.string({ unit: fc.constantFrom(...'абвгдеёжзийклмнопрстуфхцчшщъыьэюя0123456789 .\u0000') }),
    fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
  );
  const vq = fc.oneof(
    fc.record({ value, quality: fc.constantFrom<Quality>('good', 'uncertain') }),
    fc.record({ value: fc.constant(null), quality: fc.constantFrom<Quality>('bad_no_response', 'bad_device_error', 'bad_comm', 'bad_decode') }),
  );
  fc.assert(
    fc.property(fc.array(vq, { minLength: 1, maxLength: 20 }), (vqs) => {
      const first = nextSeq;
      const readings = vqs.map((x) => record(nextSeq++, x.value, 'm/p', x.quality));
      store.storeBatch(idOf('gw1'), { gateway: 'gw1', first, last: nextSeq - 1, evicted: [], readings });
      assert.deepStrictEqual(store.readings('gw1', first - 1, readings.length), readings);
    }),
    { numRuns: 200 },
  );
});

// --- rejected ------------------------------------------------------------------------------

test('rejected messages are kept with their topic, error and exact payload', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-ingest-'));
  const path = join(dir, 'sub', 'ingest.db');
  const store = new IngestStore(path);
  t.after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  assert.equal(store.rejectedCount(), 0);
  const garbage = Buffer.from([0x00, 0xff, 0x7b, 0x22]);
  store.reject('kedge/v1/kuzbass/kemerovo/gw1/data', garbage, 'json: not JSON: Unexpected token', T0);
  store.reject('kedge/v1/kuzbass/kemerovo/gw2/data', Buffer.from('{}'), 'json: format: Invalid input', T0 + 1);
  assert.equal(store.rejectedCount(), 2);

  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  const rows = db.prepare('SELECT topic, received_at, error, payload FROM rejected ORDER BY id').all();
  assert.deepEqual(rows, [
    { topic: 'kedge/v1/kuzbass/kemerovo/gw1/data', received_at: T0, error: 'json: not JSON: Unexpected token', payload: garbage },
    { topic: 'kedge/v1/kuzbass/kemerovo/gw2/data', received_at: T0 + 1, error: 'json: format: Invalid input', payload: Buffer.from('{}') },
  ]);
});

// --- subtractRanges ------------------------------------------------------------------------

test('subtractRanges removes the cut ranges from sorted disjoint ranges', () => {
  const r = (first: number, last: number): SeqRange => ({ first, last });
  const cases: Array<[SeqRange[], SeqRange[], SeqRange[], string]> = [
    [[r(1, 10)], [], [r(1, 10)], 'nothing cut'],
    [[], [r(1, 10)], [], 'nothing to cut from'],
    [[r(1, 10)], [r(1, 10)], [], 'exact cut'],
    [[r(5, 10)], [r(1, 20)], [], 'cut covering the range'],
    [[r(1, 10)], [r(4, 6)], [r(1, 3), r(7, 10)], 'cut inside splits the range'],
    [[r(1, 10)], [r(1, 1)], [r(2, 10)], 'first sequence cut'],
    [[r(1, 10)], [r(10, 10)], [r(1, 9)], 'last sequence cut'],
    [[r(5, 10)], [r(1, 6)], [r(7, 10)], 'cut overlapping the left end'],
    [[r(5, 10)], [r(9, 30)], [r(5, 8)], 'cut overlapping the right end'],
    [[r(5, 10)], [r(1, 4), r(11, 20)], [r(5, 10)], 'adjacent cuts leave the range whole'],
    [[r(1, 10), r(20, 30)], [r(8, 22)], [r(1, 7), r(23, 30)], 'one cut across two ranges'],
    [[r(1, 100)], [r(60, 70), r(10, 20), r(40, 40)], [r(1, 9), r(21, 39), r(41, 59), r(71, 100)], 'unsorted cuts'],
  ];
  for (const [ranges, cut, expected, what] of cases) {
    assert.deepEqual(subtractRanges(ranges, cut), expected, what);
  }
});

test('subtractRanges agrees with set difference on small ranges (property)', () => {
  const range = fc.tuple(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 8 })).map(([first, len]) => ({ first, last: first + len }));
  const toSet = (rs: SeqRange[]) => {
    const s = new Set<number>();
    for (const x of rs) for (let i = x.first; i <= x.last; i++) s.add(i);
    return s;
  };
  /** Sorted disjoint, non-adjacent ranges of a set. */
  const toRanges = (s: Set<number>): SeqRange[] => {
    const out: SeqRange[] = [];
    for (const n of [...s].sort((a, b) => a - b)) {
      const lastRange = out[out.length - 1];
      if (lastRange && lastRange.last === n - 1) lastRange.last = n;
      else out.push({ first: n, last: n });
    }
    return out;
  };
  fc.assert(
    fc.property(fc.array(range, { maxLength: 5 }), fc.array(range, { maxLength: 5 }), (a, cut) => {
      const ranges = toRanges(toSet(a));
      const got = subtractRanges(ranges, cut);
      const cutSet = toSet(cut);
      const expected = toRanges(new Set([...toSet(ranges)].filter((n) => !cutSet.has(n))));
      assert.deepEqual(toRanges(toSet(got)), expected);
      // sorted and disjoint
      for (let i = 1; i < got.length; i++) assert.ok(got[i]!.first > got[i - 1]!.last);
      assert.ok(got.every((g) => g.first <= g.last));
    }),
    { numRuns: 300 },
  );
});
