import { randomBytes, timingSafeEqual } from 'node:crypto';

/** Name of the file in <dataDir>/web/ that holds the open setup token (mode 0600), removed once used. */
export const SETUP_TOKEN_FILE = 'setup-token';

/**
 * One-time token that lets whoever can read the daemon's setup-token file (its user and root) or
 * its terminal create (or, after a reset, replace) the owner account. Never in the log ring the
 * UI shows, nor on stdout when that goes to journald (server.ts issueSetupToken).
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
