/**
 * The log keeps its point key <-> id mapping in a compact index (point-index.ts), rebuilt from
 * the points table at every open. Reopened, a log must serve every stored row under its own
 * key, write new rows of a known point under that point's id (never a second points row),
 * and number new points after the file's own, whatever ids the file holds.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Reading } from '@kedge/cloud-sync/model.ts';
import { ReadingLog } from './reading-log.ts';

function rig(t: test.TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-point-mapping-'));
  const path = join(dir, 'log.db');
  const opened: ReadingLog[] = [];
  const open = () => {
    const log = new ReadingLog(path, { maxBytes: 256 * 1024 * 1024, flushMs: 60_000, flushRows: 1_000_000, synchronous: 'normal', retainAckedMs: 3_600_000 });
    opened.push(log);
    return log;
  };
  t.after(() => {
    for (const log of opened) log.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const file = () => {
    const db = new Database(path, { readonly: true });
    try {
      return {
        points: new Map((db.prepare('SELECT key, id FROM points').all() as Array<{ key: string; id: number }>).map((r) => [r.key, r.id])),
        rows: db.prepare('SELECT p.key AS key, r.value AS value FROM readings r JOIN points p ON p.id = r.point ORDER BY r.seq').all() as Array<{ key: string; value: number }>,
      };
    } finally {
      db.close();
    }
  };
  return { path, open, file };
}

let n = 0;
const poll = (keys: readonly string[]): Reading[] => keys.map((point) => ({ point, ts: 1_700_000_000_000 + n, value: n++, quality: 'good' }));

test('reopened, a log of 3,000 points serves every row under its key and writes known points under their ids', (t) => {
  const r = rig(t);
  // Built at run time, as the config builds `${device}/${point}`: the log may hold these strings.
  const keys = Array.from({ length: 3000 }, (_, i) => `dev-${i % 31}/point-${i}`);
  const written: Reading[] = [];
  const first = r.open();
  for (let round = 0; round < 2; round++) {
    const batch = poll(keys);
    written.push(...batch);
    first.append(batch);
    first.flush();
  }
  first.close();
  const idsBefore = r.file().points;
  assert.equal(idsBefore.size, keys.length);

  const log = r.open();
  assert.deepEqual(
    log.readStored(0, 1_000_000).map((x) => [x.point, x.value]),
    written.map((x) => [x.point, x.value]),
    'every stored row under its own key',
  );
  assert.deepEqual(
    log.latestAfter(0).map((x) => [x.point, x.value]),
    written.slice(keys.length).map((x) => [x.point, x.value]),
    'the newest row of each point, found in the file',
  );
  // Reversed (no successor guess holds) and with new points among them.
  const fresh = ['new/a', 'new/b'];
  const again = poll([...keys].reverse().flatMap((k, i) => (i === 1000 ? [fresh[0]!, k] : i === 2000 ? [k, fresh[1]!] : [k])));
  written.push(...again);
  log.append(again);
  assert.equal(log.flush(), again.length);
  const after = r.file();
  for (const [key, id] of idsBefore) assert.equal(after.points.get(key), id, `${key} keeps its id`);
  assert.equal(after.points.size, keys.length + fresh.length, 'one points row per key');
  const maxBefore = Math.max(...idsBefore.values());
  assert.deepEqual(
    fresh.map((k) => after.points.get(k)),
    [maxBefore + 1, maxBefore + 2],
  );
  assert.deepEqual(
    after.rows.map((x) => [x.key, x.value]),
    written.map((x) => [x.point, x.value]),
    'the file names each row by its own point',
  );
  const k = keys[1234]!;
  assert.deepEqual(
    log.recentReadings(k, 0).map((x) => x.value),
    written.filter((x) => x.point === k).map((x) => x.value),
  );
  assert.deepEqual(log.recentReadings('dev-0/never-configured', 0), []);
});

test('a file whose point ids have gaps and run past 2^32 opens with every key at its id, and new points come after the largest', (t) => {
  const r = rig(t);
  r.open().close();
  const db = new Database(r.path);
  const byHand: Array<[number, string]> = [
    [1, 'm/a'],
    [2, 'm/b'],
    [10, 'm/c'],
    [2 ** 32 + 1, 'm/d'],
  ];
  try {
    const insertPoint = db.prepare('INSERT INTO points (id, key) VALUES (?, ?)');
    const insertRow = db.prepare("INSERT INTO readings (ts, point, value, flags) VALUES (1700000000000, ?, ?, 0)");
    for (const [id, key] of byHand) insertPoint.run(id, key);
    for (const [i, [id]] of byHand.entries()) insertRow.run(id, i);
  } finally {
    db.close();
  }
  const log = r.open();
  assert.deepEqual(
    log.readStored(0, 100).map((x) => [x.point, x.value]),
    byHand.map(([, key], i) => [key, i]),
  );
  log.append(poll(['m/d', 'm/new', 'm/a', 'm/c']));
  log.flush();
  const after = r.file();
  assert.equal(after.points.get('m/new'), 2 ** 32 + 2);
  for (const [id, key] of byHand) assert.equal(after.points.get(key), id);
  assert.deepEqual(
    after.rows.slice(byHand.length).map((x) => x.key),
    ['m/d', 'm/new', 'm/a', 'm/c'],
  );
});

test('a stored row naming a point id the points table lacks is reported as corrupt, not served under another key', (t) => {
  const r = rig(t);
  const log = r.open();
  log.append(poll(['x/a', 'x/b']));
  log.flush();
  log.close();
  const db = new Database(r.path);
  try {
    db.prepare("INSERT INTO readings (ts, point, value, flags) VALUES (1700000000000, 3, 1, 0)").run();
  } finally {
    db.close();
  }
  const reopened = r.open();
  assert.throws(() => reopened.readStored(0, 100), /corrupt log: reading 3 names unknown point 3/);
});
