import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/**
 * The two clocks of a box. Everything that waits (poll due times, rate limits, timeouts,
 * backoffs, heartbeats) uses `mono`; `wall` only stamps readings and messages. A box without
 * an RTC boots with a wrong wall clock and is corrected later, sometimes by a year: on the
 * monotonic clock that correction is invisible, so nothing stalls, spins or fires early.
 */
export interface Clock {
  /** Milliseconds on a clock that never jumps (performance.now(): process-relative, hrtime based). */
  mono(): number;
  /** Unix epoch milliseconds; may jump in either direction at any time. */
  wall(): number;
}

export const monoNow = (): number => performance.now();

export const systemClock: Clock = { mono: monoNow, wall: () => Date.now() };

/**
 * The longest delay setTimeout honours: anything above 2^31-1 ms is silently turned into 1 ms,
 * so a far due time would make its loop spin instead of wait.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A delay safe to hand to setTimeout: never negative, NaN or above MAX_TIMER_MS (callers re-check when it fires). */
export function timerDelay(ms: number): number {
  if (!(ms > 0)) return 0;
  return Math.min(ms, MAX_TIMER_MS);
}

/** A clock whose wall time is shifted by `offsetMs` (tests: inject a jump by changing it). */
export class OffsetClock implements Clock {
  offsetMs = 0;
  constructor(private readonly base: Clock = systemClock) {}
  mono(): number {
    return this.base.mono();
  }
  wall(): number {
    return this.base.wall() + this.offsetMs;
  }
  /** Moves the wall clock by `ms` (negative: back) without moving the monotonic clock. */
  jump(ms: number): void {
    this.offsetMs += ms;
  }
}

/**
 * Names a file holding a wall-clock offset in ms (e.g. `-31536000000` for a year back). FOR
 * TESTS ONLY: the daemon then shifts `Date.now()` itself by that offset, re-reading the file at
 * most every 100 ms, so a test can jump the clock of a running daemon without root or
 * libfaketime. `new Date()` without arguments and the monotonic clock are not shifted.
 */
export const WALL_OFFSET_FILE_ENV = 'KEDGE_TEST_WALL_OFFSET_FILE';

/** Installs the test-only wall offset of WALL_OFFSET_FILE_ENV; returns the file or null when unset. */
export function installTestWallOffset(env: NodeJS.ProcessEnv = process.env): string | null {
  const file = env[WALL_OFFSET_FILE_ENV];
  if (!file) return null;
  const realNow = Date.now.bind(Date);
  let offset = 0;
  let readAt = -Infinity;
  Date.now = () => {
    const t = performance.now();
    if (t - readAt >= 100) {
      readAt = t;
      try {
        const n = Number(readFileSync(file, 'utf8').trim() || '0');
        if (Number.isFinite(n)) offset = n;
      } catch {
        // No file (yet): no offset.
      }
    }
    return realNow() + offset;
  };
  return file;
}

export interface ClockJump {
  /** Signed size: negative when the wall clock went back. */
  deltaMs: number;
  direction: 'forward' | 'back';
  /** Wall time just after the jump (as the jumped clock reads it). */
  wallAfter: number;
  /** Monotonic time the jump was noticed. */
  mono: number;
}

export interface ClockStatus {
  /** `ok`: the wall clock is trusted; `wrong`: it is known to be wrong and readings are marked. */
  state: 'ok' | 'wrong';
  /** Why the wall clock is distrusted, null while ok. */
  reason: string | null;
  /** Wall clock minus what a trusted wall clock would read now (0 while ok; negative: behind). */
  offsetMs: number;
  /** Jumps noticed since start, per direction. */
  jumps: { forward: number; back: number };
  lastJump: ClockJump | null;
  /** Monotonic time of the last change of `state`. */
  sinceMono: number;
}

export interface ClockWatchOptions {
  /** A wall step larger than this counts as a jump (NTP slews smaller errors, it does not step them). Default 2 s. */
  thresholdMs?: number;
  /**
   * The wall clock is known wrong while it reads earlier than this: the latest wall time the box
   * saw while its clock was trusted (see readClockFloor), or a release date.
   */
  notBefore?: number;
  /** A time service says the clock is synchronized: a distrusted clock becomes trusted again. */
  synced?: () => boolean;
  /** Called when a jump is noticed (one log line) and on every change of state. */
  onJump?: (jump: ClockJump, status: ClockStatus) => void;
  onState?: (status: ClockStatus) => void;
  /** Called at most every `floorEveryMs` (monotonic) with the wall time while trusted, to persist the floor. */
  saveFloor?: (wall: number) => void;
  floorEveryMs?: number;
}

/**
 * Watches the wall clock against the monotonic one. Their difference only changes when the wall
 * clock is stepped; a step of more than `thresholdMs` is a jump: noticed, counted, reported.
 *
 * Which side of a jump is right cannot be known from the box alone; the rules are:
 * - a clock that reads earlier than `notBefore` (before a time the box already lived through)
 *   is wrong; that is how a box without an RTC boots;
 * - a step back from a trusted clock makes it wrong until it is back where a trusted clock
 *   would be (within the threshold) or `synced()` says a time service set it;
 * - a step forward is taken as a correction (NTP or GPS setting a clock that was behind, the
 *   usual case after a boot without an RTC) and the clock is trusted from then on.
 * The monotonic clock stands still while the system is suspended, so a resume shows up as a
 * forward jump: counted, and harmless under these rules.
 */
