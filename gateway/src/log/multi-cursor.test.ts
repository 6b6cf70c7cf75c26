/**
 * Several sinks read one log, each by its own cursor (issue 19): the log prunes and evicts by
 * the lowest of the configured cursors, each sink learns of exactly the evictions of readings
 * it had not delivered, and a sink removed from the config stops holding the log back.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogRecord, Reading, SeqRange } from '@kedge/cloud-sync/model.ts';
import { ReadingLog, type EvictionReport, type ReadingLogOptions } from './reading-log.ts';

const MiB = 1024 * 1024;

function tempLog(t: test.TestContext, opts: Partial<ReadingLogOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-multicursor-'));
  const path = join(dir, 'log.db');
  const options: ReadingLogOptions = { maxBytes: 64 * MiB, flushMs: 20, flushRows: 5000, synchronous: 'normal', retainAckedMs: 60_000, ...opts };
  const logs: ReadingLog[] = [];
  const open = () => {
    const log = new ReadingLog(path, options);
    logs.push(log);
    return log;
  };
  t.after(() => {
    for (const l of logs) l.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { log: open(), open };
}

function readings(n: number, point = 'meter/flow', t0 = 1_700_000_000_000): Reading[] {
  return Array.from({ length: n }, (_, i) => ({ point, ts: t0 + i, value: i, quality: 'good' as const }));
}

/** The holes a sink at `cursor` sees in what the log gives it: exactly what it reports as evicted. */
function holesAfter(records: LogRecord[], cursor: number): SeqRange[] {
  const out: SeqRange[] = [];
  let expected = cursor + 1;
  for (const r of records) {
    if (r.seq > expected) out.push({ first: expected, last: r.seq - 1 });
    expected = r.seq + 1;
  }
  return out;
}

test('acknowledged readings are pruned only once every configured sink has them', (t) => {
  let now = 1_700_000_000_000;
  const { log } = tempLog(t, { now: () => now });
  log.setSinks(['regional', 'scada']);
  log.append(readings(10, 'd/p', now));
  log.flush();
  log.advance('regional', 10);
  log.advance('scada', 4);
  now += 61_000;
  log.maintain();
  assert.deepEqual(log.readAfter(0, 100).map((r) => r.seq), [5, 6, 7, 8, 9, 10], 'the slower sink still gets 5-10');
  assert.deepEqual(holesAfter(log.readAfter(log.cursor('scada'), 100), log.cursor('scada')), [], 'nothing it needs is gone');
  const s = log.stats();
  assert.equal(s.ackedSeq, 4, 'the lowest cursor is what the log holds back for');
  assert.deepEqual(
    s.sinks.map((x) => [x.name, x.cursor, x.unacked, x.evicted]),
    [
      ['regional', 10, 0, 0],
      ['scada', 4, 6, 0],
    ],
  );
  log.advance('scada', 10);
  log.maintain();
  assert.equal(log.stats().rows, 0, 'both have everything: pruned');
  assert.equal(log.evictedTotal(), 0);
});

