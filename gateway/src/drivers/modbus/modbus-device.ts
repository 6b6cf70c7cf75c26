import type { DeviceDriver, PollResult, Sample } from '../driver.ts';
import type { Value } from '@kedge/cloud-sync/model.ts';
import { WriteError } from '../write-error.ts';
import { decodeBit, decodeRegisters, encodeRegisters, ModbusDecodeError, registerCount, setBit } from './decode.ts';
import { classifyModbusError, ILLEGAL_DATA_ADDRESS, type ClassifiedError } from './errors.ts';
import { PointIndex, ReadPlan, type ReadSpan } from './device-reads.ts';
import { planReads } from './plan.ts';
import type { ModbusTransport } from './transport.ts';
import type { ModbusPointRef, ModbusValue, PlanOptions, ReadBlock } from './types.ts';
import { describeAddresses } from './where.ts';

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
  /** How the config numbers registers (0 or 1): messages give addresses in that numbering. */
  addressBase?: 0 | 1;
  now?: () => number;
}

type Failure = ClassifiedError & { text: string };

const blockKey = (b: ReadSpan) => `${b.table}:${b.address}:${b.count}`;

/**
 * Polls one Modbus unit over any transport: plans the fewest reads for the points asked,
 * decodes each block, and turns failures into per-point quality.
 *
 * A Modbus exception is a fact about one read, not about the unit: only that read's points go
 * bad and the poll is not `failed` (the scheduler keeps the device's interval) unless every
 * read was refused (registers the unit was seen to lack while answering others do not count:
 * a poll of only those, an interval group of their own, is no device failure). A coalesced read refused with exception 02 (illegal data address) is read
 * point by point once, to find which points ask for registers the unit does not have; from
 * then on those are read alone and the others around them, and the finding is reported.
 */
export class ModbusDevice implements DeviceDriver {
  readonly deviceId: string;
  private readonly points: readonly ModbusPointRef[];
  private readonly index: PointIndex;
  private readonly plans = new Map<string, ReadPlan>();
  private readonly now: () => number;
  private readonly base: 0 | 1;
  /** Points of split reads: planned without reading through gaps, the refused ones alone. */
  private readonly isolated = new Set<string>();
  /** Points the unit refuses with exception 02 even when read alone. */
  private readonly refused = new Set<string>();
  /**
   * Points that answer alone but not together with their neighbours, even without gaps (a unit
   * whose registers come in groups a read must not cross): read one by one from then on, so
   * splitting ends after a few polls and never leaves points that answer alone bad.
   */
  private readonly alone = new Set<string>();
  /**
   * Points refused with exception 02 in a poll where the unit answered other reads: registers it
   * lacks. A poll of only such points (an interval group of its own) is no device failure.
   */
  private readonly absent = new Set<string>();
  /** Reads already split point by point: each is split once. */
  private readonly splitDone = new Set<string>();

  constructor(private readonly o: ModbusDeviceOptions) {
    this.deviceId = o.deviceId;
    this.points = o.points;
    this.index = new PointIndex(o.points);
    this.now = o.now ?? Date.now;
    this.base = o.addressBase ?? 0;
  }

  /** Plans are cached per set of points: the scheduler asks for the same groups every cycle. */
  planFor(pointIds: readonly string[]): ReadPlan {
    const key = pointIds.join('\u0000');
    let plan = this.plans.get(key);
    if (!plan) {
      const points = pointIds.map((id) => {
        const i = this.index.of(id);
        if (i < 0) throw new Error(`device ${this.deviceId} has no point "${id}"`);
        return this.points[i]!;
      });
      const blocks = planReads(points, this.o.plan).flatMap((b) => (b.points.some(({ point }) => this.isolated.has(point.id)) ? this.planAround(b) : [b]));
      plan = new ReadPlan(blocks, (p) => this.index.of(p.id));
      this.plans.set(key, plan);
    }
    return plan;
  }

