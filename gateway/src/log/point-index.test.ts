/**
 * The log's key <-> id index (point-index.ts): hash tables over flat arrays instead of two
 * Maps. A wrong answer here is a reading stored or served under another point, so every
 * lookup is checked against a Map model, through collisions, growth, ids of any size and
 * rolled-back points.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { runs } from '@kedge/testkit/fuzz.ts';
import { PointIndex, hashKey } from './point-index.ts';

/** Every key and id of `model` is found both ways, at the slot of insertion order. */
function assertMatches(index: PointIndex, model: Array<[string, number]>): void {
  assert.equal(index.size, model.length);
  for (const [slot, [key, id]] of model.entries()) {
    assert.equal(index.slotOfKey(key), slot, `slot of key ${key}`);
    assert.equal(index.slotOfId(id), slot, `slot of id ${id}`);
    assert.equal(index.key(slot), key);
    assert.equal(index.id(slot), id);
  }
}

test('keys whose hashes share the table index are told apart, and an unknown key of the same index is unknown', () => {
  // 60 keys and then some falling into one entry of the first table (64 entries): one long probe run.
  const crowd: string[] = [];
  for (let i = 0; crowd.length < 40; i++) if ((hashKey(`dev/p${i}`) & 63) === 5) crowd.push(`dev/p${i}`);
  const index = new PointIndex();
  const model: Array<[string, number]> = [];
  for (const key of crowd.slice(0, 30)) model.push([key, index.add(key, model.length + 1) + 1]);
  assertMatches(index, model);
  for (const key of crowd.slice(30)) assert.equal(index.slotOfKey(key), -1, `${key} was never added`);
});

test('two keys with the very same 32-bit hash are told apart', () => {
  const seen = new Map<number, string>();
  let pair: [string, string] | null = null;
  for (let i = 0; pair === null; i++) {
    const key = `d${i >> 8}/t${i}`;
    const other = seen.get(hashKey(key));
    if (other !== undefined) pair = [other, key];
    else seen.set(hashKey(key), key);
  }
  const index = new PointIndex();
  index.add(pair[0], 1);
  assert.equal(index.slotOfKey(pair[1]), -1, 'same hash, other key: unknown');
  index.add(pair[1], 2);
  assertMatches(index, [
    [pair[0], 1],
    [pair[1], 2],
  ]);
});

test('grows from empty to 20,000 points, finding every one both ways at every size it passes', () => {
  const index = new PointIndex();
  const model: Array<[string, number]> = [];
  assert.equal(index.slotOfKey('a/b'), -1);
  assert.equal(index.slotOfId(1), -1);
  for (let i = 0; i < 20_000; i++) {
    const key = `dev-${i % 97}/point-${i}`;
    model.push([key, index.add(key, i + 1) + 1]);
    // Around each doubling of the tables (and a few points in between): nothing lost in the rehash.
    if ((i & (i + 1)) === 0 || (i & (i - 1)) === 0 || i % 4999 === 0) assertMatches(index, model);
  }
  assertMatches(index, model);
  for (const unknown of ['dev-0/point-20000', '', 'dev-0/point-', 'DEV-0/point-0']) assert.equal(index.slotOfKey(unknown), -1, unknown);
  for (const unknown of [0, -1, 20_001, 1.5, 2 ** 40, Number.NaN]) assert.equal(index.slotOfId(unknown), -1, String(unknown));
});

test('ids off the 1, 2, 3... line (gaps, past 2^31, near 2^53, zero, negative) keep every earlier point findable', () => {
  const index = new PointIndex();
  const model: Array<[string, number]> = [];
  for (const id of [1, 2, 3]) model.push([`p/${id}`, index.add(`p/${id}`, id) + 1]);
  assertMatches(index, model);
  for (const id of [7, 2 ** 31 + 5, 2 ** 32 + 7, 2 ** 42, 2 ** 53 - 1, 0, -1, -(2 ** 40), 8]) {
    assert.equal(index.slotOfId(id), -1, `${id} before it is added`);
    index.add(`q/${id}`, id);
    model.push([`q/${id}`, id]);
    assertMatches(index, model);
  }
  // An id whose low 32 bits equal another's: the whole id decides.
  assert.equal(index.slotOfId(5), -1);
  assert.equal(index.slotOfId(2 ** 32 + 5), -1);
  for (let i = 0; i < 3000; i++) {
    const id = 2 ** 42 + 1 + i * 3;
    index.add(`r/${i}`, id);
    model.push([`r/${i}`, id]);
  }
  assertMatches(index, model);
});

