import { registerCount } from './decode.ts';
import {
  DEFAULT_PLAN_OPTIONS,
  MODBUS_TABLES,
  type ModbusPointRef,
  type ModbusTable,
  type PlanOptions,
  type ReadBlock,
} from './types.ts';

/** Modbus addresses are 16-bit, so nothing may reach past register/bit 65535. */
const ADDRESS_SPACE = 0x10000;

interface Sized {
  point: ModbusPointRef;
  count: number;
}

function resolveOptions(opts: Partial<PlanOptions> | undefined): PlanOptions {
  const o: PlanOptions = { ...DEFAULT_PLAN_OPTIONS, ...opts };
  for (const key of ['maxRegisters', 'maxBits'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 1) throw new Error(`plan option ${key} must be an integer >= 1, got ${o[key]}`);
  }
  // Infinity is allowed: it is how minimum-request comparisons ask for "join whatever fits".
  if (Number.isNaN(o.maxGap) || o.maxGap < 0 || (Number.isFinite(o.maxGap) && !Number.isInteger(o.maxGap))) {
    throw new Error(`plan option maxGap must be an integer >= 0 or Infinity, got ${o.maxGap}`);
  }
  return o;
}

function limitFor(table: ModbusTable, o: PlanOptions): number {
  return table === 'coil' || table === 'discrete' ? o.maxBits : o.maxRegisters;
}

/** Per table (in MODBUS_TABLES order), the points sized and sorted by address then id. */
function sortedByTable(points: readonly ModbusPointRef[], o: PlanOptions): Array<[ModbusTable, Sized[]]> {
  const groups = new Map<ModbusTable, Sized[]>(MODBUS_TABLES.map((t) => [t, []]));
  for (const point of points) {
    const count = registerCount(point);
    const unit = point.table === 'coil' || point.table === 'discrete' ? 'bits' : 'registers';
    if (!Number.isInteger(point.address) || point.address < 0 || point.address + count > ADDRESS_SPACE) {
      throw new Error(
        `Modbus point "${point.id}": address ${point.address} with ${count} ${unit} does not fit the 0..65535 address space`,
      );
    }
    const limit = limitFor(point.table, o);
    if (count > limit) {
      throw new Error(`Modbus point "${point.id}" needs ${count} ${unit}, more than the ${limit} allowed in one read`);
    }
    groups.get(point.table)!.push({ point, count });
  }
  const out: Array<[ModbusTable, Sized[]]> = [];
  for (const [table, sized] of groups) {
    if (sized.length === 0) continue;
    // Tie-break on id so the plan does not depend on config file order.
    sized.sort((a, b) => a.point.address - b.point.address || (a.point.id < b.point.id ? -1 : a.point.id > b.point.id ? 1 : 0));
    out.push([table, sized]);
  }
  return out;
}

/**
 * Coalesces points into as few reads as the limits allow, walking each table in address order:
 * a point joins the current read when at most `maxGap` unused registers/bits separate them and
 * the read stays within the per-request limit. Overlapping points share registers.
 */
export function planReads(points: readonly ModbusPointRef[], opts?: Partial<PlanOptions>): ReadBlock[] {
  const o = resolveOptions(opts);
  const blocks: ReadBlock[] = [];
  for (const [table, sized] of sortedByTable(points, o)) {
    const limit = limitFor(table, o);
    let block: ReadBlock | undefined;
    let end = 0;
    for (const { point, count } of sized) {
      const pointEnd = point.address + count;
      const joinedEnd = Math.max(end, pointEnd);
      if (block !== undefined && point.address - end <= o.maxGap && joinedEnd - block.address <= limit) {
        end = joinedEnd;
        block.count = end - block.address;
        block.points.push({ point, offset: point.address - block.address });
        continue;
      }
      block = { table, address: point.address, count, points: [{ point, offset: 0 }] };
      end = pointEnd;
      blocks.push(block);
    }
  }
  return blocks;
}

/** Number of reads planReads would issue. */
export function requestCount(points: readonly ModbusPointRef[], opts?: Partial<PlanOptions>): number {
  return planReads(points, opts).length;
}

/**
 * Fewest reads possible if any gap could be read through: the baseline benchmarks compare
 * planReads against. With no gap limit the greedy walk is already optimal: each read starts at
 * the lowest address not yet covered, and the point that closes it ends beyond what any read
 * starting at or before that address could hold, so no grouping needs fewer reads.
 */
export function minimumRequests(points: readonly ModbusPointRef[], opts?: Partial<PlanOptions>): number {
  return requestCount(points, { ...opts, maxGap: Infinity });
}
