import { isIPv4, isIPv6 } from 'node:net';
import { backoffCeiling } from '@kedge/cloud-sync/backoff.ts';

/**
 * Login throttling.
 *
 * Per client address: the first `freeFailures` failures cost nothing (typos); after that each
 * failure doubles that address's lockout, capped at maxLockMs. An attempt is counted as a
 * failure *before* the password hash is checked and forgiven when it succeeds, so parallel
 * guesses cannot all slip past the check while the hashes run.
 *
 * Per user name: no lockout. Failures from other addresses must never lock the owner out (a
 * trickle of one wrong guess per lock window would otherwise keep them out for good); instead
 * the verifications for one user name run one at a time, so guessing from many addresses at
 * once gets at most one hash at a time for that user, and the owner waits behind at most
 * `maxQueuedPerUser` guesses. Addresses that have failed before are refused (429) while that
 * queue is full; an address without failures is always let in.
 *
 * The owner's way around a lockout of their own address is the console reset (SIGUSR2), which
 * clears every entry. Memory is bounded: at most `maxEntries` addresses are remembered.
 */
export interface ThrottleOptions {
  freeFailures?: number;
  baseLockMs?: number;
  maxLockMs?: number;
  now?: () => number;
  maxEntries?: number;
  maxQueuedPerUser?: number;
}

interface Entry {
  failures: number;
  lockedUntil: number;
  lastFailureAt: number;
}

/** Old failures are forgotten after a quiet day, so a typo next month does not start at the cap. */
const FORGET_AFTER_MS = 24 * 3_600_000;

export type AttemptResult = { outcome: 'ok' } | { outcome: 'failed' } | { outcome: 'locked'; retryAfterMs: number };

/**
 * The throttle key of a client address: IPv4 as is, IPv6 by its /64 prefix (one host usually
 * owns a whole /64, and would otherwise get a fresh budget from every address in it).
 */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (isIPv4(ip) || !isIPv6(ip)) return ip;
  const [head = '', tail = ''] = ip.toLowerCase().split('::');
  const h = head ? head.split(':') : [];
  const t = ip.includes('::') && tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

export class LoginThrottle {
  readonly freeFailures: number;
  readonly baseLockMs: number;
  readonly maxLockMs: number;
  readonly maxEntries: number;
  readonly maxQueuedPerUser: number;
  private readonly now: () => number;
  private readonly entries = new Map<string, Entry>();
  /** Per user name: the tail of its verification chain and how many attempts wait in it. */
  private readonly queues = new Map<string, { tail: Promise<unknown>; size: number }>();

  constructor(o: ThrottleOptions = {}) {
    this.freeFailures = o.freeFailures ?? 5;
    this.baseLockMs = o.baseLockMs ?? 1000;
    this.maxLockMs = o.maxLockMs ?? 15 * 60_000;
    this.maxEntries = o.maxEntries ?? 10_000;
    this.maxQueuedPerUser = o.maxQueuedPerUser ?? 8;
    // Monotonic by default: lockouts are in memory and only compared with each other, and a wall
    // clock set back a year must not lock an address out for a year (nor one set ahead free it).
    this.now = o.now ?? (() => performance.now());
  }

  /** Milliseconds until `key` may try again; 0 when it is not locked. */
  retryAfterMs(key: string): number {
    const e = this.entries.get(key);
    return e ? Math.max(0, e.lockedUntil - this.now()) : 0;
  }

  /** Counts a failure for `key` (and locks it once past the free failures). */
  fail(key: string): void {
    const now = this.now();
    let e = this.entries.get(key);
    if (e && now - e.lastFailureAt > FORGET_AFTER_MS) e = undefined;
    if (!e) {
      this.makeRoom();
      e = { failures: 0, lockedUntil: 0, lastFailureAt: now };
    }
    e.failures++;
    e.lastFailureAt = now;
    const over = e.failures - this.freeFailures;
    if (over >= 0) e.lockedUntil = now + backoffCeiling(over, this.baseLockMs, this.maxLockMs);
    this.entries.set(key, e);
  }

  /** Failures `key` has on record (0 for a clean address). */
  failures(key: string): number {
    const e = this.entries.get(key);
    return e && this.now() - e.lastFailureAt <= FORGET_AFTER_MS ? e.failures : 0;
  }

  succeed(key: string): void {
    this.entries.delete(key);
  }

  /**
   * One login attempt of `user` from client address `ip`; `verify` checks the password (the
   * slow hash). Counted before `verify` runs; verifications of one user name run one at a time.
   */
  async attempt(ip: string, user: string, verify: () => Promise<boolean>): Promise<AttemptResult> {
    const key = `ip:${addressKey(ip)}`;
    const wait = this.retryAfterMs(key);
    if (wait > 0) return { outcome: 'locked', retryAfterMs: wait };
    const hadFailures = this.failures(key) > 0;
    const queue = this.queues.get(user) ?? { tail: Promise.resolve(), size: 0 };
    if (hadFailures && queue.size >= this.maxQueuedPerUser) return { outcome: 'locked', retryAfterMs: this.baseLockMs };
    // Counted now: while the hash runs, further attempts from this address see this failure.
    this.fail(key);
    queue.size++;
    this.queues.set(user, queue);
    const run = queue.tail.then(verify, verify);
    queue.tail = run.catch(() => {});
    let ok: boolean;
    try {
      ok = await run;
    } finally {
      if (--queue.size === 0 && this.queues.get(user) === queue) this.queues.delete(user);
    }
    if (!ok) return { outcome: 'failed' };
    this.succeed(key);
    return { outcome: 'ok' };
  }

  /** Addresses remembered (bounded by maxEntries). */
  get size(): number {
    return this.entries.size;
  }

  reset(): void {
    this.entries.clear();
  }

  /**
   * Keeps the map under maxEntries: forgotten entries go first, then unlocked ones (a few free
   * failures at most), and only then the locked entry whose lock ends soonest.
   */
  private makeRoom(): void {
    if (this.entries.size < this.maxEntries) return;
    const now = this.now();
    let victim: string | null = null;
    let victimRank = Infinity;
    for (const [key, e] of this.entries) {
      if (now - e.lastFailureAt > FORGET_AFTER_MS) {
        victim = key;
        break;
      }
      // Unlocked entries rank by age (older first), locked ones after all of them by lock end.
      const rank = e.lockedUntil <= now ? e.lastFailureAt - Number.MAX_SAFE_INTEGER : e.lockedUntil;
      if (rank < victimRank) [victim, victimRank] = [key, rank];
    }
    if (victim !== null) this.entries.delete(victim);
  }
}
