/** Hash tables are doubled before they are half full: a miss probes ~2.5 entries on average. */
const MAX_LOAD = 0.5;
const INITIAL_TABLE = 64;

/**
 * The log's points both ways, key <-> id of the file's points table, in flat arrays (issue 20).
 * Two Maps (key -> id, id -> key) cost ~92 B a point; here a point is one reference to its
 * key (the config's own string once a commit has seen it: `adopt`), and its entry in an
 * Int32Array hash of the keys: ~20-25 B at 10,000 points.
 *
 * Points get slots 0, 1, 2... in the order they become known; the log indexes its per-point
 * tables (newest row, successor guess) by slot, which stays dense whatever ids the file holds.
 * While every slot's id is slot + 1 (a file the log numbered itself: SQLite gives max(id) + 1,
 * and a rolled-back insert gives its id back), ids are not stored at all; the first id off
 * that line (a file from elsewhere, ids past 2^31) brings the id column and its hash table.
 */
export class PointIndex {
  private readonly keys: string[] = [];
  /** Slot + 1 at each key's hash (linear probing); 0 is an empty entry. */
  private byKey: Int32Array = new Int32Array(INITIAL_TABLE);
  /** Only once some id is not slot + 1: each slot's id (any SQLite integer), and slot + 1 at each id's hash. */
  private sparse: { ids: Float64Array; byId: Int32Array } | null = null;

  /** Points held. */
  get size(): number {
    return this.keys.length;
  }

  /** The key of `slot` (undefined past the end: the log's successor guess may name a slot that was taken back). */
  key(slot: number): string | undefined {
    return this.keys[slot];
  }

  id(slot: number): number {
    const sparse = this.sparse;
    return sparse === null ? slot + 1 : sparse.ids[slot]!;
  }

  /** The slot of `key`, or -1. */
  slotOfKey(key: string): number {
    const table = this.byKey;
    const mask = table.length - 1;
    for (let h = hashKey(key) & mask; ; h = (h + 1) & mask) {
      const entry = table[h]!;
      if (entry === 0) return -1;
      if (this.keys[entry - 1] === key) return entry - 1;
    }
  }

  /** The slot of the point with file id `id`, or -1. */
  slotOfId(id: number): number {
    const sparse = this.sparse;
    if (sparse === null) return Number.isInteger(id) && id >= 1 && id <= this.keys.length ? id - 1 : -1;
    const table = sparse.byId;
    const mask = table.length - 1;
    for (let h = hashId(id) & mask; ; h = (h + 1) & mask) {
      const entry = table[h]!;
      if (entry === 0) return -1;
      if (sparse.ids[entry - 1] === id) return entry - 1;
    }
  }

  /** A new point (its key and id both unknown here: the caller checked the key, the file's UNIQUE constraints the rest); returns its slot. */
  add(key: string, id: number): number {
    const slot = this.keys.length;
    if (this.sparse === null && id !== slot + 1) this.goSparse();
    this.keys.push(key);
    if ((slot + 1) / this.byKey.length > MAX_LOAD) this.byKey = this.keyTable(this.byKey.length * 2);
    else insert(this.byKey, hashKey(key), slot);
    const sparse = this.sparse;
    if (sparse !== null) {
      if (sparse.ids.length <= slot) sparse.ids = grown(sparse.ids, slot + 1);
      sparse.ids[slot] = id;
      if ((slot + 1) / sparse.byId.length > MAX_LOAD) sparse.byId = this.idTable(sparse.byId.length * 2);
      else insert(sparse.byId, hashId(id), slot);
    }
    return slot;
  }

  /**
   * Holds `key`, equal to the slot's key, instead: the config's string, so that the copy
   * SQLite gave at open can be collected rather than kept beside it for every point.
   */
  adopt(slot: number, key: string): void {
    this.keys[slot] = key;
  }

  /** Forgets the slots from `size` on (points whose insert a failed commit rolled back). */
  truncate(size: number): void {
    if (size >= this.keys.length) return;
    this.keys.length = size;
    // Rare (a commit that failed while it created points): rebuilt rather than deleted entry by entry.
    this.byKey = this.keyTable(this.byKey.length);
    const sparse = this.sparse;
    if (sparse !== null) sparse.byId = this.idTable(sparse.byId.length);
  }

  private goSparse(): void {
    const n = this.keys.length;
    const ids = new Float64Array(Math.max(16, n * 2));
    for (let s = 0; s < n; s++) ids[s] = s + 1;
    this.sparse = { ids, byId: new Int32Array(0) };
    this.sparse.byId = this.idTable(tableSize(n + 1));
  }

  private keyTable(size: number): Int32Array {
    const table = new Int32Array(size);
    for (let s = 0; s < this.keys.length; s++) insert(table, hashKey(this.keys[s]!), s);
    return table;
  }

  private idTable(size: number): Int32Array {
    const table = new Int32Array(size);
    const ids = this.sparse!.ids;
    for (let s = 0; s < this.keys.length; s++) insert(table, hashId(ids[s]!), s);
    return table;
  }
}

function insert(table: Int32Array, hash: number, slot: number): void {
  const mask = table.length - 1;
  let h = hash & mask;
  while (table[h] !== 0) h = (h + 1) & mask;
  table[h] = slot + 1;
}

/** The power of two a table of `n` entries needs. */
function tableSize(n: number): number {
  let size = INITIAL_TABLE;
  while (n / size > MAX_LOAD) size *= 2;
  return size;
}

function grown(a: Float64Array, room: number): Float64Array {
  const b = new Float64Array(Math.max(room, a.length * 2));
  b.set(a);
  return b;
}

/**
 * FNV-1a-like over the UTF-16 units, two to a step (the lookup a commit falls back to hashes the
 * whole key each time, where a Map reuses the hash V8 caches in the string), with a final mix
 * so that the low bits (the table index) depend on every unit.
 */
export function hashKey(key: string): number {
  const n = key.length;
  let h = 0x811c9dc5 ^ n;
  let i = 0;
  // The shift folds the high half (odd units) into the low bits at every step: a multiply
  // only carries upward, so keys differing only at odd positions would otherwise share ~16 bits.
  for (; i + 1 < n; i += 2) {
    h = Math.imul(h ^ (key.charCodeAt(i) | (key.charCodeAt(i + 1) << 16)), 0x01000193);
    h ^= h >>> 15;
  }
  if (i < n) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  return Math.imul(h, 0x85ebca6b) ^ (h >>> 13);
}

/** Both 32-bit halves of an integer id (up to 2^53), mixed. */
function hashId(id: number): number {
  let h = Math.imul((id | 0) ^ Math.floor(id / 4294967296), 0x9e3779b1);
  h ^= h >>> 15;
  return Math.imul(h, 0x85ebca6b) ^ (h >>> 13);
}
