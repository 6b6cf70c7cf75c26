import { randomBytes } from 'node:crypto';

export interface Session {
  id: string;
  user: string;
  /** Synchronizer token the UI must send in X-CSRF-Token on every change. */
  csrf: string;
  expiresAt: number;
}

export const SESSION_COOKIE = 'kedge_session';

/** Enough for every engineer's browser on one box; the map must not grow without bound. */
export const MAX_SESSIONS = 64;

/**
 * Server-side sessions: the cookie carries only a random id, so logout and expiry are real.
 * At most `maxSessions` live at once; beyond that the least recently used one ends.
 */
export class SessionStore {
  /** In order of last use (a Map keeps insertion order; get() moves a session to the end). */
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxSessions = MAX_SESSIONS,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  create(user: string): Session {
    this.sweep();
    while (this.sessions.size >= this.maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
    const session: Session = {
      id: randomBytes(32).toString('base64url'),
      user,
      csrf: randomBytes(32).toString('base64url'),
      expiresAt: this.now() + this.ttlMs,
    };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The live session for `id`, its expiry pushed forward (idle timeout); null when unknown or expired. */
  get(id: string | undefined): Session | null {
    if (!id) return null;
    const s = this.sessions.get(id);
    if (!s) return null;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return null;
    }
    s.expiresAt = this.now() + this.ttlMs;
    this.sessions.delete(id);
    this.sessions.set(id, s);
    return s;
  }

  destroy(id: string): void {
    this.sessions.delete(id);
  }

  /** After a password change by its owner: every session but the one that changed it ends. */
  destroyAllExcept(keep: string): void {
    for (const id of [...this.sessions.keys()]) if (id !== keep) this.sessions.delete(id);
  }

  /** After a password reset every old session must go. */
  destroyAll(): void {
    this.sessions.clear();
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
  }
}
