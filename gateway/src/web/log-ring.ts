/** pino's numeric levels, for the logs page filter. */
export const LOG_LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
export type LogLevelName = keyof typeof LOG_LEVELS;

export interface LogLine {
  /** 1, 2, 3 … in the order written (never reused): the logs page asks only for lines after the last it has. */
  seq: number;
  time: number;
  level: number;
  msg: string;
  /** The whole record as pino wrote it (context fields such as device, err). */
  raw: Record<string, unknown>;
}

/**
 * The last N log records of the daemon, for the logs page: a pino destination (one JSON line
 * per write) added beside stdout with pino.multistream in daemon.ts.
 */
export class LogRing {
  private readonly lines: LogLine[] = [];
  private lastSeq = 0;

  constructor(readonly capacity = 2000) {}

  /** The sequence number of the newest line written (0: none yet), kept lines or not. */
  get seq(): number {
    return this.lastSeq;
  }

  write(chunk: string): void {
    for (const text of chunk.split('\n')) {
      if (!text.trim()) continue;
      let raw: Record<string, unknown>;
      try {
        raw = JSON.parse(text) as Record<string, unknown>;
      } catch {
        raw = { msg: text };
      }
      this.push({
        seq: ++this.lastSeq,
        time: typeof raw['time'] === 'number' ? raw['time'] : Date.now(),
        level: typeof raw['level'] === 'number' ? raw['level'] : LOG_LEVELS.info,
        msg: typeof raw['msg'] === 'string' ? raw['msg'] : '',
        raw,
      });
    }
  }

  private push(line: LogLine): void {
    this.lines.push(line);
    if (this.lines.length > this.capacity) this.lines.splice(0, this.lines.length - this.capacity);
  }

  /** Newest last; at most `limit` lines at or above `minLevel`, only those after sequence number `since`. */
  tail(minLevel: number, limit: number, since = 0): LogLine[] {
    const out: LogLine[] = [];
    for (let i = this.lines.length - 1; i >= 0 && out.length < limit; i--) {
      const line = this.lines[i]!;
      if (line.seq <= since) break;
      if (line.level >= minLevel) out.push(line);
    }
    return out.reverse();
  }
}
