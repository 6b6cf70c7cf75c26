import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OffsetClock, type Clock } from '@kedge/cloud-sync/clock.ts';
import { RELEASE_FLOOR, watchBoxClock } from './box-clock.ts';

const T0 = Date.UTC(2026, 11, 1, 12);
const YEAR = 365 * 86_400_000;

function setup(t: test.TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-box-clock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lines: { level: string; msg: string }[] = [];
  const logger = { warn: (_: object, msg: string) => lines.push({ level: 'warn', msg }), info: (_: object, msg: string) => lines.push({ level: 'info', msg }) };
  const base: Clock & { t: number } = { t: 0, mono: () => base.t, wall: () => T0 + base.t };
  return { dir, lines, logger, base };
}

test('a box that restarts with its clock a year behind the last run is wrong from the start, and trusted once NTP sets it', (t) => {
  const { dir, lines, logger, base } = setup(t);
  const first = watchBoxClock({ clock: new OffsetClock(base), dataDir: dir, logger });
  base.t += 60_000;
  first.stop(); // a clean stop leaves the floor
  assert.equal(Number(readFileSync(join(dir, 'clock-floor'), 'utf8')), T0 + 60_000);

  // Power loss without an RTC: the next boot's clock reads a year earlier.
  const clock = new OffsetClock(base);
  clock.jump(-YEAR);
  const second = watchBoxClock({ clock, dataDir: dir, logger });
  t.after(() => second.stop());
  assert.equal(second.snapshot().state, 'wrong');
  assert.deepEqual(lines.map((l) => l.level), ['warn']);
  assert.match(lines[0]!.msg, /before a time this box already saw .*marked uncertain_clock/);

  base.t += 5000;
  clock.jump(YEAR + 5000); // NTP
  assert.equal(second.check().state, 'ok');
  assert.deepEqual(lines.map((l) => l.level), ['warn', 'warn'], 'one line for the jump that set it right, no second one');
  assert.match(lines[1]!.msg, /jumped forward by 365d 5s: taken as a correction \(readings are not marked\)/);
});

test('a clock before the release date is wrong even on a first boot (no floor file yet)', (t) => {
  const { dir, logger, base } = setup(t);
  const clock = new OffsetClock(base);
  clock.jump(Date.UTC(1970, 0, 2) - T0);
  const w = watchBoxClock({ clock, dataDir: dir, logger });
  t.after(() => w.stop());
  assert.ok(clock.wall() < RELEASE_FLOOR);
  assert.equal(w.snapshot().state, 'wrong');
});

test('a step back is logged once, as wrong; systemd-timesyncd touching its file after the jump makes the clock trusted', (t) => {
  const { dir, lines, logger, base } = setup(t);
  const syncFile = join(dir, 'synchronized');
  const clock = new OffsetClock(base);
  const w = watchBoxClock({ clock, dataDir: dir, logger, timesyncdFile: syncFile });
  t.after(() => w.stop());
  writeFileSync(syncFile, '');
  const touch = (wall: number) => utimesSync(syncFile, wall / 1000, wall / 1000);
  touch(clock.wall()); // synchronised before the jump

  base.t += 1000;
  clock.jump(-600_000);
  assert.equal(w.check().state, 'wrong', 'a touch from before a jump back (in the future now) proves nothing');
  base.t += 1000;
  w.check();
  assert.equal(lines.filter((l) => /jumped back by 10m: taken as wrong/.test(l.msg)).length, 1, 'one line per jump');

  touch(clock.wall()); // timesyncd synchronised after the jump: the stepped-back time is right
  base.t += 1000;
  assert.equal(w.check().state, 'ok');
  assert.match(lines.at(-1)!.msg, /trusted again/);
});

test('small steps back that add up to a wrong clock (no single jump) are trusted again once systemd-timesyncd synchronised after them', (t) => {
  const { dir, logger, base } = setup(t);
  const syncFile = join(dir, 'synchronized');
  const clock = new OffsetClock(base);
  const w = watchBoxClock({ clock, dataDir: dir, logger, timesyncdFile: syncFile });
  t.after(() => w.stop());
  // E.g. timesyncd stepping a fast clock back by 0.9 s after each offline spell: no jump, 2.7 s in all.
  for (let i = 0; i < 3; i++) {
    base.t += 1000;
    clock.jump(-900);
    w.check();
  }
  const wrong = w.check();
  assert.equal(wrong.state, 'wrong', 'no time service has spoken yet');
  assert.equal(wrong.lastJump, null);
  writeFileSync(syncFile, '');
  utimesSync(syncFile, clock.wall() / 1000, clock.wall() / 1000);
  base.t += 1000;
  assert.equal(w.check().state, 'ok', 'without a jump to go by, a sync after the clock was found wrong counts');
});
