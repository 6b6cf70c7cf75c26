import { monoNow } from '@kedge/cloud-sync/clock.ts';
import type { PollResult } from '../drivers/driver.ts';
import type { DeviceState } from './scheduler.ts';

/** A dead meter polled every second must not write a line a second: one reminder per this. */
export const HEALTH_REPEAT_MS = 60_000;

export interface HealthLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
}

interface Tracked {
  failingSince: number | null;
  failedPolls: number;
  /** When a line about failing (failed, still failing, brief outages) was last written. */
  lastFailLineAt: number;
  /** Whether the current outage has had its "stopped answering" line. */
  announced: boolean;
  /** Outages that began and ended without a line of their own, not yet counted in one. */
  briefOutages: number;
  lastError: string;
  blockKey: string;
  lastBlockLineAt: number;
  said: Set<string>;
  /** Points the device refuses while answering others, with what it said. */
  refused: Map<string, string>;
}

const seconds = (ms: number) => (ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`);

/**
 * Turns poll results into the lines a field engineer reads on the console and the UI's log
 * page: when a device fails and what it answered, when it answers again, which reads it
 * refuses while the rest keep working, and what splitting a refused read found. One line per
 * change; a state that persists is repeated at most once per `repeatMs`. A device that flaps
 * (a noisy RS-485 line failing every few polls) must not write two lines per flap: an outage
 * that begins within `repeatMs` of the last failure line is said only once it has lasted
 * `repeatMs / 6`; shorter ones are counted and said together, at most once per `repeatMs`.
 */
export class DeviceHealthLog {
  private readonly devices = new Map<string, Tracked>();

  constructor(
    private readonly logger: HealthLogger,
    private readonly repeatMs = HEALTH_REPEAT_MS,
    /** Monotonic: durations and repeat limits must survive a jump of the wall clock. */
    private readonly now: () => number = monoNow,
  ) {}

  observe(deviceId: string, result: PollResult, state: Readonly<DeviceState>): void {
    const t = this.track(deviceId);
    const now = this.now();
    const name = `device "${deviceId}"`;
    const retry = state.backoffUntil !== null ? `; next try in ${seconds(Math.max(0, state.backoffUntil - (state.lastPollAt ?? 0) - (state.lastDurationMs ?? 0)))}` : '';
    if (result.failed) {
      t.failedPolls++;
      const error = result.error ?? 'poll failed';
      t.lastError = error;
      if (t.failingSince === null) t.failingSince = now;
      if (!t.announced) {
        // A device that was quiet is said at once. One that failed shortly before (a noisy
        // line, a flapping link) is said only if this outage lasts: short ones are counted.
        const quiet = now - t.lastFailLineAt >= this.repeatMs;
        if (quiet || now - t.failingSince >= this.repeatMs / 6) {
          t.announced = true;
          t.lastFailLineAt = now;
          const ago = now > t.failingSince ? ` ${seconds(now - t.failingSince)} ago` : '';
          this.logger.warn({ device: deviceId, event: 'device_failed', error }, `${name} stopped answering${ago}: ${error}${this.briefNote(t)}${retry}`);
        }
      } else if (now - t.lastFailLineAt >= this.repeatMs) {
        t.lastFailLineAt = now;
        this.logger.warn(
          { device: deviceId, event: 'device_still_failing', error, failedPolls: t.failedPolls },
          `${name} still not answering after ${seconds(now - t.failingSince)} (${t.failedPolls} failed polls): ${error}${retry}`,
        );
      }
    } else if (t.failingSince !== null) {
      const downMs = now - t.failingSince;
      if (t.announced) {
        this.logger.info(
          { device: deviceId, event: 'device_recovered', downMs, failedPolls: t.failedPolls },
          `${name} answers again after ${seconds(downMs)} (${t.failedPolls} failed ${t.failedPolls === 1 ? 'poll' : 'polls'})`,
        );
      } else {
        t.briefOutages++;
      }
      t.failingSince = null;
      t.failedPolls = 0;
      t.announced = false;
    }
    if (!result.failed && t.briefOutages > 0 && now - t.lastFailLineAt >= this.repeatMs) {
      t.lastFailLineAt = now;
      this.logger.warn(
        { device: deviceId, event: 'device_flapping', outages: t.briefOutages, error: t.lastError },
        `${name} failed ${t.briefOutages} more ${t.briefOutages === 1 ? 'time' : 'times'} briefly since the last line (last: ${t.lastError}); it answers now`,
      );
      t.briefOutages = 0;
    }

    if (!result.failed) {
      // By point, not by poll: a poll of another interval group leaves refused points as they were.
      for (const s of result.samples) {
        if (s.quality === 'bad_device_error') t.refused.set(s.point, s.error ?? s.quality);
        else if (s.quality === 'good' || s.quality === 'uncertain') t.refused.delete(s.point);
      }
      this.blockLine(deviceId, [...new Set(t.refused.values())], now, t);
    }
    for (const finding of result.findings ?? []) {
      if (t.said.has(finding)) continue;
      t.said.add(finding);
      this.logger.warn({ device: deviceId, event: 'register_map_finding' }, `${name} register map: ${finding}`);
    }
  }

  /** "; it also failed 3 times briefly since the last line", counted once. */
  private briefNote(t: Tracked): string {
    const n = t.briefOutages;
    t.briefOutages = 0;
    return n > 0 ? `; it also failed ${n} ${n === 1 ? 'time' : 'times'} briefly since the last line` : '';
  }

  private blockLine(deviceId: string, errors: readonly string[], now: number, t: Tracked): void {
    const key = [...errors].sort().join('\n');
    const changed = key !== t.blockKey;
    if (!changed && (errors.length === 0 || now - t.lastBlockLineAt < this.repeatMs)) return;
    // A read that comes and goes is said at most once per repeatMs / 6; the latest state is said then.
    if (changed && now - t.lastBlockLineAt < this.repeatMs / 6) return;
    t.blockKey = key;
    t.lastBlockLineAt = now;
    const name = `device "${deviceId}"`;
    if (errors.length === 0) {
      this.logger.info({ device: deviceId, event: 'reads_answer_again' }, `${name} answers every read again`);
      return;
    }
    this.logger.warn(
      { device: deviceId, event: 'reads_refused', points: [...t.refused.keys()], errors: [...errors] },
      `${name} refuses reads of ${t.refused.size} ${t.refused.size === 1 ? 'point' : 'points'} (its other points are polled as usual): ${errors.join('; ')}`,
    );
  }

  private track(deviceId: string): Tracked {
    let t = this.devices.get(deviceId);
    if (!t) {
      t = {
        failingSince: null,
        failedPolls: 0,
        lastFailLineAt: -Infinity,
        announced: false,
        briefOutages: 0,
        lastError: '',
        blockKey: '',
        lastBlockLineAt: -Infinity,
        said: new Set(),
        refused: new Map(),
      };
      this.devices.set(deviceId, t);
    }
    return t;
  }
}