  /** A read that was split: refused points (and those served only alone) alone, the rest in reads that span only their own registers. */
  private planAround(block: ReadBlock): ReadBlock[] {
    const points = block.points.map(({ point }) => point);
    const readAlone = (p: ModbusPointRef) => this.refused.has(p.id) || this.alone.has(p.id);
    const rest = points.filter((p) => !readAlone(p));
    const alone = (point: ModbusPointRef): ReadBlock => ({ table: point.table, address: point.address, count: registerCount(point), points: [{ point, offset: 0 }] });
    return [...planReads(rest, { ...this.o.plan, maxGap: 0 }), ...points.filter(readAlone).map(alone)];
  }

  /** "holding 101..102 (protocol 100..101)": what the engineer finds in the config and the manual. */
  where(block: ReadSpan): string {
    return describeAddresses(block.table, block.address, block.count, this.base);
  }

  private async read(table: ReadSpan['table'], address: number, count: number): Promise<{ data: number[] | boolean[] } | { failure: Failure }> {
    try {
      return { data: await this.o.transport.read(this.o.unitId, table, address, count, this.o.timeoutMs) };
    } catch (err) {
      const c = classifyModbusError(err);
      if (c.resetLink) await this.o.transport.reset().catch(() => {});
      return { failure: { ...c, text: `${c.message} reading ${this.where({ table, address, count })}` } };
    }
  }

  async poll(pointIds: readonly string[]): Promise<PollResult> {
    const samples: Sample[] = [];
    const blockErrors: string[] = [];
    const findings: string[] = [];
    let requests = 0;
    let answered = 0;
    let silent: Failure | null = null;
    // Refused reads that say something about the device rather than about known absent registers.
    let unexplained = 0;
    const absentNow: string[] = [];
    const refusal = (points: readonly ModbusPointRef[], exception: number | undefined) => {
      if (exception === ILLEGAL_DATA_ADDRESS) absentNow.push(...points.map((p) => p.id));
      if (exception !== ILLEGAL_DATA_ADDRESS || points.some((p) => !this.absent.has(p.id))) unexplained++;
    };
    const plan = this.planFor(pointIds);
    for (let r = 0; r < plan.length; r++) {
      const start = plan.start(r);
      const end = plan.end(r);
      if (silent) {
        // The unit is silent or the link is down: waiting out one timeout per read would
        // stretch the poll for nothing, so the rest of the cycle reports the same failure.
        for (let k = start; k < end; k++) samples.push(this.bad(this.points[plan.point(k)]!, silent.quality, silent.text));
        continue;
      }
      requests++;
      const res = await this.read(plan.table(r), plan.address(r), plan.count(r));
      if ('data' in res) {
        answered++;
        const ts = this.now();
        for (let k = start; k < end; k++) samples.push(this.decode(this.points[plan.point(k)]!, res.data, plan.offset(k), ts));
        continue;
      }
      const f = res.failure;
      if (f.quality !== 'bad_device_error') {
        silent = f;
        r--; // this read's points get the failure through the silent branch
        continue;
      }
      const block = plan.span(r);
      if (f.exception === ILLEGAL_DATA_ADDRESS && end - start > 1 && !this.splitDone.has(blockKey(block))) {
        // Read point by point, now: the points the unit does have get their values this cycle.
        this.splitDone.add(blockKey(block));
        const parts = plan.pointsOf(r);
        const outcome = await this.readAlone(parts, samples);
        requests += outcome.requests;
        answered += outcome.answered;
        blockErrors.push(...outcome.refused.map((x) => x.text));
        for (const x of outcome.refused) refusal([x.point], x.exception);
        if (outcome.silent) {
          // The unit fell silent midway: nothing learnt, the next exception splits again.
          this.splitDone.delete(blockKey(block));
          silent = outcome.silent;
          // The points not yet read alone get the silence, in their order, before the reads after this one.
          for (const i of parts.slice(outcome.done)) samples.push(this.bad(this.points[i]!, silent.quality, silent.text));
          continue;
        }
        findings.push(this.learn(block, parts, f, outcome.refused.map((x) => x.point)));
        continue;
      }
      blockErrors.push(f.text);
      const points = plan.pointsOf(r).map((i) => this.points[i]!);
      refusal(points, f.exception);
      for (const point of points) samples.push(this.bad(point, f.quality, f.text));
    }
    if (answered > 0) for (const id of absentNow) this.absent.add(id);
    // Every read refused is a device-level failure too (wrong unit id, a map for another model),
    // unless all it refused are registers it was seen to lack while answering others.
    const failed = silent !== null || (answered === 0 && unexplained > 0);
    const error = silent?.text ?? (failed ? blockErrors[0] : undefined);
    return {
      samples,
      requests,
      failed,
      ...(error !== undefined ? { error } : {}),
      ...(blockErrors.length ? { blockErrors } : {}),
      ...(findings.length ? { findings } : {}),
    };
  }

