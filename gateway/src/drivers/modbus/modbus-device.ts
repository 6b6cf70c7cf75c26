import type { DeviceDriver, PollResult, Sample } from '../driver.ts';
import { decodeBit, decodeRegisters } from './decode.ts';
import { classifyModbusError } from './errors.ts';
import { planReads } from './plan.ts';
import type { ModbusTransport } from './transport.ts';
import type { ModbusPointRef, PlanOptions, ReadBlock } from './types.ts';

export interface ModbusDeviceOptions {
  deviceId: string;
  unitId: number;
  timeoutMs: number;
  points: ModbusPointRef[];
  plan: PlanOptions;
  transport: ModbusTransport;
  /** Called when the driver is closed, so a shared transport can be released. */
  release: () => Promise<void>;
  now?: () => number;
}

/**
 * Polls one Modbus unit over any transport: plans the fewest reads for the points asked,
 * decodes each block, and turns failures into per-point quality.
 */
export class ModbusDevice implements DeviceDriver {
  readonly deviceId: string;
  private readonly byId: Map<string, ModbusPointRef>;
  private readonly plans = new Map<string, ReadBlock[]>();
  private readonly now: () => number;

  constructor(private readonly o: ModbusDeviceOptions) {
    this.deviceId = o.deviceId;
    this.byId = new Map(o.points.map((p) => [p.id, p]));
    this.now = o.now ?? Date.now;
  }

  /** Plans are cached per set of points: the scheduler asks for the same groups every cycle. */
  planFor(pointIds: readonly string[]): ReadBlock[] {
    const key = pointIds.join('\u0000');
    let plan = this.plans.get(key);
    if (!plan) {
      const points = pointIds.map((id) => {
        const p = this.byId.get(id);
        if (!p) throw new Error(`device ${this.deviceId} has no point "${id}"`);
        return p;
      });
      plan = planReads(points, this.o.plan);
      this.plans.set(key, plan);
    }
    return plan;
  }

  async poll(pointIds: readonly string[]): Promise<PollResult> {
    const blocks = this.planFor(pointIds);
    const samples: Sample[] = [];
    let requests = 0;
    let firstError: string | null = null;
    let silent: { quality: Sample['quality']; message: string } | null = null;
    for (const block of blocks) {
      if (silent) {
        // The unit is silent or the link is down: waiting out one timeout per block would
        // stretch the poll for nothing, so the rest of the cycle reports the same failure.
        for (const { point } of block.points) samples.push(this.bad(point, silent.quality, silent.message));
        continue;
      }
      requests++;
      let data: number[] | boolean[];
      try {
        data = await this.o.transport.read(this.o.unitId, block.table, block.address, block.count, this.o.timeoutMs);
      } catch (err) {
        const c = classifyModbusError(err);
        if (c.resetLink) await this.o.transport.reset().catch(() => {});
        // An exception concerns this block only; the unit is alive and the next block may work.
        if (c.quality !== 'bad_device_error') silent = c;
        const where = `${block.table} ${block.address}..${block.address + block.count - 1}`;
        const message = `${c.message} reading ${where}`;
        firstError ??= message;
        for (const { point } of block.points) samples.push(this.bad(point, c.quality, message));
        continue;
      }
      const ts = this.now();
      for (const { point, offset } of block.points) samples.push(this.decode(point, data, offset, ts));
    }
    return { samples, requests, failed: firstError !== null, ...(firstError ? { error: firstError } : {}) };
  }

  private decode(point: ModbusPointRef, data: number[] | boolean[], offset: number, ts: number): Sample {
    try {
      const value =
        point.table === 'coil' || point.table === 'discrete'
          ? decodeBit(point, data as boolean[], offset)
          : decodeRegisters(point, data as number[], offset);
      return { point: point.id, ts, value, quality: 'good' };
    } catch (err) {
      return { point: point.id, ts, value: null, quality: 'bad_decode', error: (err as Error).message };
    }
  }

  private bad(point: ModbusPointRef, quality: Sample['quality'], error: string): Sample {
    return { point: point.id, ts: this.now(), value: null, quality, error };
  }

  async close(): Promise<void> {
    await this.o.release();
  }
}
