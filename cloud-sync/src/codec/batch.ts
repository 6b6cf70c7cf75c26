import type { LogRecord, SeqRange } from '../model.ts';

/**
 * One uplink message: a contiguous range of the gateway's sequence numbers. Every sequence in
 * [first, last] is either in `readings` or inside one of the `evicted` ranges, so the center
 * can tell data the gateway dropped on purpose (size cap) from data lost on the way.
 */
export interface Batch {
  gateway: string;
  /**
   * Identity of the gateway's log (random, given when the log file was created): sequence
   * numbers only mean something within one epoch. Absent in payloads of older gateways.
   */
  epoch?: string;
  /**
   * A live-lane batch (the newest readings, sent ahead of the backlog): its readings carry
   * their real, ascending but sparse sequence numbers, `first`/`last` are the lowest/highest
   * of them, and `evicted` is always empty. A gap inside it means nothing (never eviction):
   * the backlog lane brings those sequences in order.
   */
  live?: true;
  first: number;
  last: number;
  evicted: SeqRange[];
  readings: LogRecord[];
}

export interface Codec {
  readonly name: string;
  readonly contentType: string;
  encode(batch: Batch): Buffer;
  /** Throws CodecError naming what is wrong; never returns a half-valid batch. */
  decode(payload: Buffer): Batch;
}

export class CodecError extends Error {
  constructor(codec: string, message: string) {
    super(`${codec}: ${message}`);
    this.name = 'CodecError';
  }
}

/** What an epoch may look like: short, printable, safe in topics, file names and SQL text. */
export const EPOCH_PATTERN = /^[0-9A-Za-z_-]{1,64}$/;

/** Checks the invariants every codec's output must satisfy; returns the first violation. */
export function batchProblem(b: Batch): string | null {
  if (b.epoch !== undefined && !EPOCH_PATTERN.test(b.epoch)) return `epoch ${JSON.stringify(b.epoch)} must be 1-64 letters, digits, "_" or "-"`;
  if (!Number.isSafeInteger(b.first) || b.first < 1) return `first must be a positive integer, got ${b.first}`;
  if (!Number.isSafeInteger(b.last) || b.last < b.first) return `last (${b.last}) must be >= first (${b.first})`;
  if (b.live !== undefined) return liveProblem(b);
  for (const e of b.evicted) {
    // An inverted range would move the expected sequence backwards and let readings before `first` in.
    if (!Number.isSafeInteger(e.first) || e.first < 1 || !Number.isSafeInteger(e.last) || e.last < e.first) {
      return `evicted range ${e.first}-${e.last} is not a range (first must be a positive integer <= last)`;
    }
  }
  let expected = b.first;
  const evicted = [...b.evicted].sort((x, y) => x.first - y.first);
  let e = 0;
  for (const r of b.readings) {
    while (e < evicted.length && evicted[e]!.first === expected) {
      expected = evicted[e]!.last + 1;
      e++;
    }
    if (r.seq !== expected) return `reading seq ${r.seq} out of place: expected ${expected}`;
    expected++;
  }
  while (e < evicted.length && evicted[e]!.first === expected) {
    expected = evicted[e]!.last + 1;
    e++;
  }
  if (e !== evicted.length) return `evicted range ${evicted[e]!.first}-${evicted[e]!.last} overlaps readings`;
  if (expected !== b.last + 1) return `readings and evicted ranges cover up to ${expected - 1}, batch says last = ${b.last}`;
  return null;
}

/** A live batch's own rules: sparse ascending real sequences from first to last, nothing evicted. */
function liveProblem(b: Batch): string | null {
  if (b.live !== true) return `live must be true or absent, got ${JSON.stringify(b.live)}`;
  if (b.evicted.length > 0) return `a live batch reports ${b.evicted.length} evicted ranges (it never may: a gap in it is not eviction)`;
  if (b.readings.length === 0) return 'a live batch without readings';
  if (b.readings[0]!.seq !== b.first) return `live batch: first = ${b.first} but its lowest reading is ${b.readings[0]!.seq}`;
  let previous = 0;
  for (const r of b.readings) {
    if (!Number.isSafeInteger(r.seq) || r.seq <= previous) return `live batch: reading seq ${r.seq} is not above the previous ${previous} (ascending, unique)`;
    previous = r.seq;
  }
  if (previous !== b.last) return `live batch: last = ${b.last} but its highest reading is ${previous}`;
  return null;
}
