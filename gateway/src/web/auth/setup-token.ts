import { randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * One-time token that lets whoever can read the daemon's console create (or, after a reset,
 * replace) the owner account. Kept in memory only: it is never written to disk or to the log
 * ring the UI shows.
 */
export class SetupToken {
  private token: string | null = null;

  /** Issues a new token, invalidating the previous one. Grouped for reading off a console. */
  issue(): string {
    const hex = randomBytes(12).toString('hex');
    this.token = hex.match(/.{4}/g)!.join('-');
    return this.token;
  }

  get active(): boolean {
    return this.token !== null;
  }

  /** True (and the token is spent) when `candidate` matches. */
  consume(candidate: string): boolean {
    if (this.token === null) return false;
    const a = Buffer.from(candidate.trim().toLowerCase());
    const b = Buffer.from(this.token);
    if (a.length !== b.length || !timingSafeEqual(a, b)) return false;
    this.token = null;
    return true;
  }
}
