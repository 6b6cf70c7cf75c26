import type { Quality } from '@kedge/cloud-sync/model.ts';
import { decodeAllOrders, decodeBit, decodeRegisters, registerCount } from './decode.ts';
import { classifyModbusError, type ClassifiedError } from './errors.ts';
import { planReads } from './plan.ts';
import type { ModbusTransport } from './transport.ts';
import type { ByteOrder, ModbusPointRef, ModbusValue, PlanOptions, ReadBlock } from './types.ts';
import { describeAddresses } from './where.ts';

/** One point of a test read: what the wire held and every plausible way to read it. */
export interface TestReadPoint {
  point: string;
  /** The point's registers in the device's numbering, e.g. "holding 101..102 (protocol 100..101)". */
  where: string;
  /** Registers (0..65535) or bits exactly as read, in address order; null when the read failed. */
  raw: number[] | boolean[] | null;
  /** Decoded with the configured byte order (unscaled). */
  value: ModbusValue | null;
  /** The same registers in all four byte orders (register points only): wrong orders are the usual cause of absurd values. */
  orders: Record<ByteOrder, ModbusValue> | null;
  quality: Quality;
  error?: string;
}

export interface TestReadOptions {
  unitId: number;
  timeoutMs: number;
  points: ModbusPointRef[];
  plan: PlanOptions;
  transport: ModbusTransport;
  /** The config's numbering (0 or 1): addresses in messages are given in it. */
  addressBase?: 0 | 1;
}

/**
 * Reads every point once and keeps the raw words, for the UI's "test read" of a device that is
 * not saved yet. Unlike ModbusDevice.poll it does not stop at the first silent block: the
 * engineer wants to see which addresses answer; and a read the unit refuses is repeated point
 * by point, so one absent register blanks one point, not the profile.
 */
export async function testReadModbus(o: TestReadOptions): Promise<TestReadPoint[]> {
  const out = new Map<string, TestReadPoint>();
  const base = o.addressBase ?? 0;
  const where = (b: Pick<ReadBlock, 'table' | 'address' | 'count'>) => describeAddresses(b.table, b.address, b.count, base);
  const read = async (block: ReadBlock): Promise<{ data: number[] | boolean[] } | { failure: ClassifiedError; error: string }> => {
    try {
      return { data: await o.transport.read(o.unitId, block.table, block.address, block.count, o.timeoutMs) };
    } catch (err) {
      const c = classifyModbusError(err);
      if (c.resetLink) await o.transport.reset().catch(() => {});
      return { failure: c, error: `${c.message} reading ${where(block)}` };
    }
  };
  const failed = (point: ModbusPointRef, quality: Quality, error: string): TestReadPoint => ({
    point: point.id,
    where: where({ table: point.table, address: point.address, count: registerCount(point) }),
    raw: null,
    value: null,
    orders: null,
    quality,
    error,
  });
  for (const block of planReads(o.points, o.plan)) {
    const r = await read(block);
    if ('data' in r) {
      for (const { point, offset } of block.points) out.set(point.id, decodePoint(point, r.data, offset, where));
      continue;
    }
    if (r.failure.quality !== 'bad_device_error' || block.points.length === 1) {
      for (const { point } of block.points) out.set(point.id, failed(point, r.failure.quality, r.error));
      continue;
    }
    // The unit refused the read but answers: one absent register must not blank the whole
    // map, so each point is read alone and the engineer sees exactly which ones it refuses.
    for (const { point } of block.points) {
      const alone: ReadBlock = { table: point.table, address: point.address, count: registerCount(point), points: [{ point, offset: 0 }] };
      const a = await read(alone);
      out.set(point.id, 'data' in a ? decodePoint(point, a.data, 0, where) : failed(point, a.failure.quality, a.error));
    }
  }
  return o.points.map((p) => out.get(p.id)!);
}

function decodePoint(point: ModbusPointRef, data: number[] | boolean[], offset: number, where: (b: Pick<ReadBlock, 'table' | 'address' | 'count'>) => string): TestReadPoint {
  return { where: where({ table: point.table, address: point.address, count: registerCount(point) }), ...decodeAt(point, data, offset) };
}

function decodeAt(point: ModbusPointRef, data: number[] | boolean[], offset: number): Omit<TestReadPoint, 'where'> {
  const bits = point.table === 'coil' || point.table === 'discrete';
  const count = registerCount(point);
  const raw = (bits ? (data as boolean[]).slice(offset, offset + count) : (data as number[]).slice(offset, offset + count)) as
    | number[]
    | boolean[];
  try {
    const value = bits ? decodeBit(point, data as boolean[], offset) : decodeRegisters(point, data as number[], offset);
    const orders = !bits && point.type !== 'bit' ? allOrders(point, data as number[], offset) : null;
    return { point: point.id, raw, value, orders, quality: 'good' };
  } catch (err) {
    return { point: point.id, raw, value: null, orders: null, quality: 'bad_decode', error: (err as Error).message };
  }
}

function allOrders(point: ModbusPointRef, words: number[], offset: number): Record<ByteOrder, ModbusValue> | null {
  try {
    return decodeAllOrders(point, words, offset);
  } catch {
    return null;
  }
}
