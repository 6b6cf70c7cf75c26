import { timerDelay } from './clock.ts';

/**
 * Reconnect delay: the doubling ceiling (capped at `maxMs`), jittered over its upper half and
 * never below `minMs`. Bounded above, so a box is back within `maxMs` of the broker (the
 * default 8 s; "full jitter" up to a 60 s cap took 4.8 s in one run and 40.5 s in another);
 * bounded below, so a long outage costs the broker one attempt per box every `maxMs`/2..`maxMs`,
 * at random phases: a fleet does not come back in lockstep. A wider fleet-wide spread is
 * `spreadDelay`, a separate setting.
 */
export function reconnectDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = backoffCeiling(attempt, minMs, maxMs);
  const low = Math.max(minMs, ceiling / 2);
  // Handed to setTimeout, which turns anything above 2^31-1 ms into 1 ms: a reconnect storm.
  return timerDelay(Math.round(low + random() * (ceiling - low)));
}

/**
 * A box's own offset in [0, `spreadMs`), drawn once per uplink and added to the first attempt
 * after each drop: boxes whose links all broke at the same instant (a broker restart) come back
 * spread over the window instead of within the first second. 0 = off.
 */
export function spreadDelay(spreadMs: number, random: () => number = Math.random): number {
  return spreadMs > 0 ? Math.floor(random() * spreadMs) : 0;
}

/**
 * The exponential backoff every retry loop of kedge shares (uplink reconnects, device polls,
 * OPC UA sessions, the log's write retries, the ingest's store retries, the web login lockout),
 * here beside clock.ts rather than under north/, so the south does not import the north: `minMs` after the first failure (attempt 0), doubling per attempt, capped
 * at `maxMs`. The exponent is capped too, so a months-long outage cannot overflow it.
 */
export function backoffCeiling(attempt: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** Math.min(Math.max(0, attempt), 30));
}

/**
 * `ms` spread evenly over ±`spread` (0.1: 90 %..110 %): clients retrying after the same
 * outage (a substation of boxes, a broker restart) must not arrive in lockstep.
 */
export function jittered(ms: number, spread: number, random: () => number = Math.random): number {
  return ms * (1 - spread + 2 * spread * random());
}
