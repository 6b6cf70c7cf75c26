import { systemClock, timerDelay, type Clock } from '@kedge/cloud-sync/clock.ts';
import { backoffCeiling } from '@kedge/cloud-sync/backoff.ts';
import type { DeviceDriver, PollResult } from '../drivers/driver.ts';
import { withOutageSamples } from './outage.ts';

export interface PollGroup {
  intervalMs: number;
  pointIds: string[];
}

export interface ScheduledDevice {
  driver: DeviceDriver;
  groups: PollGroup[];
  backoff: { minMs: number; maxMs: number };
}

export interface DeviceState {
  deviceId: string;
  polls: number;
  failures: number;
  consecutiveFailures: number;
  requests: number;
  /**
   * Wall-clock times (for people: "last poll 3 s ago"). The loop itself runs on the monotonic
   * clock; these are converted at one instant, so their differences are exact even right
   * after a jump of the wall clock. Ages are measured with `lastPollMono`.
   */
  lastPollAt: number | null;
  lastOkAt: number | null;
  lastDurationMs: number | null;
  lastError: string | null;
  backoffUntil: number | null;
  /** Monotonic ms (Clock.mono, whole ms) when the last poll started; what health checks measure ages with. */
  lastPollMono: number | null;
  /** Reads the device refused in the last poll while it answered the others (no backoff for these). */
  blockErrors: string[];
  /** What polling learnt about the register map (refused registers found by splitting a read), oldest first. */
  findings: string[];
}

/** Findings kept per device: a map with more wrong points than this needs the manual, not the list. */
const MAX_FINDINGS = 20;

/** `state` is the device's state after this poll (failures counted, backoff decided). */
export type PollListener = (deviceId: string, result: PollResult, durationMs: number, state: Readonly<DeviceState>) => void;

/**
 * One independent loop per device: a device that times out waits in its own backoff and
 * never delays another device's cycle. Groups of a device that fall due together are read in
 * one poll, so the driver can coalesce their registers.
 */
export class Scheduler {
  private readonly loops: DeviceLoop[];
  /** Due times and backoffs run on `clock.mono`: a wall clock set back a year must not stop polling. */
  constructor(devices: ScheduledDevice[], onPoll: PollListener, clock: Clock = systemClock) {
    this.loops = devices.map((d) => new DeviceLoop(d, onPoll, clock));
  }

  start(): void {
    for (const loop of this.loops) loop.start();
  }

  /** Stops every loop and waits for polls in progress to finish. */
  async stop(): Promise<void> {
    await Promise.all(this.loops.map((l) => l.stop()));
  }

  states(): DeviceState[] {
    return this.loops.map((l) => l.view());
  }
}