test('over the size cap, readings one sink had not delivered are evicted and reported to that sink only', (t) => {
  const { log } = tempLog(t, { maxBytes: 1 * MiB });
  log.setSinks(['regional', 'scada']);
  const reports: EvictionReport[] = [];
  log.onEvict((e) => reports.push(e));
  // The regional broker keeps up; the SCADA host is away the whole time.
  for (let i = 0; i < 40; i++) {
    log.append(readings(5000, `dev/p${i % 7}`));
    log.flush();
    log.advance('regional', log.lastSeq());
  }
  const s = log.stats();
  assert.ok(s.evictedTotal > 0, 'the cap was reached');
  assert.equal(s.evictedTotal + s.rows, 200_000, 'every sequence is held or evicted');
  assert.equal(log.sinkEvicted('scada'), s.evictedTotal, 'the sink that was away lost what was evicted');
  assert.equal(log.sinkEvicted('regional'), 0, 'the sink that had delivered everything lost nothing');
  for (const r of reports) assert.deepEqual(Object.keys(r.sinks ?? {}), ['scada'], `report ${r.first}-${r.last} names only the sink that lacked it`);
  assert.equal(reports.reduce((n, r) => n + (r.sinks?.scada ?? 0), 0), s.evictedTotal);
  // What each sink's next batch would carry as evicted ranges.
  const scada = log.cursor('scada');
  assert.deepEqual(holesAfter(log.readAfter(scada, 10), scada), [{ first: 1, last: s.evictedTotal }]);
  const regional = log.cursor('regional');
  assert.deepEqual(log.readAfter(regional, 10), [], 'the regional sink has nothing pending and no hole to report');
  assert.deepEqual(
    s.sinks.map((x) => [x.name, x.evicted]),
    [
      ['regional', 0],
      ['scada', s.evictedTotal],
    ],
  );
});

test('a sink partway through an evicted range is told only of the readings after its own cursor', (t) => {
  const { log } = tempLog(t, { maxBytes: 1 * MiB });
  log.setSinks(['fast', 'slow', 'away']);
  const reports: EvictionReport[] = [];
  log.onEvict((e) => reports.push(e));
  log.append(readings(5000));
  log.flush();
  log.advance('slow', 3000);
  log.advance('fast', 5000);
  while (log.evictedTotal() < 6000) {
    log.append(readings(5000));
    log.flush();
    log.advance('fast', log.lastSeq());
  }
  const evicted = log.evictedTotal();
  assert.equal(log.sinkEvicted('away'), evicted);
  assert.equal(log.sinkEvicted('slow'), evicted - 3000, 'the 3000 it had delivered are not its loss');
  assert.equal(log.sinkEvicted('fast'), 0);
  const slowFirst = reports.find((r) => r.sinks?.slow !== undefined);
  assert.ok(slowFirst, 'the slow sink was told');
  const slow = log.cursor('slow');
  assert.deepEqual(holesAfter(log.readAfter(slow, 5), slow), [{ first: 3001, last: evicted }]);
});

test('a sink removed from the config stops holding the log back: its cursor is dropped, and said', (t) => {
  let now = 1_700_000_000_000;
  const warnings: Array<{ msg: string; details: Record<string, unknown> }> = [];
  const { log, open } = tempLog(t, { now: () => now, onWarn: (msg, details) => warnings.push({ msg, details }) });
  log.setSinks(['regional', 'old-scada']);
  log.append(readings(10, 'd/p', now));
  log.flush();
  log.advance('regional', 10);
  log.advance('old-scada', 2);
  now += 61_000;
  log.maintain();
  assert.equal(log.firstSeq(), 3, 'held back by old-scada');
  const change = log.setSinks(['regional']);
  assert.deepEqual(change.dropped, [{ name: 'old-scada', cursor: 2 }]);
  assert.ok(warnings.some((w) => w.msg.includes('"old-scada" is no longer configured') && w.details.cursor === 2), 'the drop is logged with its position');
  log.maintain();
  assert.equal(log.stats().rows, 0, 'pruned by the remaining sink alone');
  log.close();
  const again = open();
  again.setSinks(['regional']);
  assert.equal(again.cursor('old-scada'), 0, 'the dropped cursor is gone from the file');
  assert.deepEqual(again.stats().sinks.map((s) => s.name), ['regional']);
});

