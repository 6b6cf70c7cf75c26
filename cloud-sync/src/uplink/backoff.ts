import { timerDelay } from '../clock.ts';

/**
 * Reconnect delay with "full jitter" above a floor: after an outage, hundreds of boxes
 * must not come back in lockstep and get the broker to drop them all again.
 */
export function reconnectDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = backoffCeiling(attempt, minMs, maxMs);
  // Handed to setTimeout, which turns anything above 2^31-1 ms into 1 ms: a reconnect storm.
  return timerDelay(Math.round(minMs + random() * (ceiling - minMs)));
}

/**
 * The exponential backoff every retry loop of kedge shares (uplink reconnects, device polls,
 * OPC UA sessions): `minMs` after the first failure (attempt 0), doubling per attempt, capped
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