  /** Reads each point (index in `points`) alone, pushing samples; stops at the first silence. */
  private async readAlone(parts: readonly number[], samples: Sample[]) {
    const refused: Array<{ point: ModbusPointRef; text: string; exception: number | undefined }> = [];
    let requests = 0;
    let answered = 0;
    for (let done = 0; done < parts.length; done++) {
      const point = this.points[parts[done]!]!;
      requests++;
      const r = await this.read(point.table, point.address, registerCount(point));
      if ('data' in r) {
        answered++;
        samples.push(this.decode(point, r.data, 0, this.now()));
        continue;
      }
      if (r.failure.quality !== 'bad_device_error') return { requests, answered, refused, silent: r.failure, done };
      refused.push({ point, text: r.failure.text, exception: r.failure.exception });
      samples.push(this.bad(point, r.failure.quality, r.failure.text));
    }
    return { requests, answered, refused, silent: null, done: parts.length };
  }

  /** Remembers what a split found, re-plans around it, and says it in words for the log and the UI. */
  private learn(block: ReadSpan, served: readonly number[], f: Failure, refused: ModbusPointRef[]): string {
    const points = served.map((i) => this.points[i]!);
    // Already planned around a split (no gaps left), and still refused: no read may hold them together.
    const again = points.every((point) => this.isolated.has(point.id));
    for (const point of points) this.isolated.add(point.id);
    for (const p of refused) this.refused.add(p.id);
    if (again && refused.length === 0) for (const point of points) this.alone.add(point.id);
    this.plans.clear();
    const n = points.length;
    const head = `${this.where(block)} answered ${f.message}; read point by point`;
    if (refused.length === 0 && again) {
      return `${head}, all ${n} points answer alone but not in one read: the unit does not serve these registers together, so each is read alone`;
    }
    if (refused.length === 0) {
      return `${head}, all ${n} points answer: the unit refuses registers in the gaps between them, so they are no longer read through`;
    }
    const list = refused.map((p) => `"${p.id}" at ${this.where({ table: p.table, address: p.address, count: registerCount(p) })}`).join(', ');
    return (
      `${head}, ${refused.length} of ${n} points are refused: ${list}; the other ${n - refused.length} are read around them. ` +
      'Check the address, type and length of the refused points against the device manual'
    );
  }

  /**
   * Writes one coil or holding point: coil FC 5, one register FC 6, wider values FC 16 in the
   * point's byte order; a `bit` point rewrites its register with only that bit changed. Numbers
   * for integer types are rounded (they arrive unscaled, e.g. 23.1 / 0.1 = 230.99999999999997).
   */
  async write(pointId: string, value: Value): Promise<void> {
    const p = this.points[this.index.of(pointId)];
    if (!p) throw new WriteError('not_found', `device ${this.deviceId} has no point "${pointId}"`);
    if (p.table === 'discrete' || p.table === 'input') {
      throw new WriteError('not_writable', `point ${this.deviceId}/${pointId} is in the ${p.table} table, which is read-only in Modbus`);
    }
    const transport = this.o.transport;
    if (!transport.write || !transport.modifyRegister) {
      throw new WriteError('unsupported', `the link of device ${this.deviceId} cannot write`);
    }
    const where = this.where({ table: p.table, address: p.address, count: registerCount(p) });
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
