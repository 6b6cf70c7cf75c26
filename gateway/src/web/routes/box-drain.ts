/**
 * How long the backlog takes to drain. The backlog shrinks by what the center acknowledges and
 * grows by what the devices deliver meanwhile, so the estimate uses the net rate (acked minus
 * appended per second) over the last window, not the ack rate alone: a box sending 100/s while
 * polling 120/s never drains, however fast it sends.
 */
export interface DrainEstimate {
  /** Readings acknowledged by the center per second over the window; null until two looks apart. */
  ackedPerSecond: number | null;
  /** Readings written to the log per second over the window (the poll rate); null likewise. */
  arrivingPerSecond: number | null;
  /** acked minus arriving: how fast the backlog shrinks (negative: it grows). */
  netPerSecond: number | null;
  /** Time to an empty backlog at the net rate; null when it does not shrink or is not known yet. */
  drainMs: number | null;
  /** false: the backlog does not shrink (the uplink does not keep up); null: not known yet or nothing to send. */
  keepingUp: boolean | null;
}

interface Sample {
  at: number;
  acked: number;
  appended: number;
}

export class DrainMeter {
  private readonly samples: Sample[] = [];

  constructor(private readonly windowMs: number) {}

  /**
   * One look at the counters: `acked` readings acknowledged since start, `appended` the log's
   * last sequence number (every reading written gets the next one), `unsent` the backlog now.
   */
  sample(at: number, acked: number, appended: number, unsent: number): DrainEstimate {
    this.samples.push({ at, acked, appended });
    while (this.samples.length > 2 && this.samples[0]!.at < at - this.windowMs) this.samples.shift();
    const first = this.samples[0]!;
    // A counter that went back (the uplink was rebuilt by a reload) starts the window again.
    if (acked < first.acked || appended < first.appended) {
      this.samples.splice(0, this.samples.length - 1);
      return { ackedPerSecond: null, arrivingPerSecond: null, netPerSecond: null, drainMs: null, keepingUp: null };
    }
    if (at <= first.at) return { ackedPerSecond: null, arrivingPerSecond: null, netPerSecond: null, drainMs: null, keepingUp: null };
    const seconds = (at - first.at) / 1000;
    const ackedPerSecond = (acked - first.acked) / seconds;
    const arrivingPerSecond = (appended - first.appended) / seconds;
    const netPerSecond = ackedPerSecond - arrivingPerSecond;
    if (unsent === 0) return { ackedPerSecond, arrivingPerSecond, netPerSecond, drainMs: 0, keepingUp: null };
    return {
      ackedPerSecond,
      arrivingPerSecond,
      netPerSecond,
      drainMs: netPerSecond > 0 ? Math.round((unsent / netPerSecond) * 1000) : null,
      keepingUp: netPerSecond > 0,
    };
  }
}
