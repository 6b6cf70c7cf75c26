import type { Quality } from '@kedge/cloud-sync/model.ts';
import { decodeAllOrders, decodeBit, decodeRegisters, registerCount } from './decode.ts';
import { classifyModbusError } from './errors.ts';
import { planReads } from './plan.ts';
import type { ModbusTransport } from './transport.ts';
import type { ByteOrder, ModbusPointRef, ModbusValue, PlanOptions } from './types.ts';

/** One point of a test read: what the wire held and every plausible way to read it. */
export interface TestReadPoint {
  point: string;
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
}

/**
 * Reads every point once and keeps the raw words, for the UI's "test read" of a device that is
 * not saved yet. Unlike ModbusDevice.poll it does not stop at the first silent block: the
 * engineer wants to see which addresses answer.
 */
export async function testReadModbus(o: TestReadOptions): Promise<TestReadPoint[]> {
  const out = new Map<string, TestReadPoint>();
  for (const block of planReads(o.points, o.plan)) {
    let data: number[] | boolean[];
    try {
      data = await o.transport.read(o.unitId, block.table, block.address, block.count, o.timeoutMs);
    } catch (err) {
      const c = classifyModbusError(err);
      if (c.resetLink) await o.transport.reset().catch(() => {});
      const error = `${c.message} reading ${block.table} ${block.address}..${block.address + block.count - 1}`;
      for (const { point } of block.points) out.set(point.id, { point: point.id, raw: null, value: null, orders: null, quality: c.quality, error });
      continue;
    }
    for (const { point, offset } of block.points) out.set(point.id, decodePoint(point, data, offset));
  }
  return o.points.map((p) => out.get(p.id)!);
}

function decodePoint(point: ModbusPointRef, data: number[] | boolean[], offset: number): TestReadPoint {
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
