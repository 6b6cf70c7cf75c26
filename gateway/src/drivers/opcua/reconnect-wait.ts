/**
 * The OPC UA driver's wait between connection attempts: the doubling backoff, cut short by a
 * cheap TCP probe of the server's port as soon as a server that was down is back. Its clock,
 * timers and probe are injectable so a test can grow the backoff past any bound in virtual time
 * and check the schedule's promise (a restarted server is tried within PROBE_INTERVAL_MS)
 * without waiting for it.
 */
import { monoNow, timerDelay } from '@kedge/cloud-sync/clock.ts';
import { backoffCeiling, jittered } from '@kedge/cloud-sync/backoff.ts';
import { tcpReachable } from './probe.ts';

/**
 * While the driver waits to reconnect, the server's TCP port is tried this often: a server
 * back from a restart is reconnected within about this, whatever the backoff has grown to.
 */
export const PROBE_INTERVAL_MS = 1000;
/** A port that accepts connections while the server still refuses sessions (starting up) is retried at least this often. */
export const READY_RETRY_MS = 4000;
/** Jitter of the backoff: a substation full of gateways must not hammer a restarted server in lockstep. */
export const BACKOFF_JITTER = 0.1;

/** The monotonic clock and timers the wait runs on; `systemTimers` outside tests. */
export interface ReconnectTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const systemTimers: ReconnectTimers = {
  now: monoNow,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
};

/** Whether something accepts TCP connections at host:port within timeoutMs. */
export type PortProbe = (host: string, port: number, timeoutMs: number) => Promise<boolean>;

export interface ReconnectSchedule {
  timers: ReconnectTimers;
  probe: PortProbe;
}

export const systemSchedule: ReconnectSchedule = { timers: systemTimers, probe: tcpReachable };

/** The wait after the `failures`-th failure in a row (1: the first). */
export function reconnectBackoffMs(failures: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  return jittered(backoffCeiling(failures - 1, minMs, maxMs), BACKOFF_JITTER, random);
}

export interface ReconnectWait {
  /** Resolves when the next attempt is due. */
  done: Promise<void>;
  /** Ends the wait at once (close()). */
  wake(): void;
}

/**
 * Waits `delayMs`, or less: once a probe has seen the port closed, the first probe that finds it
 * open ends the wait (the server restarted); a port open all along ends it after READY_RETRY_MS
 * (a server still starting up), unless `refusedUs`: a server that refused this gateway
 * (credentials, certificates, security policy) answers the same until someone changes a config,
 * so it gets the full backoff (a login every 4 s can lock an account); a restart of it still cuts the wait.
 */
export function waitBeforeReconnect(
  o: { delayMs: number; host: string; port: number; refusedUs: boolean },
  s: ReconnectSchedule = systemSchedule,
): ReconnectWait {
  const { timers } = s;
  const started = timers.now();
  let wake: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    let finished = false;
    let probing = false;
    let sawDown = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      timers.clearTimeout(timer);
      timers.clearInterval(probe);
      resolve();
    };
    // timerDelay: above 2^31-1 ms setTimeout would fire after 1 ms (a reconnect storm).
    const timer = timers.setTimeout(finish, timerDelay(o.delayMs));
    const probe = timers.setInterval(() => {
      if (probing || finished) return;
      probing = true;
      void s.probe(o.host, o.port, PROBE_INTERVAL_MS).then((up) => {
        probing = false;
        if (!up) sawDown = true;
        else if (sawDown || (!o.refusedUs && timers.now() - started >= READY_RETRY_MS)) finish();
      });
    }, PROBE_INTERVAL_MS);
    wake = finish;
  });
  return { done, wake: () => wake() };
}
