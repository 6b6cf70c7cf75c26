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
import { startModbusSim } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { freePort } from '@kedge/testkit/ports.ts';
import { simGatewayConfig } from '@kedge/testkit/sim/sim-config.ts';
import { closeAll } from '@kedge/testkit/clean-up.ts';
import { assertEverySequenceOnce, assertSameReadings, Center, GatewayUnderTest } from './harness.ts';

/** Readings the box keeps unsent (center unreachable) before the damage, at least. */
const BACKLOG = 300;

interface Damage {
  name: string;
  /** How the daemon goes down before the damage. */
  stop: 'kill' | 'clean';
  /**
   * Cut off from the center first, so the box holds an unsent backlog in log.db itself (a
   * clean restart while cut off checkpoints it) and more only in the WAL when it dies.
   */
  backlog?: boolean;
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
    name: 'an unsent backlog, SIGKILL, then the WAL deleted',
    stop: 'kill',
    backlog: true,
    apply: (p) => {
      rmSync(`${p}-wal`);
      rmSync(`${p}-shm`, { force: true });
    },
    says: /its write-ahead log \(-wal\) is gone.*: moved it to .*its readings \d+-\d+ were never confirmed by the center and stay only in the moved file/,
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
  t.after(() =>
    closeAll(
      () => gw.stop(),
      () => center.close(),
      () => sim.close(),
    ),
  );
  const logPath = join(gw.dataDir, 'log.db');

  await gw.start();
  /** Per old epoch: the box's last sequence, what the center stored, and what the box said it could not send. */
  const epochs: Array<{ epoch: string; lastSeq: number; stored: number; boxLast: number; lostWithWal: number }> = [];
  const config = (brokerUrl: string) => simGatewayConfig({ gatewayId: gw.id, simPort: sim.port, brokerUrl, intervalMs: 50, dataDir: gw.dataDir });
  center.ingest.on('epoch', (c) => epochChanges.push(c));
  for (const damage of DAMAGES) {
    const epoch = gw.inspectLog().epoch;
    await gw.waitFor(() => center.store.epochOf(gw.id) === epoch && center.confirmed(gw.id) > 300, {
      timeoutMs: 30_000,
      what: `${damage.name}: readings of epoch ${epoch} confirmed`,
    });
    if (damage.backlog) {
      // The center unreachable (a broker port nobody listens on): the box keeps what it polls.
      assert.equal((await gw.stop()).code, 0);
      gw.writeConfig(config(`mqtt://127.0.0.1:${await freePort()}`));
      await gw.start();
      const cursor = gw.inspectLog().uplinkCursor;
      await gw.waitFor(() => gw.inspectLog().lastSeq > cursor + BACKLOG, { timeoutMs: 60_000, what: `${damage.name}: a backlog of ${BACKLOG}` });
      // A clean restart while cut off: the backlog is now in log.db itself, newer readings only in the WAL.
      assert.equal((await gw.stop()).code, 0);
      await gw.start();
      const checkpointed = gw.inspectLog().lastSeq;
      await gw.waitFor(() => gw.inspectLog().lastSeq > checkpointed + 50, { what: `${damage.name}: more readings in the WAL` });
    }
    if (damage.stop === 'kill') await gw.kill();
    else assert.equal((await gw.stop()).code, 0);
    if (damage.stop === 'clean') {
      // A clean stop drained the log: the center holds all of this epoch.
      await gw.waitFor(() => center.confirmed(gw.id) === gw.inspectLog().lastSeq, { what: `${damage.name}: the drain confirmed` });
    }
    // The box's own last sequence (WAL included), not the center's maximum: what the center lacks must show.
    const boxLast = gw.inspectLog().lastSeq;
    damage.apply(logPath);
    if (damage.backlog) gw.writeConfig(config(center.broker.url));

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
    if (damage.backlog) {
      // The birth named the replaced log's readable tail: the center holds it as missing and
      // unrecoverable. The status message is stored apart from the readings waited for above.
      const previous = () => (center.statusMessage(gw.id)?.log as { previous?: { epoch: string; lastSeq: number; confirmed: number } } | undefined)?.previous;
      const said = await gw.waitFor(() => (previous()?.epoch === epoch ? previous() : undefined), {
        what: `${damage.name}: the birth naming the replaced log (epoch ${epoch}) at the center`,
      });
      assert.ok(said.lastSeq - said.confirmed >= BACKLOG, `${damage.name}: the birth names the unsent backlog (${JSON.stringify(said)})`);
      await gw.waitFor(() => center.store.unrecoverableRanges(gw.id, epoch).length > 0, { what: `${damage.name}: the backlog recorded unrecoverable` });
      assert.deepEqual(center.store.unrecoverableRanges(gw.id, epoch), [{ first: said.confirmed + 1, last: said.lastSeq }]);
    }
    const stored = center.store.sequences(gw.id, epoch);
    const unrecoverable = center.store.unrecoverableRanges(gw.id, epoch);
    const reached = Math.max(stored.at(-1) ?? 0, unrecoverable.at(-1)?.last ?? 0);
    epochs.push({ epoch, lastSeq: reached, stored: stored.length, boxLast, lostWithWal: boxLast - reached });
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
  // Every old epoch, up to the box's own last sequence: each stored, or reported missing and
  // unrecoverable (the only gaps), or committed only in a WAL that was lost (a power cut's
  // newest commits: nobody can know them). The change names where the center saw it end.
  const changes = center.store.epochChanges(gw.id);
  assert.equal(changes.length, DAMAGES.length);
  for (const [i, e] of epochs.entries()) {
    const unrecoverable = center.store.unrecoverableRanges(gw.id, e.epoch);
    const unrecoverableCount = unrecoverable.reduce((n, r) => n + r.last - r.first + 1, 0);
    assert.deepEqual(center.store.gaps(gw.id, e.epoch), unrecoverable, `epoch ${e.epoch}: nothing missing that is not reported unrecoverable`);
    assert.equal(center.store.sequences(gw.id, e.epoch).length, e.stored, `epoch ${e.epoch}: nothing arrived late`);
    assert.equal(e.stored + unrecoverableCount + e.lostWithWal, e.boxLast, `epoch ${e.epoch}: every sequence of the box accounted`);
    assert.equal(changes[i]!.previousEpoch, e.epoch);
    assert.equal(changes[i]!.previousLastSeq, e.lastSeq, `the change names the last sequence of epoch ${e.epoch}`);
    if (DAMAGES[i]!.stop === 'clean') assert.deepEqual([unrecoverableCount, e.lostWithWal], [0, 0], `epoch ${e.epoch}: a clean stop loses nothing`);
    if (DAMAGES[i]!.backlog) assert.ok(unrecoverableCount >= BACKLOG, `epoch ${e.epoch}: the backlog is a visible gap, not silence`);
  }
  assert.equal(epochChanges.length, DAMAGES.length, 'the ingest reported each epoch change as an event');
  const summary = center.summary(gw.id)!;
  t.diagnostic(
    `epochs ${[
      ...epochs.map((e) => `${e.epoch}: box 1..${e.boxLast}, stored ${e.stored}, unrecoverable ${e.boxLast - e.stored - e.lostWithWal}, lost with the WAL ${e.lostWithWal}`),
      `${log.epoch}:1..${log.lastSeq} all stored`,
    ].join('; ')}; current epoch 0 missing, 0 content mismatches; duplicates ${summary.duplicates}`,
  );
});
