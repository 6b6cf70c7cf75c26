import { randomBytes } from 'node:crypto';

export interface Session {
  id: string;
  user: string;
  /** Synchronizer token the UI must send in X-CSRF-Token on every change. */
  csrf: string;
  expiresAt: number;
}

export const SESSION_COOKIE = 'kedge_session';

/** Server-side sessions: the cookie carries only a random id, so logout and expiry are real. */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  create(user: string): Session {
    this.sweep();
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
    return s;
  }

  destroy(id: string): void {
    this.sessions.delete(id);
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
