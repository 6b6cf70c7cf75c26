import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClockWatch, installTestWallOffset, MAX_TIMER_MS, OffsetClock, readClockFloor, timerDelay, WALL_OFFSET_FILE_ENV, type Clock } from './clock.ts';

const T0 = Date.UTC(2026, 11, 1, 12);
const YEAR = 365 * 86_400_000;
const MINUTES_10 = 600_000;

/** A clock only the test moves: `t` is monotonic ms; the wall clock runs with it from T0 plus any jump. */
function manualClock() {
  const base: Clock & { t: number } = { t: 0, mono: () => base.t, wall: () => T0 + base.t };
  const clock = new OffsetClock(base);
  return { clock, advance: (ms: number) => void (base.t += ms) };
}

for (const [name, size] of [
  ['ten minutes', MINUTES_10],
  ['a year', YEAR],
] as const) {
  test(`a step back of ${name} is a jump; the clock is wrong until it is back where it belongs`, () => {
    const { clock, advance } = manualClock();
    const jumps: number[] = [];
    const watch = new ClockWatch(clock, { onJump: (j) => jumps.push(j.deltaMs) });
    advance(1000);
    assert.equal(watch.check().state, 'ok');
    clock.jump(-size);
    advance(1000);
    const wrong = watch.check();
    assert.equal(wrong.state, 'wrong');
    assert.equal(wrong.offsetMs, -size);
    assert.deepEqual(wrong.jumps, { forward: 0, back: 1 });
    assert.match(wrong.reason!, /stepped back by/);
    advance(5000);
    assert.equal(watch.check().state, 'wrong', 'time passing does not make a wrong clock right');
    assert.deepEqual(jumps, [-size], 'the jump is reported once, not on every check');
    clock.jump(size);
    advance(1000);
    const right = watch.check();
    assert.equal(right.state, 'ok');
    assert.deepEqual(right.jumps, { forward: 1, back: 1 });
    assert.equal(right.offsetMs, 0);
  });

  test(`a step forward of ${name} is counted and taken as a correction`, () => {
    const { clock, advance } = manualClock();
    const watch = new ClockWatch(clock);
    advance(1000);
    clock.jump(size);
    advance(1000);
    const s = watch.check();
    assert.equal(s.state, 'ok');
    assert.equal(s.lastJump!.direction, 'forward');
    assert.equal(s.lastJump!.deltaMs, size);
    assert.deepEqual(s.jumps, { forward: 1, back: 0 });
  });
}

test('a box that boots with its clock before a time it already saw is wrong until the clock is set forward', () => {
  const { clock, advance } = manualClock();
  clock.jump(-YEAR); // boots a year behind (no RTC); the floor says it lived through T0 already
  const watch = new ClockWatch(clock, { notBefore: T0 });
  assert.equal(watch.snapshot().state, 'wrong');
  assert.match(watch.snapshot().reason!, /before a time this box already saw/);
  advance(60_000);
  assert.equal(watch.check().state, 'wrong');
  clock.jump(YEAR); // NTP sets it
  const s = watch.check();
  assert.equal(s.state, 'ok');
  assert.equal(s.lastJump!.direction, 'forward');
});

test('slewing below the threshold is no jump, but many small steps back add up to a wrong clock', () => {
  const { clock, advance } = manualClock();
  const watch = new ClockWatch(clock, { thresholdMs: 2000 });
  for (let i = 0; i < 3; i++) {
    clock.jump(-900);
    advance(1000);
    assert.equal(watch.check().jumps.back, 0);
  }
  assert.equal(watch.check().state, 'wrong', '2.7 s behind in small steps');
});

test('a time service that synchronised after the jump makes a stepped-back clock trusted', () => {
  const { clock, advance } = manualClock();
  let synced = false;
  const watch = new ClockWatch(clock, { synced: () => synced });
  clock.jump(-MINUTES_10); // e.g. a clock that ran ahead, stepped back by NTP
  advance(1000);
  assert.equal(watch.check().state, 'wrong');
  synced = true;
  advance(1000);
  assert.equal(watch.check().state, 'ok');
  synced = false;
  advance(1000);
  assert.equal(watch.check().state, 'ok', 'the new time is the reference now');
});

