import { classifyModbusError } from './errors.ts';
import type { ModbusTransport } from './transport.ts';
import type { ModbusTable } from './types.ts';

/** What an engineer reads off a bus monitor: one request and how it ended. */
export interface TrafficEntry {
  /** Wall-clock ms when the request went out. */
  at: number;
  unitId: number;
  /** Modbus function code (1..6, 15, 16), as on the wire. */
  fn: number;
  table: ModbusTable;
  /** Protocol address (0-based, as on the wire). */
  address: number;
  /** Registers or bits asked for (written, for writes). */
  count: number;
  durationMs: number;
  outcome: 'ok' | 'exception' | 'timeout' | 'frame' | 'link';
  /** Modbus exception code for outcome exception. */
  exception?: number;
  /** First words (or bits) of the answer, enough to recognise it. */
  answer?: Array<number | boolean>;
  error?: string;
}

export type TrafficCounters = Record<TrafficEntry['outcome'], number>;

/** Entries kept per link: a few minutes of a busy RS-485 line, a few kilobytes of memory. */
export const TRAFFIC_ENTRIES = 200;
const ANSWER_ITEMS = 8;

const READ_FN: Record<ModbusTable, number> = { coil: 1, discrete: 2, holding: 3, input: 4 };

/** A ring of the last requests over one link, with counters since the gateway started. */
export class TrafficRing {
  private readonly entries: TrafficEntry[] = [];
  private next = 0;
  private readonly counters = new Map<number, TrafficCounters>();

  constructor(private readonly size = TRAFFIC_ENTRIES) {}

  add(e: TrafficEntry): void {
    if (this.entries.length < this.size) this.entries.push(e);
    else this.entries[this.next] = e;
    this.next = (this.next + 1) % this.size;
    const c = this.counters.get(e.unitId) ?? { ok: 0, exception: 0, timeout: 0, frame: 0, link: 0 };
    c[e.outcome]++;
    this.counters.set(e.unitId, c);
  }

  /** Newest first, of one unit id. */
  recent(unitId: number, limit = TRAFFIC_ENTRIES): TrafficEntry[] {
    const ordered = [...this.entries.slice(this.next), ...this.entries.slice(0, this.next)].reverse();
    return ordered.filter((e) => e.unitId === unitId).slice(0, limit);
  }

  countersOf(unitId: number): TrafficCounters {
    return { ...(this.counters.get(unitId) ?? { ok: 0, exception: 0, timeout: 0, frame: 0, link: 0 }) };
  }
}

const rings = new Map<string, TrafficRing>();

/** The ring of link `key` (a host:port or a serial port path), created on first use. */
export function trafficRing(key: string): TrafficRing {
  let ring = rings.get(key);
  if (!ring) rings.set(key, (ring = new TrafficRing()));
  return ring;
}

function outcomeOf(err: unknown): Pick<TrafficEntry, 'outcome' | 'exception' | 'error'> {
  const c = classifyModbusError(err);
  if (c.exception !== undefined) return { outcome: 'exception', exception: c.exception, error: c.message };
  if (c.quality === 'bad_no_response') return { outcome: 'timeout', error: c.message };
  if (c.message.startsWith('bad frame')) return { outcome: 'frame', error: c.message };
  return { outcome: 'link', error: c.message };
}

/**
 * Records every read and write of `transport` in the ring of its link. Wraps the methods of
 * the instance itself, so everything holding the transport (polling, test read, register
 * tool, writes) is seen, and the transport's own type is kept.
 */
export function recordTraffic<T extends ModbusTransport>(transport: T, ring: TrafficRing, now: () => number = Date.now): T {
  const read = transport.read.bind(transport);
  transport.read = async (unitId, table, address, count, timeoutMs) => {
    const at = now();
    const base = { at, unitId, fn: READ_FN[table], table, address, count };
    try {
      const data = await read(unitId, table, address, count, timeoutMs);
      ring.add({ ...base, durationMs: now() - at, outcome: 'ok', answer: data.slice(0, ANSWER_ITEMS) });
      return data;
    } catch (err) {
      ring.add({ ...base, durationMs: now() - at, ...outcomeOf(err) });
      throw err;
    }
  };
  if (transport.write) {
    const write = transport.write.bind(transport);
    transport.write = async (unitId, table, address, values, timeoutMs) => {
      const at = now();
      const single = values.length === 1;
      const fn = table === 'coil' ? (single ? 5 : 15) : single ? 6 : 16;
      const base = { at, unitId, fn, table, address, count: values.length };
      try {
        await write(unitId, table, address, values, timeoutMs);
        ring.add({ ...base, durationMs: now() - at, outcome: 'ok', answer: [...values].slice(0, ANSWER_ITEMS) });
      } catch (err) {
        ring.add({ ...base, durationMs: now() - at, ...outcomeOf(err) });
        throw err;
      }
    };
  }
  return transport;
}
