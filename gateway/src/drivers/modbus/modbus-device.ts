import type { DeviceDriver, PollResult, Sample } from '../driver.ts';
import type { Value } from '@kedge/cloud-sync/model.ts';
import { WriteError } from '../write-error.ts';
import { decodeBit, decodeRegisters, encodeRegisters, ModbusDecodeError, setBit } from './decode.ts';
import { classifyModbusError } from './errors.ts';
import { planReads } from './plan.ts';
import type { ModbusTransport } from './transport.ts';
import type { ModbusPointRef, ModbusValue, PlanOptions, ReadBlock } from './types.ts';

const INTEGER_TYPES = new Set(['int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64']);

function expectBool(p: ModbusPointRef, value: ModbusValue): boolean {
  if (typeof value !== 'boolean') throw new ModbusDecodeError(p.id, `type ${p.type} needs true or false, got ${JSON.stringify(String(value))}`);
  return value;
}

function roundInteger(p: ModbusPointRef, value: ModbusValue): ModbusValue {
  if (typeof value !== 'number' || !INTEGER_TYPES.has(p.type)) return value;
  if (!Number.isFinite(value)) throw new ModbusDecodeError(p.id, `${p.type} cannot hold ${value}`);
  return Math.round(value);
}

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

  /**
   * Writes one coil or holding point: coil FC 5, one register FC 6, wider values FC 16 in the
   * point's byte order; a `bit` point rewrites its register with only that bit changed. Numbers
   * for integer types are rounded (they arrive unscaled, e.g. 23.1 / 0.1 = 230.99999999999997).
   */
  async write(pointId: string, value: Value): Promise<void> {
    const p = this.byId.get(pointId);
    if (!p) throw new WriteError('not_found', `device ${this.deviceId} has no point "${pointId}"`);
    if (p.table === 'discrete' || p.table === 'input') {
      throw new WriteError('not_writable', `point ${this.deviceId}/${pointId} is in the ${p.table} table, which is read-only in Modbus`);
    }
    const transport = this.o.transport;
    if (!transport.write || !transport.modifyRegister) {
      throw new WriteError('unsupported', `the link of device ${this.deviceId} cannot write`);
    }
    const where = `${p.table} ${p.address}`;
    let registers: number[] | boolean[] | null = null;
    try {
      if (value === null) throw new ModbusDecodeError(p.id, 'cannot write null');
      if (p.type === 'bool') registers = [expectBool(p, value)];
      else if (p.type !== 'bit') registers = encodeRegisters(p, roundInteger(p, value));
      else expectBool(p, value);
    } catch (err) {
      throw new WriteError('invalid_value', `${this.deviceId}/${pointId}: ${(err as Error).message.replace(/^Modbus point "[^"]*": /, '')}`);
    }
    try {
      if (registers) {
        await transport.write(this.o.unitId, p.table, p.address, registers, this.o.timeoutMs);
      } else {
        const on = value === true;
        await transport.modifyRegister(this.o.unitId, p.address, (r) => setBit(r, p.bit!, on), this.o.timeoutMs);
      }
    } catch (err) {
      const c = classifyModbusError(err);
      if (c.resetLink) await transport.reset().catch(() => {});
      const code = c.quality === 'bad_no_response' ? 'timeout' : 'device_error';
      throw new WriteError(code, `writing ${this.deviceId}/${pointId} (${where}) failed: ${c.message}`);
    }
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
