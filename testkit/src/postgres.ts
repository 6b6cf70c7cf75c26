import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { freePort } from './ports.ts';
import { startProcess, type ManagedProcess } from './proc.ts';
import { shortHash, templateDir } from './template-dir.ts';

export interface PostgresHandle {
  port: number;
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust auth on loopback: test only). */
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Debian's server binaries; the version folder is whatever `postgresql` installed. */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'postgres'))) return join(root, v, 'bin');
  throw new Error('PostgreSQL server not found under /usr/lib/postgresql: apt-get install postgresql');
}

/**
 * A throwaway PostgreSQL cluster in a temp dir, on a free loopback port. PostgreSQL refuses to
 * run as root, so as root the cluster is owned by and run as the `postgres` system user.
 * The cluster is a copy (`cp -a`) of one initdb made once per machine user and server version
 * (template-dir.ts): initdb costs several times the CPU and seconds of a copy, and every cluster
 * starts from the same freshly initialised state either way.
 */
/** initdb's arguments after `-D <data>`: part of the template's name. */
const INITDB_ARGS = ['-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'];

export async function startPostgres(): Promise<PostgresHandle> {
  const bin = postgresBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'kedge-pg-'));
  const asRoot = process.getuid?.() === 0;
  const as = (cmd: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
  const owner = asRoot
    ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) }
    : null;
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const data = join(dir, 'data');
  try {
    // The name changes with the server's version line and initdb's arguments (the data path aside).
    const version = execFileSync(join(bin, 'postgres'), ['--version']).toString().trim();
    const name = `pg-initdb-${basename(dirname(bin))}-${shortHash(version, INITDB_ARGS, asRoot)}`;
    const template = await templateDir(name, ['data/PG_VERSION', 'data/global/pg_control'], async (scratch) => {
      const data = join(scratch, 'data');
      mkdirSync(data, { mode: 0o700 });
      if (owner) {
        chmodSync(scratch, 0o755); // the postgres user copies from it
        chownSync(data, owner.uid, owner.gid);
      }
      const [initCmd, initArgs] = as(join(bin, 'initdb'), ['-D', data, ...INITDB_ARGS]);
      execFileSync(initCmd, initArgs, { stdio: 'pipe' });
    });
    const [cpCmd, cpArgs] = as('cp', ['-a', join(template, 'data'), data]);
    execFileSync(cpCmd, cpArgs, { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true }); // a half-made cluster is nobody's to stop
    throw err;
  }
  const port = await freePort();
  const [cmd, args] = as(join(bin, 'postgres'), [
    '-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', dir,
    '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=50',
  ]);
  let proc: ManagedProcess;
  try {
    proc = await startProcess(cmd, args, { name: `postgres:${port}`, readyPort: port, readyLine: /ready to accept connections/, timeoutMs: 30_000 });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    pid: proc.pid,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