export class ClockWatch {
  private readonly threshold: number;
  private floor: number;
  /** wall - mono of a trusted wall clock; null while the clock has never been trusted. */
  private ref: number | null = null;
  private lastOffset: number;
  private status: ClockStatus;
  private savedAt = -Infinity;
  private wrongEndedMono: number | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly o: ClockWatchOptions = {},
  ) {
    this.threshold = o.thresholdMs ?? 2000;
    this.floor = o.notBefore ?? -Infinity;
    const mono = clock.mono();
    const wall = clock.wall();
    this.lastOffset = wall - mono;
    this.status = { state: 'ok', reason: null, offsetMs: 0, jumps: { forward: 0, back: 0 }, lastJump: null, sinceMono: mono };
    if (wall < this.floor - this.threshold) {
      this.status = { ...this.status, state: 'wrong', reason: behindFloor(wall, this.floor), offsetMs: wall - this.floor };
    } else {
      this.ref = this.lastOffset;
    }
  }

  /** Samples both clocks; call it before stamping decisions. Cheap: two clock reads. */
  check(): ClockStatus {
    const mono = this.clock.mono();
    const wall = this.clock.wall();
    // A pause between the two reads (the process preempted or swapped out, a VM paused) would
    // look like a step forward, and the next sample like a step back: a right clock taken as
    // wrong for good. Such a sample is dropped; the next check samples again.
    if (this.clock.mono() - mono > this.threshold / 2) return this.snapshot();
    const offset = wall - mono;
    const step = offset - this.lastOffset;
    this.lastOffset = offset;
    let jump: ClockJump | null = null;
    if (Math.abs(step) > this.threshold) {
      jump = { deltaMs: step, direction: step > 0 ? 'forward' : 'back', wallAfter: wall, mono };
      this.status.jumps[jump.direction]++;
      this.status.lastJump = jump;
    }

    let wrong: string | null = null;
    let offsetMs = 0;
    if (this.ref === null) {
      // Never trusted: wrong until it reads a time at or after the floor.
      if (wall < this.floor - this.threshold) {
        wrong = behindFloor(wall, this.floor);
        offsetMs = wall - this.floor;
      } else this.ref = offset;
    } else {
      const drift = offset - this.ref;
      if (drift < -this.threshold) {
        wrong = `wall clock stepped back by ${formatMs(-drift)}`;
        offsetMs = drift;
      } else if (drift > this.threshold || jump) {
        // Forward: a correction (the rules above). Within the threshold: back where it belongs.
        this.ref = offset;
      }
    }
    if (wrong && this.o.synced?.()) {
      this.ref = offset;
      this.floor = Math.min(this.floor, wall);
      wrong = null;
      offsetMs = 0;
    }

    const was = this.status.state;
    this.status.state = wrong ? 'wrong' : 'ok';
    this.status.reason = wrong;
    this.status.offsetMs = offsetMs;
    if (this.status.state !== was) {
      this.status.sinceMono = mono;
      if (was === 'wrong') this.wrongEndedMono = mono;
    }
    if (jump) this.o.onJump?.(jump, this.snapshot());
    if (this.status.state !== was) this.o.onState?.(this.snapshot());

    if (this.status.state === 'ok') {
      this.floor = Math.max(this.floor, wall);
      if (this.o.saveFloor && mono - this.savedAt >= (this.o.floorEveryMs ?? 600_000)) {
        this.savedAt = mono;
        this.o.saveFloor(wall);
      }
    }
    return this.snapshot();
  }

  /**
   * True when the wall clock was known wrong at any moment from `fromMono` until now: a reading
   * stamped in that window carries a doubtful timestamp. With no argument: right now.
   */
  wrongSince(fromMono?: number): boolean {
    const s = this.check();
    if (s.state === 'wrong') return true;
    // The end of a wrong spell is only known to the check that saw it: conservative by up to one check.
    return fromMono !== undefined && this.wrongEndedMono !== null && this.wrongEndedMono >= fromMono;
  }

  snapshot(): ClockStatus {
    return { ...this.status, jumps: { ...this.status.jumps }, lastJump: this.status.lastJump && { ...this.status.lastJump } };
  }

  /** Checks every `everyMs` so a jump is noticed and logged even when no reading is taken. */
  start(everyMs = 1000): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.check(), everyMs);
    this.timer.unref();
  }

  /** Stops the periodic check; a trusted clock leaves its floor for the next start. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.check().state === 'ok') this.o.saveFloor?.(this.clock.wall());
  }
}

/** The clock floor persisted by a previous run (ClockWatchOptions.saveFloor), or null. */
export function readClockFloor(file: string): number | null {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

function behindFloor(wall: number, floor: number): string {
  return `wall clock reads ${new Date(wall).toISOString()}, ${formatMs(floor - wall)} before a time this box already saw (${new Date(floor).toISOString()})`;
}

/** 90061000 -> "1d 1h 1m 1s"; for log lines and reasons. */
export function formatMs(ms: number): string {
  let s = Math.round(Math.abs(ms) / 1000);
  if (s === 0) return `${Math.round(Math.abs(ms))} ms`;
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  return parts.join(' ');
}
