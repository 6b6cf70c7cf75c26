import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeSecretFile } from '../../secrets.ts';

/** Parameters stored with each hash, so they can be raised later without breaking old hashes. */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
  keylen: number;
}

export interface StoredUser {
  user: string;
  /** base64 */
  hash: string;
  /** base64 */
  salt: string;
  params: ScryptParams;
  createdAt: number;
}

/** 2^15 costs ~32 MiB and ~0.1 s on a small ARM box: slow for a guesser, tolerable for a login. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 1, keylen: 64 };
export const MIN_PASSWORD_LENGTH = 10;

function scryptAsync(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) =>
    scrypt(password, salt, params.keylen, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/**
 * The owner account of the web UI, in <dataDir>/web/users.json (mode 0600). There is no
 * default password: the first owner is created with a one-time setup token printed on the
 * console (setup-token.ts).
 */
export class UserStore {
  readonly path: string;

  constructor(
    webDir: string,
    private readonly params: ScryptParams = DEFAULT_SCRYPT,
  ) {
    this.path = join(webDir, 'users.json');
  }

  private read(): StoredUser[] {
    try {
      return (JSON.parse(readFileSync(this.path, 'utf8')) as { users: StoredUser[] }).users;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new Error(`cannot read ${this.path}: ${(err as Error).message}`);
    }
  }

  hasOwner(): boolean {
    return this.read().length > 0;
  }

  /** Constant work whether or not the user exists, so timing does not reveal user names. */
  async verify(user: string, password: string): Promise<boolean> {
    const found = this.read().find((u) => u.user === user);
    const params = found?.params ?? this.params;
    const salt = found ? Buffer.from(found.salt, 'base64') : randomBytes(16);
    const key = await scryptAsync(password, salt, params);
    if (!found) return false;
    const expected = Buffer.from(found.hash, 'base64');
    return expected.length === key.length && timingSafeEqual(expected, key);
  }

  /** Creates or replaces the single owner account. */
  async setOwner(user: string, password: string): Promise<void> {
    const salt = randomBytes(16);
    const key = await scryptAsync(password, salt, this.params);
    const record: StoredUser = {
      user,
      hash: key.toString('base64'),
      salt: salt.toString('base64'),
      params: this.params,
      createdAt: Date.now(),
    };
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    writeSecretFile(this.path, `${JSON.stringify({ users: [record] }, null, 2)}\n`);
  }
}
