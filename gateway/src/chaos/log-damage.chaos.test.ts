/**
 * A broken or lost log file never restarts sequences silently. The real daemon meets a
 * zero-length, a garbage-filled and a truncated log.db, a SIGKILL followed by a deleted WAL,
 * and a deleted log.db: each time it moves the damaged file aside (kept, timestamped) or
 * notices the missing one (the identity file beside it names its epoch), starts a new epoch,
 * says so in one line naming the file, and the center stores the new epoch's readings as new
 * data (never as duplicates of the old epoch's sequences), records the epoch change with the
 * last sequence of the old epoch, and ends with every sequence of every epoch accounted for.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startModbusSim } from '@kedge/scripts/sim/modbus-tcp-sim.ts';
import { assertEverySequenceOnce, assertSameReadings, Center, GatewayUnderTest } from './harness.ts';

interface Damage {
  name: string;
  /** How the daemon goes down before the damage. */
  stop: 'kill' | 'clean';
  apply(logPath: string): void;
  says: RegExp;
}

const DAMAGES: Damage[] = [
  { name: 'zero-length log.db', stop: 'clean', apply: (p) => writeFileSync(p, ''), says: /is empty \(zero length\): moved it to / },
  { name: 'garbage-filled log.db', stop: 'clean', apply: (p) => writeFileSync(p, randomBytes(statSync(p).size)), says: /is not an SQLite database .*: moved it to / },
  {
    name: 'log.db truncated to half',
    stop: 'clean',
    apply: (p) => truncateSync(p, Math.floor(statSync(p).size / 2 / 4096) * 4096),
    says: /is truncated: .*: moved it to /,
  },
  {
    name: 'SIGKILL, then the WAL deleted',
    stop: 'kill',
    apply: (p) => {
      rmSync(`${p}-wal`);
      rmSync(`${p}-shm`, { force: true });
    },
    says: /its write-ahead log \(-wal\) is gone.*: moved it to /,
  },
  {
    name: 'log.db deleted',
    stop: 'clean',
    apply: (p) => rmSync(p),
    says: /is missing \(it held epoch [0-9a-f]+\): started a new log/,
  },
];

test('a damaged or lost log starts a new epoch, loudly; the center keeps both epochs apart and misses nothing', async (t) => {
  const sim = await startModbusSim();
  const center = await Center.start('chaos-log-damage');
  const epochChanges: Array<{ previousEpoch: string; previousLastSeq: number; epoch: string }> = [];
  const gw = GatewayUnderTest.sim(center.dir, { gatewayId: 'gw-log-damage', simPort: sim.port, brokerUrl: center.broker.url, intervalMs: 50 });
  t.after(async () => {
    await gw.stop();
    await center.close();
    await sim.close();
  });
  const logPath = join(gw.dataDir, 'log.db');

  await gw.start();
  const epochs: Array<{ epoch: string; lastSeq: number }> = [];
  center.ingest.on('epoch', (c) => epochChanges.push(c));
  for (const damage of DAMAGES) {
    const epoch = gw.inspectLog().epoch;
    await gw.waitFor(() => center.store.epochOf(gw.id) === epoch && center.confirmed(gw.id) > 300, {
      timeoutMs: 30_000,
      what: `${damage.name}: readings of epoch ${epoch} confirmed`,
    });
    if (damage.stop === 'kill') await gw.kill();
    else assert.equal((await gw.stop()).code, 0);
    if (damage.stop === 'clean') {
      // A clean stop drained the log: the center holds all of this epoch.
      await gw.waitFor(() => center.confirmed(gw.id) === gw.inspectLog().lastSeq, { what: `${damage.name}: the drain confirmed` });
    }
    epochs.push({ epoch, lastSeq: center.maxSeq(gw.id) });
    damage.apply(logPath);

    await gw.start();
    const line = gw.output().split('\n').find((l) => l.includes(`reading log ${logPath}`) && l.includes('started a new log')) ?? '';
    assert.match(line, damage.says, `${damage.name}: one line says what happened`);
    assert.doesNotMatch(line, /\\n\s+at |"stack"/, 'no stack trace');
    const fresh = gw.inspectLog().epoch;
    assert.notEqual(fresh, epoch, `${damage.name}: a new epoch`);
    assert.match(line, new RegExp(`epoch ${fresh} \\(was ${epoch}\\)`));
    await gw.waitFor(() => center.store.epochOf(gw.id) === fresh && center.maxSeq(gw.id) > 100, {
      timeoutMs: 30_000,
      what: `${damage.name}: the new epoch stored at the center`,
    });
    // Sequences 1.. again: stored as new data, not as duplicates of the old epoch's.
    assert.equal(center.store.readings(gw.id, 0, 1)[0]?.seq, 1);
  }
  assert.equal((await gw.stop()).code, 0);
  const moved = readdirSync(gw.dataDir).filter((f) => /^log\.db\.damaged-[0-9TZ-]+(-\d+)?$/.test(f));
  const damagedFiles = DAMAGES.filter((d) => d.name !== 'log.db deleted').length;
  assert.equal(moved.length, damagedFiles, `every damaged file is kept: ${moved.join(', ')}`);

  const log = gw.inspectLog();
  await gw.waitFor(() => center.confirmed(gw.id) === log.lastSeq, { timeoutMs: 30_000, what: `the center to confirm up to ${log.lastSeq}` });
  // The current epoch: every sequence once, each the reading the log holds.
  const coverage = assertEverySequenceOnce(center.store, gw.id, log.lastSeq);
  assert.deepEqual(coverage, { stored: log.lastSeq, evicted: 0 });
  assert.equal(assertSameReadings(center.store, gw), log.lastSeq, 'no reading of an old epoch stands in for a new one');
  // Every old epoch: what the center got is whole (no hole), and the change names where it ended.
  const changes = center.store.epochChanges(gw.id);
  assert.equal(changes.length, DAMAGES.length);
  for (const [i, e] of epochs.entries()) {
    assert.deepEqual(center.store.gaps(gw.id, e.epoch), [], `epoch ${e.epoch}: no sequence missing`);
    assert.equal(changes[i]!.previousEpoch, e.epoch);
    assert.equal(changes[i]!.previousLastSeq, e.lastSeq, `the change names the last sequence of epoch ${e.epoch}`);
    assert.equal(center.store.sequences(gw.id, e.epoch).length, e.lastSeq);
  }
  assert.equal(epochChanges.length, DAMAGES.length, 'the ingest reported each epoch change as an event');
  const summary = center.summary(gw.id)!;
  t.diagnostic(
    `epochs ${[...epochs.map((e) => `${e.epoch}:1..${e.lastSeq}`), `${log.epoch}:1..${log.lastSeq}`].join(', ')}; all stored, 0 missing; current epoch 0 content mismatches; duplicates ${summary.duplicates}`,
  );
});
