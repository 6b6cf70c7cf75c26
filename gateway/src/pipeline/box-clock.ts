import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClockWatch, formatMs, readClockFloor, type Clock, type ClockStatus } from '@kedge/cloud-sync/clock.ts';

/**
 * No kedge release is older than this: a box clock reading earlier is wrong (a boot without
 * an RTC at 1970 or at the image's build date). Kept well in the past; the floor file is the
 * sharp check.
 */
export const RELEASE_FLOOR = Date.UTC(2025, 0, 1);

/** The file systemd-timesyncd touches after every successful synchronisation. */
export const TIMESYNCD_FILE = '/run/systemd/timesync/synchronized';

const CHECK_MS = 1000;

export interface BoxClockLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface BoxClockOptions {
  clock: Clock;
  /** `clock-floor` in it keeps the latest wall time seen while the clock was trusted, across restarts. */
  dataDir: string;
  logger: BoxClockLogger;
  timesyncdFile?: string;
  /** The clock became wrong or trusted again (after the log line). */
  onChange?: (status: ClockStatus) => void;
}

/**
 * The gateway's watch over its own wall clock (cloud-sync/src/clock.ts has the rules): a jump
 * is one warning line; a clock that is trusted again one info line. Between restarts the
 * floor file tells a clock that booted in the past (no RTC) from one that is right.
 */
export function watchBoxClock(o: BoxClockOptions): ClockWatch {
  const floorFile = join(o.dataDir, 'clock-floor');
  const syncFile = o.timesyncdFile ?? TIMESYNCD_FILE;
  let watch: ClockWatch | null = null;
  const w = new ClockWatch(o.clock, {
    notBefore: Math.max(RELEASE_FLOOR, readClockFloor(floorFile) ?? 0),
    saveFloor: (wall) => {
      try {
        // No fsync: a floor a few minutes old after a power cut is still a floor.
        writeFileSync(floorFile, `${wall}\n`);
      } catch {
        // A full or read-only disk is reported by the log; the floor is only a hint.
      }
    },
    synced: () => timesyncdSyncedSince(syncFile, watch?.snapshot() ?? null, o.clock),
    onJump: (jump, s) =>
      o.logger.warn(
        { event: 'clock_jump', deltaMs: jump.deltaMs, wallAfter: new Date(jump.wallAfter).toISOString(), clock: s.state },
        `wall clock jumped ${jump.direction} by ${formatMs(jump.deltaMs)}: ` +
          (s.state === 'wrong'
            ? `taken as wrong (${s.reason}); polling goes on, readings with a value are marked uncertain_clock`
            : 'taken as a correction (readings are not marked); waits run on the monotonic clock and are not affected'),
      ),
    onState: (s) => {
      // A jump that set the clock right already has its line.
      if (s.state === 'ok' && s.lastJump?.mono !== s.sinceMono) {
        o.logger.info({ event: 'clock_ok' }, 'wall clock trusted again: readings are no longer marked uncertain_clock');
      }
      o.onChange?.(s);
    },
  });
  watch = w;
  const first = w.snapshot();
  if (first.state === 'wrong') {
    o.logger.warn({ event: 'clock_wrong' }, `${first.reason}: readings with a value are marked uncertain_clock until the clock is set`);
  }
  w.start(CHECK_MS);
  return w;
}

/**
 * systemd-timesyncd set the clock since it was found wrong: its file was touched after the
 * jump (by the clock as it reads now), and not "in the future" (a touch from before a jump back).
 * With no jump to go by (small steps back that added up, or a boot before the floor), after the
 * state last changed: otherwise such a clock would stay wrong until a restart.
 */
function timesyncdSyncedSince(file: string, s: ClockStatus | null, clock: Clock): boolean {
  if (!s) return false;
  const wallNow = clock.wall();
  const after = s.lastJump?.wallAfter ?? wallNow - (clock.mono() - s.sinceMono);
  try {
    const mtime = statSync(file).mtimeMs;
    return mtime >= after - 2 * CHECK_MS && mtime <= wallNow + CHECK_MS;
  } catch {
    return false;
  }
}
