/** Virtual time and a counting port probe for tests of the OPC UA driver's reconnect wait; loads no node-opcua. */
import { tcpReachable } from './probe.ts';
import type { PortProbe, ReconnectTimers } from './reconnect-wait.ts';

/**
 * Virtual time for the driver's reconnect wait (ReconnectTimers): nothing fires until the test
 * steps, so a backoff of minutes passes at once and "within N ms" is measured on this clock,
 * however loaded the machine is. Only the wait runs on it; sockets and timeouts stay real.
 */
export class ManualTimers implements ReconnectTimers {
  private t = 0;
  private ids = 0;
  private readonly timers = new Map<number, { at: number; every: number | null; fn: () => void }>();
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): number {
    this.timers.set(++this.ids, { at: this.t + ms, every: null, fn });
    return this.ids;
  }
  setInterval(fn: () => void, ms: number): number {
    this.timers.set(++this.ids, { at: this.t + ms, every: Math.max(1, ms), fn });
    return this.ids;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  clearInterval(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** Timers armed now (the wait arms one timeout and one probe interval). */
  get pending(): number {
    return this.timers.size;
  }
  /** Time left until the armed one-shot timeout (the backoff) fires; null when none is armed. */
  timeoutIn(): number | null {
    const at = [...this.timers.values()].filter((x) => x.every === null).map((x) => x.at);
    return at.length ? Math.min(...at) - this.t : null;
  }
  /** Moves the clock to the earliest armed timer and fires it; false when none is armed. */
  step(): boolean {
    let next: [number, { at: number; every: number | null; fn: () => void }] | null = null;
    for (const e of this.timers) if (!next || e[1].at < next[1].at) next = e;
    if (!next) return false;
    const [id, timer] = next;
    this.t = Math.max(this.t, timer.at);
    if (timer.every === null) this.timers.delete(id);
    else timer.at += timer.every;
    timer.fn();
    return true;
  }
}

/** A port probe (PortProbe) that counts the probes in flight and answered, around the real one or another. */
export class CountingProbe {
  inFlight = 0;
  answered = 0;
  constructor(private readonly inner: PortProbe = tcpReachable) {}
  readonly probe: PortProbe = async (host, port, timeoutMs) => {
    this.inFlight++;
    try {
      return await this.inner(host, port, timeoutMs);
    } finally {
      this.inFlight--;
      this.answered++;
    }
  };
}
