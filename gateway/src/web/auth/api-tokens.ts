import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeSecretFile } from '../../secrets.ts';
import { TOKEN_SCOPES, type TokenScope } from './route-auth.ts';

/** A token as stored: only its SHA-256, never the token itself. */
export interface StoredApiToken {
  id: string;
  name: string;
  /** hex SHA-256 of the token */
  hash: string;
  createdAt: number;
  createdBy: string;
  /** What the token may do (route-auth.ts); config, uplink, OTA, tokens and restart are never among them. */
  scopes: TokenScope[];
}

/** What the API shows of a token (never the hash). */
export type ApiTokenInfo = Omit<StoredApiToken, 'hash'>;

/**
 * Tokens minted before scopes existed were used by Node-RED for exactly these; they keep them,
 * and lose what they could do beyond (config, restart, OTA).
 */
const LEGACY_SCOPES: TokenScope[] = ['live', 'read', 'write-points'];

/** Every token starts with this, so a leaked one is recognisable in logs and secret scanners. */
export const TOKEN_PREFIX = 'kedge_';

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/**
 * Bearer tokens for machine clients (Node-RED, scripts) in <dataDir>/web/api-tokens.json, mode
 * 0600. A token is 256 random bits, so a plain SHA-256 is enough to store it (no password
 * stretching needed: there is nothing to guess). Shown once, at creation.
 */
export class ApiTokenStore {
  readonly path: string;

  constructor(webDir: string) {
    this.path = join(webDir, 'api-tokens.json');
  }

  private read(): StoredApiToken[] {
    try {
      const { tokens } = JSON.parse(readFileSync(this.path, 'utf8')) as { tokens: Array<Omit<StoredApiToken, 'scopes'> & { scopes?: unknown }> };
      return tokens.map((t) => ({
        ...t,
        scopes: Array.isArray(t.scopes) ? t.scopes.filter((s): s is TokenScope => (TOKEN_SCOPES as readonly unknown[]).includes(s)) : LEGACY_SCOPES,
      }));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new Error(`cannot read ${this.path}: ${(err as Error).message}`);
    }
  }

  private write(tokens: StoredApiToken[]): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    writeSecretFile(this.path, `${JSON.stringify({ tokens }, null, 2)}\n`);
  }

  /** Creates a token; the returned `token` is the only time it exists in clear. */
  create(name: string, createdBy: string, scopes: readonly TokenScope[]): ApiTokenInfo & { token: string } {
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const record: StoredApiToken = {
      id: randomBytes(6).toString('hex'),
      name,
      hash: sha256(token).toString('hex'),
      createdAt: Date.now(),
      createdBy,
      scopes: TOKEN_SCOPES.filter((s) => scopes.includes(s)),
    };
    this.write([...this.read(), record]);
    const { hash: _hash, ...info } = record;
    return { ...info, token };
  }

  list(): ApiTokenInfo[] {
    return this.read().map(({ hash: _hash, ...info }) => info);
  }

  /** Removes a token; false when there is none with that id. */
  revoke(id: string): boolean {
    const tokens = this.read();
    const kept = tokens.filter((t) => t.id !== id);
    if (kept.length === tokens.length) return false;
    this.write(kept);
    return true;
  }

  /** Removes every token (the owner reset: whoever held the old password may have minted some). Returns how many. */
  revokeAll(): number {
    const count = this.read().length;
    if (count > 0) this.write([]);
    return count;
  }

  /** The token's record when `token` is a live token, else null. */
  verify(token: string): ApiTokenInfo | null {
    if (!token.startsWith(TOKEN_PREFIX)) return null;
    const given = sha256(token);
    for (const t of this.read()) {
      const stored = Buffer.from(t.hash, 'hex');
      if (stored.length === given.length && timingSafeEqual(stored, given)) {
        const { hash: _hash, ...info } = t;
        return info;
      }
    }
    return null;
  }
}
