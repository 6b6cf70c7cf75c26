import { closeSync, existsSync, openSync, readFileSync, readSync, renameSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../write-file-atomic.ts';

/**
 * Cheap checks of a reading-log file before SQLite opens it, and the rule for a file that
 * fails them: it is moved aside (kept, named with a timestamp) and never silently replaced or
 * reused. SQLite itself would happily turn a zero-length file into a fresh database that
 * restarts at sequence 1, and answers a garbage or truncated file with a raw exception.
 */

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
const HEADER_BYTES = 100;

export type FileVerdict =
  | { kind: 'absent' }
  /** `odd` names why a quick_check is worth its cost (null: the file looks as it should). */
  | { kind: 'plausible'; odd: string | null }
  | { kind: 'damaged'; reason: string };

/** Reads the 100-byte SQLite header and compares it with the file's size; never throws for a bad file. */
export function inspectLogFile(path: string): FileVerdict {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    return { kind: 'damaged', reason: `cannot be examined: ${(err as Error).message}` };
  }
  if (size === 0) return { kind: 'damaged', reason: 'is empty (zero length)' };
  if (size < HEADER_BYTES) return { kind: 'damaged', reason: `is truncated: ${size} bytes, shorter than the ${HEADER_BYTES}-byte SQLite header` };
  const header = Buffer.alloc(HEADER_BYTES);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, header, 0, HEADER_BYTES, 0);
  } finally {
    closeSync(fd);
  }
  if (!header.subarray(0, SQLITE_MAGIC.length).equals(SQLITE_MAGIC)) {
    return { kind: 'damaged', reason: 'is not an SQLite database (its first bytes are not "SQLite format 3")' };
  }
  const rawPageSize = header.readUInt16BE(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) return { kind: 'damaged', reason: `has an impossible page size ${rawPageSize} in its header` };
  // The page count at offset 28 is only valid while the "version-valid-for" number equals the change counter.
  const headerPages = header.readUInt32BE(24) === header.readUInt32BE(92) ? header.readUInt32BE(28) : 0;
  const walBytes = fileSize(`${path}-wal`);
  if (headerPages > 0 && size < headerPages * pageSize) {
    // A checkpoint interrupted by a crash may have written page 1 before the file grew; the
    // WAL still holds every page then, and quick_check decides. Without a WAL it is truncated.
    if (walBytes === 0) return { kind: 'damaged', reason: `is truncated: ${size} bytes, its header says ${headerPages * pageSize}` };
    return { kind: 'plausible', odd: `is shorter (${size} bytes) than its header says (${headerPages * pageSize})` };
  }
  if (size % pageSize !== 0) return { kind: 'plausible', odd: `is ${size} bytes, not a whole number of ${pageSize}-byte pages` };
  return { kind: 'plausible', odd: null };
}

export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * Renames a damaged log (with its -wal and -shm) to `<file>.damaged-<UTC timestamp>`, so it
 * can be examined or recovered by hand; returns the new name of the database file.
 */
export function moveAside(path: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  let target = `${path}.damaged-${stamp}`;
  for (let n = 2; existsSync(target); n++) target = `${path}.damaged-${stamp}-${n}`;
  if (existsSync(path)) renameSync(path, target);
  for (const suffix of ['-wal', '-shm']) {
    if (existsSync(`${path}${suffix}`)) renameSync(`${path}${suffix}`, `${target}${suffix}`);
  }
  return target;
}

/**
 * The identity file beside the log (`log.db.id`): the epoch of the log that should be there.
 * It is what tells a first start (no log, no identity) from a log that vanished.
 */
export interface LogIdentityFile {
  epoch: string;
  createdAt: string;
}

export function readIdentityFile(path: string): LogIdentityFile | null {
  try {
    const parsed = JSON.parse(readFileSync(`${path}.id`, 'utf8')) as Partial<LogIdentityFile>;
    return typeof parsed.epoch === 'string' ? { epoch: parsed.epoch, createdAt: String(parsed.createdAt ?? '') } : null;
  } catch {
    return null;
  }
}

export function writeIdentityFile(path: string, identity: LogIdentityFile): void {
  writeFileAtomic(`${path}.id`, `${JSON.stringify(identity)}\n`);
}
