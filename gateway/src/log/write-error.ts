/**
 * Why a write to the log failed, in the words an operator acts on. Disk full, I/O errors and a
 * file system remounted read-only are states of the box, not bugs: the log reports them and
 * retries, it never lets them escape a timer or a callback (that killed the daemon).
 */
export interface WriteFailure {
  /** SQLite's extended code (SQLITE_FULL, SQLITE_IOERR_WRITE, SQLITE_READONLY...) or the errno code. */
  code: string;
  reason: string;
}

export function describeWriteError(err: unknown): WriteFailure {
  const code = String((err as { code?: unknown }).code ?? 'UNKNOWN');
  const message = (err as Error).message ?? String(err);
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') return { code, reason: `disk full: ${message}` };
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS') return { code, reason: `file system is read-only: ${message}` };
  if (code.startsWith('SQLITE_IOERR') || code === 'EIO') return { code, reason: `I/O error: ${message}` };
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return { code, reason: `log is locked by another process: ${message}` };
  return { code, reason: message };
}
