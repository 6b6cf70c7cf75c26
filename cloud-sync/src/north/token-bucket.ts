import { monoNow } from '../clock.ts';

/**
 * Rate limit for the flush after an outage: hundreds of boxes coming back at once must not
 * hit the broker with their whole backlog at line speed. Tokens are readings.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    /** Readings per second; 0 means unlimited. */
    private readonly ratePerSec: number,
    /** Largest burst; a batch larger than this still passes once the bucket is full. */
    private readonly capacity: number,
    /** A monotonic clock: a wall clock set back a year would owe a year of tokens. */
    private readonly now: () => number = monoNow,
  ) {
    this.tokens = capacity;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    // A clock that goes back (a wall clock handed in by mistake) refills nothing, and never
    // takes tokens away: the wait stays bounded by what one full bucket takes.
    const elapsed = Math.max(0, t - this.last);
    this.tokens = Math.min(this.capacity, Math.max(0, this.tokens) + (elapsed / 1000) * this.ratePerSec);
    this.last = t;
  }

  /**
   * Takes `n` tokens and returns 0, or takes nothing and returns how many ms to wait before
   * they are there. A request above capacity waits for a full bucket and then drains it.
   */
  take(n: number): number {
    if (this.ratePerSec <= 0) return 0;
    this.refill();
    const need = Math.min(n, this.capacity);
    if (this.tokens >= need) {
      this.tokens -= need;
      return 0;
    }
    return Math.ceil(((need - this.tokens) / this.ratePerSec) * 1000);
  }
}
