import { MODBUS_TABLES, type ModbusPointRef, type ModbusTable, type ReadBlock } from './types.ts';

/** What a Modbus read request names: which table, from which address, how many registers or bits. */
export interface ReadSpan {
  table: ModbusTable;
  /** 0-based start address. */
  address: number;
  /** Registers (holding/input) or bits (coil/discrete). */
  count: number;
}

const TABLE_CODE = new Map<ModbusTable, number>(MODBUS_TABLES.map((t, i) => [t, i]));

/** Addresses, counts and offsets live in the 16-bit Modbus address space. */
const MAX_U16 = 0xffff;

/**
 * A device's cached plan: the planner's reads, in the same order, kept in columns, one set of
 * typed arrays per plan (issue 20: heap per configured point). An object and two typed arrays
 * per read cost ~500 B per point for reads that serve one point; this is ~15 B.
 * Read `r` serves the slots `start(r)` up to `end(r)`; each slot names a point (its index in the
 * device's point list) and its offset from the read's address.
 */
export class ReadPlan {
  readonly length: number;
  private readonly tables: Uint8Array;
  private readonly addresses: Uint16Array;
  private readonly counts: Uint16Array;
  /** length + 1 entries: read r's slots are starts[r] .. starts[r + 1]. */
  private readonly starts: Uint32Array;
  private readonly points: Uint32Array;
  private readonly offsets: Uint16Array;

  /** The planner's blocks; `numberOf` gives a point's index in the device's list. */
  constructor(blocks: readonly ReadBlock[], numberOf: (p: ModbusPointRef) => number) {
    const n = blocks.length;
    let slots = 0;
    for (const b of blocks) slots += b.points.length;
    this.length = n;
    this.tables = new Uint8Array(n);
    this.addresses = new Uint16Array(n);
    this.counts = new Uint16Array(n);
    this.starts = new Uint32Array(n + 1);
    this.points = new Uint32Array(slots);
    this.offsets = new Uint16Array(slots);
    let s = 0;
    for (let r = 0; r < n; r++) {
      const b = blocks[r]!;
      // The planner keeps reads inside the address space; a wider one would be cut silently by the columns.
      if (b.address > MAX_U16 || b.count > MAX_U16) throw new RangeError(`Modbus read ${b.table} ${b.address}+${b.count} does not fit the 16-bit address space`);
      this.tables[r] = TABLE_CODE.get(b.table)!;
      this.addresses[r] = b.address;
      this.counts[r] = b.count;
      this.starts[r] = s;
      for (const { point, offset } of b.points) {
        this.points[s] = numberOf(point);
        this.offsets[s++] = offset;
      }
    }
    this.starts[n] = s;
  }

  table(r: number): ModbusTable {
    return MODBUS_TABLES[this.tables[r]!]!;
  }

  address(r: number): number {
    return this.addresses[r]!;
  }

  count(r: number): number {
    return this.counts[r]!;
  }

  /** Read r's first slot. */
  start(r: number): number {
    return this.starts[r]!;
  }

  /** Past read r's last slot. */
  end(r: number): number {
    return this.starts[r + 1]!;
  }

  /** The point (index in the device's list) of a slot. */
  point(slot: number): number {
    return this.points[slot]!;
  }

  /** A slot's offset from its read's address, in registers or bits. */
  offset(slot: number): number {
    return this.offsets[slot]!;
  }

  /** Read r as an object, for messages and tests. */
  span(r: number): ReadSpan {
    return { table: this.table(r), address: this.address(r), count: this.count(r) };
  }

  /** The points read r serves, in its order. */
  pointsOf(r: number): number[] {
    return Array.from(this.points.subarray(this.start(r), this.end(r)));
  }
}

/**
 * Point number by id without a Map per device: the indexes sorted by id, searched. For an id
 * given twice the later point wins, as it did with `new Map(points.map(...))`.
 */
export class PointIndex {
  private readonly sorted: Uint32Array;

  constructor(private readonly points: readonly ModbusPointRef[]) {
    const ids = points.map((p) => p.id);
    // Equal ids: the later index first, so the search (which finds the first equal) takes it.
    const order = Uint32Array.from(ids.keys()).sort((a, b) => (ids[a]! < ids[b]! ? -1 : ids[a]! > ids[b]! ? 1 : b - a));
    this.sorted = order;
  }

  /** The index of the point with this id, or -1. */
  of(id: string): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[this.sorted[mid]!]!.id < id) lo = mid + 1;
      else hi = mid;
    }
    const i = this.sorted[lo];
    return i !== undefined && this.points[i]!.id === id ? i : -1;
  }
}