class DeviceLoop {
  readonly state: DeviceState;
  private readonly due: number[];
  private readonly allPointIds: string[];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly d: ScheduledDevice,
    private readonly onPoll: PollListener,
    private readonly clock: Clock,
  ) {
    this.state = {
      deviceId: d.driver.deviceId,
      polls: 0,
      failures: 0,
      consecutiveFailures: 0,
      requests: 0,
      lastPollAt: null,
      lastOkAt: null,
      lastDurationMs: null,
      lastError: null,
      backoffUntil: null,
      lastPollMono: null,
      blockErrors: [],
      findings: [],
    };
    this.due = d.groups.map(() => 0);
    const all = [...new Set(d.groups.flatMap((g) => g.pointIds))];
    // One group without repeated ids (the usual config): its own array, not a copy per device.
    const only = d.groups.length === 1 ? d.groups[0]!.pointIds : null;
    this.allPointIds = only && only.length === all.length ? only : all;
  }

  start(): void {
    this.arm(0);
  }

  /** Whole monotonic ms: the state's times stay integers, so their differences are exact. */
  private now(): number {
    return Math.floor(this.clock.mono());
  }

  /** The state with its times on the wall clock, all shifted by the same amount (see DeviceState). */
  view(): DeviceState {
    const s = this.state;
    const shift = Math.round(this.clock.wall()) - this.now();
    const wall = (t: number | null) => (t === null ? null : t + shift);
    return {
      ...s,
      lastPollAt: wall(s.lastPollAt),
      lastOkAt: wall(s.lastOkAt),
      backoffUntil: wall(s.backoffUntil),
      blockErrors: [...s.blockErrors],
      findings: [...s.findings],
    };
  }

  private arm(delayMs: number): void {
    if (this.stopped) return;
    // timerDelay: setTimeout turns a delay above 2^31-1 ms into 1 ms and the loop would spin;
    // a longer wait is served in parts (cycle() re-arms until something is due).
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.cycle().finally(() => {
        this.running = null;
      });
    }, timerDelay(delayMs));
  }

  private async cycle(): Promise<void> {
    const started = this.now();
    const dueGroups = this.d.groups.filter((_, i) => this.due[i]! <= started);
    if (dueGroups.length === 0) {
      // Woken before anything is due (a wait longer than one timer allows, or a timer firing
      // a millisecond early): wait on instead of polling no points.
      this.arm(Math.min(...this.due) - started);
      return;
    }
    // Every group due (the usual case, one interval per device): the same array every cycle,
    // so the driver's plan cache sees the same ids and nothing is built per poll.
    const pointIds = dueGroups.length === this.d.groups.length ? this.allPointIds : [...new Set(dueGroups.flatMap((g) => g.pointIds))];
    let result: PollResult;
    try {
      result = await this.d.driver.poll(pointIds);
    } catch (err) {
      // A driver bug must not kill the loop; the device is treated as failed.
      result = { samples: [], requests: 0, failed: true, error: `driver error: ${(err as Error).message}` };
    }
    const ended = this.now();
    const s = this.state;
    s.polls++;
    s.requests += result.requests;
    s.lastPollAt = started;
    s.lastPollMono = started;
    s.lastDurationMs = ended - started;
    if (result.failed) {
      s.failures++;
      s.consecutiveFailures++;
      s.lastError = result.error ?? 'poll failed';
      const delay = backoffCeiling(s.consecutiveFailures - 1, this.d.backoff.minMs, this.d.backoff.maxMs);
      s.backoffUntil = ended + delay;
      result = withOutageSamples(result, this.allPointIds);
    } else {
      s.consecutiveFailures = 0;
      s.lastOkAt = ended;
      s.lastError = null;
      s.backoffUntil = null;
    }
    // Exceptions for single reads do not fail the device; they are kept apart for the UI.
    s.blockErrors = result.blockErrors ?? [];
    for (const f of result.findings ?? []) if (!s.findings.includes(f)) s.findings.push(f);
    if (s.findings.length > MAX_FINDINGS) s.findings.splice(0, s.findings.length - MAX_FINDINGS);
    // Reported even when stop() came during the poll: stop() waits for it so its readings get logged.
    try {
      this.onPoll(s.deviceId, result, ended - started, this.view());
    } catch (err) {
      // The listener (pipeline, log) failing must not end this device's loop for good.
      s.lastError = `poll listener failed: ${(err as Error).message}`;
    }

    // Next due time per group: keep the grid of the interval, skipping cycles that were missed.
    this.d.groups.forEach((g, i) => {
      if (this.due[i]! > started) return;
      const base = this.due[i] === 0 ? started : this.due[i]!;
      const missed = Math.floor((ended - base) / g.intervalMs);
      this.due[i] = base + (missed + 1) * g.intervalMs;
    });
    let next = Math.min(...this.due);
    if (s.backoffUntil !== null) {
      // The retry asks for every group: all the device's points are bad now, and the poll that
      // finds it back must give each of them a good reading, not only the groups due by then.
      next = s.backoffUntil;
      for (let i = 0; i < this.due.length; i++) this.due[i] = s.backoffUntil;
    }
    this.arm(next - this.now());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
