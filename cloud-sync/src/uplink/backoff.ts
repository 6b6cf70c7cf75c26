/**
 * Reconnect delay with "full jitter" above a floor: after an outage, hundreds of boxes
 * must not come back in lockstep and get the broker to drop them all again.
 */
export function reconnectDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(minMs + random() * (ceiling - minMs));
}
