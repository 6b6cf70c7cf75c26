/**
 * Login throttling per key (an IP address, a user name). The first FREE_FAILURES failures
 * cost nothing (typos); after that each failure doubles the lockout, capped at maxLockMs so
 * an attacker who keeps guessing can delay the owner but never lock them out for good. The
 * owner's way around a lockout is the console reset (SIGUSR2), which clears every entry.
 */
export interface ThrottleOptions {
  freeFailures?: number;
  baseLockMs?: number;
  maxLockMs?: number;
  now?: () => number;
}

interface Entry {
  failures: number;
  lockedUntil: number;
  lastFailureAt: number;
}

export class LoginThrottle {
  readonly freeFailures: number;
  readonly baseLockMs: number;
  readonly maxLockMs: number;
  private readonly now: () => number;
  private readonly entries = new Map<string, Entry>();

  constructor(o: ThrottleOptions = {}) {
    this.freeFailures = o.freeFailures ?? 5;
    this.baseLockMs = o.baseLockMs ?? 1000;
    this.maxLockMs = o.maxLockMs ?? 15 * 60_000;
    this.now = o.now ?? Date.now;
  }

  /** Milliseconds until any of `keys` may try again; 0 when none is locked. */
  retryAfterMs(keys: readonly string[]): number {
    const now = this.now();
    let wait = 0;
    for (const key of keys) {
      const e = this.entries.get(key);
      if (e) wait = Math.max(wait, e.lockedUntil - now);
    }
    return Math.max(0, wait);
  }

  fail(keys: readonly string[]): void {
    const now = this.now();
    for (const key of keys) {
      let e = this.entries.get(key);
      // A quiet day forgets old failures, so a typo next month does not start at the cap.
      if (e && now - e.lastFailureAt > 24 * 3_600_000) e = undefined;
      e ??= { failures: 0, lockedUntil: 0, lastFailureAt: now };
      e.failures++;
      e.lastFailureAt = now;
      const over = e.failures - this.freeFailures;
      if (over >= 0) e.lockedUntil = now + Math.min(this.maxLockMs, this.baseLockMs * 2 ** Math.min(over, 30));
      this.entries.set(key, e);
    }
  }

  succeed(keys: readonly string[]): void {
    for (const key of keys) this.entries.delete(key);
  }

  reset(): void {
    this.entries.clear();
  }
}
