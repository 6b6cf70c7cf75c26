import type { DeviceDriver, PollResult } from '../drivers/driver.ts';

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
  lastPollAt: number | null;
  lastOkAt: number | null;
  lastDurationMs: number | null;
  lastError: string | null;
  backoffUntil: number | null;
}

export type PollListener = (deviceId: string, result: PollResult, durationMs: number) => void;

/**
 * One independent loop per device: a device that times out waits in its own backoff and
 * never delays another device's cycle. Groups of a device that fall due together are read in
 * one poll, so the driver can coalesce their registers.
 */
export class Scheduler {
  private readonly loops: DeviceLoop[];
  constructor(devices: ScheduledDevice[], onPoll: PollListener, now: () => number = Date.now) {
    this.loops = devices.map((d) => new DeviceLoop(d, onPoll, now));
  }

  start(): void {
    for (const loop of this.loops) loop.start();
  }

  /** Stops every loop and waits for polls in progress to finish. */
  async stop(): Promise<void> {
    await Promise.all(this.loops.map((l) => l.stop()));
  }

  states(): DeviceState[] {
    return this.loops.map((l) => ({ ...l.state }));
  }
}

class DeviceLoop {
  readonly state: DeviceState;
  private readonly due: number[];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly d: ScheduledDevice,
    private readonly onPoll: PollListener,
    private readonly now: () => number,
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
    };
    this.due = d.groups.map(() => 0);
  }

  start(): void {
    this.arm(0);
  }

  private arm(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.cycle().finally(() => {
        this.running = null;
      });
    }, Math.max(0, delayMs));
  }

  private async cycle(): Promise<void> {
    const started = this.now();
    const dueGroups = this.d.groups.filter((_, i) => this.due[i]! <= started);
    if (dueGroups.length === 0) {
      // setTimeout can fire a millisecond before Date.now() reaches the due time: wait for
      // it instead of polling no points (and polling again right after).
      this.arm(Math.min(...this.due) - started);
      return;
    }
    const pointIds = [...new Set(dueGroups.flatMap((g) => g.pointIds))];
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
    s.lastDurationMs = ended - started;
    if (result.failed) {
      s.failures++;
      s.consecutiveFailures++;
      s.lastError = result.error ?? 'poll failed';
    } else {
      s.consecutiveFailures = 0;
      s.lastOkAt = ended;
      s.lastError = null;
    }
    // Reported even when stop() came during the poll: stop() waits for it so its readings get logged.
    try {
      this.onPoll(s.deviceId, result, ended - started);
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
    if (result.failed) {
      const delay = Math.min(this.d.backoff.maxMs, this.d.backoff.minMs * 2 ** Math.min(s.consecutiveFailures - 1, 20));
      s.backoffUntil = ended + delay;
      next = Math.max(next, s.backoffUntil);
      for (let i = 0; i < this.due.length; i++) this.due[i] = Math.max(this.due[i]!, s.backoffUntil);
    } else {
      s.backoffUntil = null;
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