test('truncate takes back the newest points; the slots and ids they had go to whatever is added next', () => {
  const index = new PointIndex();
  for (const [i, key] of ['a', 'b', 'c', 'd'].entries()) index.add(key, i + 1);
  index.truncate(2);
  assertMatches(index, [
    ['a', 1],
    ['b', 2],
  ]);
  assert.equal(index.slotOfKey('c'), -1);
  assert.equal(index.slotOfId(3), -1);
  assert.equal(index.key(2), undefined, 'a slot past the end has no key (a stale successor guess fails)');
  // SQLite gives a rolled-back id to the next insert, which may be another key.
  index.add('d', 3);
  index.add('c', 4);
  assertMatches(index, [
    ['a', 1],
    ['b', 2],
    ['d', 3],
    ['c', 4],
  ]);
  index.truncate(10);
  assert.equal(index.size, 4, 'truncating past the end changes nothing');
});

test('commits rolled back again and again (a disk refusing every retry) leave no stale entries filling the tables', () => {
  // Without the rebuild, each round's entries stay behind: the first table is full within two
  // rounds and the next insert probes for an empty entry forever.
  for (const ids of ['dense', 'sparse'] as const) {
    const index = new PointIndex();
    index.add('kept', ids === 'dense' ? 1 : 2 ** 40);
    for (let round = 0; round < 500; round++) {
      for (let i = 0; i < 40; i++) index.add(`new-${round}/${i}`, ids === 'dense' ? i + 2 : 2 ** 40 + 1 + i);
      index.truncate(1);
    }
    assertMatches(index, [['kept', ids === 'dense' ? 1 : 2 ** 40]]);
    assert.equal(index.slotOfKey('new-499/0'), -1);
  }
});

test('adopt keeps a point at its slot under an equal key', () => {
  const index = new PointIndex();
  index.add('dev/p', 1);
  const fromConfig = ['dev', 'p'].join('/');
  index.adopt(0, fromConfig);
  assertMatches(index, [['dev/p', 1]]);
});

type Op = { t: 'add'; key: string; id: number } | { t: 'truncate'; to: number } | { t: 'look'; key: string; id: number };

test('property: any sequence of adds and truncates answers every lookup like a pair of Maps', () => {
  // Few distinct keys and ids so that lookups hit, misses share hash entries, and adds reuse taken-back ones.
  const key = fc.oneof(fc.constantFrom('a', 'b', 'c/d', 'c/e', ''), fc.string({ maxLength: 6 }));
  const id = fc.oneof(fc.integer({ min: -3, max: 40 }), fc.constantFrom(2 ** 31, 2 ** 31 + 1, 2 ** 32 + 1, 2 ** 50));
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ t: fc.constant('add' as const), key, id }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('truncate' as const), to: fc.nat({ max: 60 }) }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('look' as const), key, id }) },
  );
  // Runs of dense ids, as the log's own files have, so the dense-to-sparse switch comes mid-sequence.
  const dense = fc.nat({ max: 120 });
  fc.assert(
    fc.property(dense, fc.array(op, { maxLength: 200 }), (denseFirst, ops) => {
      const index = new PointIndex();
      const model: Array<[string, number]> = [];
      const add = (k: string, i: number) => {
        // The file's UNIQUE constraints: a key or an id is never added twice.
        if (model.some(([mk, mi]) => mk === k || mi === i)) return;
        assert.equal(index.add(k, i), model.length);
        model.push([k, i]);
      };
      for (let i = 1; i <= denseFirst; i++) add(`dense/${i}`, i);
      for (const o of ops) {
        if (o.t === 'add') add(o.key, o.id);
        else if (o.t === 'truncate') {
          index.truncate(o.to);
          model.length = Math.min(model.length, o.to);
        } else {
          assert.equal(index.slotOfKey(o.key), model.findIndex(([k]) => k === o.key), `key ${JSON.stringify(o.key)}`);
          assert.equal(index.slotOfId(o.id), model.findIndex(([, i]) => i === o.id), `id ${o.id}`);
        }
      }
      assertMatches(index, model);
    }),
    { numRuns: runs(200) },
  );
});
