/**
 * The daemon's side of the launcher protocol (an IPC channel the launcher opens):
 *   {kedgeOta:'alive'}                 every few seconds while the event loop turns (watchdog)
 *   {kedgeOta:'healthy'}               a release on trial passed its health check
 *   {kedgeOta:'unhealthy', reason}     it failed; the launcher rolls back and records why
 * A release is healthy when it started (config loaded, every configured device's driver loaded) and either the uplink
 * connected or the log kept growing: a box whose 4G is down during the update must not roll
 * back a good release, but one that neither polls nor connects is broken.
 */

export interface HealthProbe {
  started: boolean;
  uplinkState: string | null;
  uplinkError: string | null;
  lastSeq: number;
  /** Configured devices whose driver could not load (Gateway.unavailableDevices()): a release that broke a driver is not good. */
  unavailable: readonly { deviceId: string; driver: string; reason: string }[];
}

/** final: unhealthy for good this boot (no need to wait for the deadline). */
export type Verdict = { healthy: true; why: string } | { healthy: false; why: string; final?: true };

/** Healthy, or why not yet. `first` is the probe taken when the check began. */
export function evaluateHealth(first: HealthProbe, now: HealthProbe): Verdict {
  if (!now.started) return { healthy: false, why: 'the gateway did not finish starting (config, drivers)' };
  // Before the uplink and log checks: a release whose OPC UA library (or a native addon) fails to
  // load still connects and still logs the other devices' readings, yet it broke those devices.
  if (now.unavailable.length > 0) {
    const list = now.unavailable.map((u) => `device "${u.deviceId}" (driver "${u.driver}": ${u.reason})`).join(', ');
    return { healthy: false, final: true, why: `${now.unavailable.length === 1 ? 'a driver' : 'drivers'} failed to load: ${list}` };
  }
  if (now.uplinkState === 'online') return { healthy: true, why: 'uplink connected' };
  if (now.lastSeq > first.lastSeq) return { healthy: true, why: `log grew from seq ${first.lastSeq} to ${now.lastSeq}` };
  const uplink = now.uplinkState === null ? 'no uplink' : `uplink ${now.uplinkState}${now.uplinkError ? ` (${now.uplinkError})` : ''}`;
  return { healthy: false, why: `${uplink} and the log did not grow (seq ${now.lastSeq})` };
}

export type LauncherMessage =
  | { kedgeOta: 'alive' }
  | { kedgeOta: 'healthy'; why: string }
  | { kedgeOta: 'unhealthy'; reason: string };

export function isLauncherMessage(m: unknown): m is LauncherMessage {
  return typeof m === 'object' && m !== null && typeof (m as { kedgeOta?: unknown }).kedgeOta === 'string';
}

export interface HealthReporterOptions {
  probe: () => HealthProbe;
  /** From the launcher (KEDGE_OTA_TRIAL=1): this boot is a release on trial. */
  trial: boolean;
  /** Give up a little before the launcher's own deadline so the reason is ours, not "timeout". */
  deadlineMs: number;
  pollMs?: number;
  aliveMs?: number;
  /** The launcher went away (kill -9, power loss of the parent only): stop, do not run unsupervised. */
  onOrphaned: () => void;
  onVerdict?: (v: Verdict) => void;
  send?: (m: LauncherMessage) => void;
}

export class HealthReporter {
  private timers: NodeJS.Timeout[] = [];
  private done = false;
  private readonly send: (m: LauncherMessage) => void;

  constructor(private readonly o: HealthReporterOptions) {
    this.send = o.send ?? ((m) => process.send?.(m));
  }

  get supervised(): boolean {
    return this.o.send !== undefined || typeof process.send === 'function';
  }

  start(): void {
    if (!this.supervised) return;
    this.send({ kedgeOta: 'alive' });
    const alive = setInterval(() => this.send({ kedgeOta: 'alive' }), this.o.aliveMs ?? 5000);
    alive.unref();
    this.timers.push(alive);
    if (!this.o.send) process.once('disconnect', this.o.onOrphaned);
    if (!this.o.trial) return;

    const first = this.o.probe();
    // Monotonic: NTP setting a clock that booted without an RTC (often right after the reboot
    // into a trial release) must not end the trial at once and roll back a good release.
    const startedAt = performance.now();
    const poll = setInterval(() => {
      if (this.done) return;
      const v = evaluateHealth(first, this.o.probe());
      if (v.healthy) {
        this.finish(v);
        this.send({ kedgeOta: 'healthy', why: v.why });
      } else if (v.final) {
        // Waiting cannot help (drivers are created once per start): say why before the launcher's own deadline.
        this.finish(v);
        this.send({ kedgeOta: 'unhealthy', reason: `health check failed: ${v.why}` });
      } else if (performance.now() - startedAt >= this.o.deadlineMs) {
        this.finish(v);
        this.send({ kedgeOta: 'unhealthy', reason: `health check failed within ${this.o.deadlineMs} ms: ${v.why}` });
      }
    }, this.o.pollMs ?? 500);
    poll.unref();
    this.timers.push(poll);
  }

  private finish(v: Verdict): void {
    this.done = true;
    this.o.onVerdict?.(v);
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    process.off('disconnect', this.o.onOrphaned);
  }
}