test('a new sink starts with what the log holds: what was pruned before it existed is not reported as evicted', (t) => {
  let now = 1_700_000_000_000;
  const infos: string[] = [];
  const { log } = tempLog(t, { now: () => now, onInfo: (m) => infos.push(m) });
  log.setSinks(['uplink']);
  log.append(readings(10, 'd/p', now));
  log.flush();
  log.advance('uplink', 6);
  now += 61_000;
  log.maintain();
  assert.equal(log.firstSeq(), 7);
  const change = log.setSinks(['uplink', 'https-city']);
  assert.deepEqual(change.added, [{ name: 'https-city', startAfter: 6 }]);
  assert.ok(infos.some((m) => m.includes('new uplink "https-city" starts after sequence 6')));
  const c = log.cursor('https-city');
  assert.deepEqual(holesAfter(log.readAfter(c, 100), c), [], 'no false eviction');
  assert.deepEqual(log.readAfter(c, 100).map((r) => r.seq), [7, 8, 9, 10], 'it gets everything still held');
  assert.equal(log.stats().ackedSeq, 6);
});

test('the legacy single uplink that never had an acknowledgement keeps reporting what the cap evicted before', (t) => {
  const { log } = tempLog(t, { maxBytes: 1 * MiB });
  // An older version: no setSinks call, cursor 'uplink' never written.
  for (let i = 0; i < 40 && log.evictedTotal() === 0; i++) {
    log.append(readings(5000));
    log.flush();
  }
  assert.ok(log.evictedTotal() > 0);
  log.setSinks(['uplink']);
  assert.equal(log.cursor('uplink'), 0, 'it starts at 0, so the evicted range is reported to the center');
  assert.deepEqual(holesAfter(log.readAfter(0, 1), 0), [{ first: 1, last: log.evictedTotal() }]);
  assert.equal(log.sinkEvicted('uplink'), log.evictedTotal(), 'before setSinks, the legacy uplink is the sink');
});

test('a new epoch drops only what every sink delivered, and every sink starts it at 0', (t) => {
  const { log } = tempLog(t);
  log.setSinks(['regional', 'scada']);
  log.append(readings(10));
  log.flush();
  log.advance('regional', 8);
  log.advance('scada', 5);
  log.startNewEpoch('test');
  assert.deepEqual(log.readAfter(0, 100).map((r) => r.seq), [1, 2, 3, 4, 5], 'readings 6-10 renumbered, none lost for scada');
  assert.equal(log.cursor('regional'), 0);
  assert.equal(log.cursor('scada'), 0);
});

test('setSinks refuses an empty list: nothing would hold the log back', (t) => {
  const { log } = tempLog(t);
  assert.throws(() => log.setSinks([]), /at least one sink/);
});

test('counters kept among the cursors (Sparkplug bdSeq) survive setSinks and never hold the log back', (t) => {
  let now = 1_700_000_000_000;
  const { log } = tempLog(t, { now: () => now });
  log.advance('sparkplug-bdseq', 7);
  log.setSinks(['uplink'], ['sparkplug-bdseq']);
  assert.equal(log.cursor('sparkplug-bdseq'), 7, 'not dropped as a removed sink');
  assert.equal(log.cursor('uplink'), 0, 'the counter does not make the log look acknowledged before');
  log.append(readings(10, 'd/p', now));
  log.flush();
  log.advance('uplink', 10);
  now += 61_000;
  log.maintain();
  assert.equal(log.stats().rows, 0, 'the counter (7) does not hold the log back');
  assert.throws(() => log.setSinks(['sparkplug-bdseq'], ['sparkplug-bdseq']), /a counter of the log, not a sink name/);
});

test('a new epoch renumbers the sinks but keeps counting the Sparkplug bdSeq counter (a center must never see a bdSeq again)', (t) => {
  const { log } = tempLog(t);
  log.setSinks(['regional'], ['sparkplug-bdseq']);
  log.advance('sparkplug-bdseq', 41);
  log.append(readings(10));
  log.flush();
  log.advance('regional', 4);
  log.startNewEpoch('test');
  assert.equal(log.cursor('regional'), 0);
  assert.equal(log.cursor('sparkplug-bdseq'), 41, 'the counter is not a position in the old numbering');
  assert.deepEqual(log.readAfter(0, 100).map((r) => r.seq), [1, 2, 3, 4, 5, 6]);
});