test('wrongSince covers a window that started while the clock was wrong, even after it is right again', () => {
  const { clock, advance } = manualClock();
  const watch = new ClockWatch(clock);
  advance(1000);
  const before = clock.mono();
  assert.equal(watch.wrongSince(before), false);
  clock.jump(-YEAR);
  advance(1000);
  const during = clock.mono();
  assert.equal(watch.wrongSince(), true);
  clock.jump(YEAR);
  advance(1000);
  assert.equal(watch.wrongSince(), false, 'right now');
  assert.equal(watch.wrongSince(during), true, 'a poll that started while wrong');
  advance(1000);
  assert.equal(watch.wrongSince(clock.mono()), false, 'a poll that started after');
});

test('the floor is saved while the clock is trusted, at most every floorEveryMs, and never while it is wrong', () => {
  const { clock, advance } = manualClock();
  const saved: number[] = [];
  const watch = new ClockWatch(clock, { saveFloor: (w) => saved.push(w), floorEveryMs: 60_000 });
  watch.check();
  advance(30_000);
  watch.check();
  advance(30_000);
  watch.check();
  assert.deepEqual(saved, [T0, T0 + 60_000]);
  clock.jump(-YEAR);
  advance(120_000);
  watch.check();
  assert.equal(saved.length, 2);
});

test('readClockFloor reads what was saved and ignores a missing or garbled file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-clock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'clock-floor');
  assert.equal(readClockFloor(file), null);
  writeFileSync(file, 'garbage\n');
  assert.equal(readClockFloor(file), null);
  writeFileSync(file, `${T0}\n`);
  assert.equal(readClockFloor(file), T0);
});

test('timerDelay never hands setTimeout a delay it would turn into 1 ms', () => {
  assert.equal(timerDelay(2 ** 31), MAX_TIMER_MS);
  assert.equal(timerDelay(YEAR), MAX_TIMER_MS);
  assert.equal(timerDelay(Infinity), MAX_TIMER_MS);
  assert.equal(timerDelay(-5), 0);
  assert.equal(timerDelay(Number.NaN), 0);
  assert.equal(timerDelay(1500), 1500);
});

test(`${WALL_OFFSET_FILE_ENV} shifts Date.now() by the offset in the file, re-read as it changes (test seam of the daemon)`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-clock-'));
  const realNow = Date.now;
  t.after(() => {
    Date.now = realNow;
    rmSync(dir, { recursive: true, force: true });
  });
  const file = join(dir, 'offset');
  assert.equal(installTestWallOffset({}), null, 'unset: nothing installed');
  assert.equal(Date.now, realNow);
  assert.equal(installTestWallOffset({ [WALL_OFFSET_FILE_ENV]: file }), file);
  assert.ok(Math.abs(Date.now() - realNow()) < 60_000, 'no file yet: no offset');
  writeFileSync(file, `${-YEAR}\n`);
  // Re-read at most every 100 ms of monotonic time: wait for it, not for a fixed time.
  const deadline = performance.now() + 10_000;
  while (Date.now() - realNow() > -YEAR / 2) {
    assert.ok(performance.now() < deadline, 'the offset was never picked up');
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(Math.abs(Date.now() - realNow() + YEAR) < 60_000);
});

test('a pause between the two clock reads (process preempted, VM paused) is no jump and does not make a right clock wrong', () => {
  let t = 0;
  let pauseInWallRead = 0;
  // The pause happens inside the wall read: the monotonic clock moved on while it was taken.
  const clock: Clock = {
    mono: () => t,
    wall: () => {
      t += pauseInWallRead;
      pauseInWallRead = 0;
      return T0 + t;
    },
  };
  const watch = new ClockWatch(clock);
  t += 1000;
  assert.equal(watch.check().state, 'ok');
  pauseInWallRead = 5000;
  watch.check();
  t += 1000;
  const s = watch.check();
  assert.deepEqual(s.jumps, { forward: 0, back: 0 }, 'no jump either way');
  assert.equal(s.state, 'ok');
});
