/**
 * What every Modbus device has in its config, whatever the link (TCP in drivers/modbus-tcp,
 * RTU in drivers/modbus-rtu): unit, timing, coalescing and the points with their checks.
 */
import { z } from 'zod';
import { backoffSchema, idSchema, int, strict, uniqueIdCheck, unitSchema } from '../../config/primitives.ts';
import { registerCount } from './decode.ts';
import { BYTE_ORDERS, MODBUS_DATA_TYPES, MODBUS_TABLES, type ModbusDataType, type ModbusPointRef, type ModbusTable } from './types.ts';

/** Last protocol address of every Modbus table; the function codes carry a 16-bit address. */
const MAX_PROTOCOL_ADDRESS = 0xffff;

const isBitTable = (t: ModbusTable): boolean => t === 'coil' || t === 'discrete';

export function defaultPointType(table: ModbusTable): ModbusDataType {
  return isBitTable(table) ? 'bool' : 'uint16';
}

export const pointSchema = strict({
  id: idSchema(),
  name: z.string().optional(),
  table: z.enum(MODBUS_TABLES),
  // Range depends on the device's addressBase; checked in the device refinement.
  address: z.number().int(),
  type: z.enum(MODBUS_DATA_TYPES).optional(),
  order: z.enum(BYTE_ORDERS).default('ABCD'),
  bit: int(0, 15).optional(),
  length: int(1, 125).optional(),
  scale: z.number().default(1),
  offset: z.number().default(0),
  unit: unitSchema.optional(),
  intervalMs: int(50).optional(),
  deadband: z.number().min(0).default(0),
  heartbeatMs: int(0).default(60_000),
  writable: z.boolean().default(false),
})
  .transform((p) => ({ ...p, type: p.type ?? defaultPointType(p.table) }))
  .superRefine((p, ctx) => {
    const issue = (field: string, message: string) => ctx.addIssue({ code: 'custom', path: [field], message });

    if (isBitTable(p.table) && p.type !== 'bool') {
      issue('type', `${p.table} points are single bits: type must be bool (or omitted), not ${p.type}`);
    }
    if (!isBitTable(p.table) && p.type === 'bool') {
      issue('type', `type bool is only for coil and discrete tables; for one bit of a ${p.table} register use type bit with bit: 0..15`);
    }

    if (p.bit !== undefined && isBitTable(p.table)) {
      issue('bit', `bit selects a bit inside a 16-bit register; ${p.table} points are already single bits`);
    } else if (p.bit !== undefined && p.type !== 'bit') {
      issue('bit', `bit is only used with type bit (type is ${p.type})`);
    }
    if (p.type === 'bit' && p.bit === undefined && !isBitTable(p.table)) {
      issue('bit', 'bit (0..15) is required for type bit');
    }

    if (p.type === 'string' && p.length === undefined) {
      issue('length', 'length (number of registers, 2 characters each) is required for type string');
    }
    if (p.length !== undefined && p.type !== 'string') {
      issue('length', `length is only used with type string (type ${p.type} has a fixed size)`);
    }

    if (p.type === 'bool' || p.type === 'bit' || p.type === 'string') {
      const why = p.type === 'string' ? 'string values are text' : `${p.type} values are true/false`;
      if (p.scale !== 1) issue('scale', `scale has no effect on ${p.type} points: ${why}`);
      if (p.offset !== 0) issue('offset', `offset has no effect on ${p.type} points: ${why}`);
      if (p.deadband !== 0) issue('deadband', `deadband has no effect on ${p.type} points: ${why}, every change is logged`);
    }

    if (p.writable && (p.table === 'discrete' || p.table === 'input')) {
      issue('writable', `${p.table} ${p.table === 'input' ? 'registers' : 'inputs'} are read-only in Modbus; only coil and holding points can be writable`);
    }
  });

export type PointConfig = z.output<typeof pointSchema>;

/**
 * Fields every Modbus device has, whatever the link (TCP, RTU): unit, timing, coalescing and
 * the points. `profile` names a register map in device-profiles/profiles/; the loader merges
 * its points (and line defaults) in before validation, config points overriding by id.
 */
export const modbusDeviceFields = {
  id: idSchema(),
  name: z.string().optional(),
  enabled: z.boolean().default(true),
  profile: z.string().optional(),
  unitId: int(0, 255).default(1),
  timeoutMs: int(50, 60_000).default(1000),
  addressBase: z.literal([0, 1], { error: 'must be 0 (protocol addresses) or 1 (1-based, as in many vendor manuals)' }).default(0),
  intervalMs: int(50).default(1000),
  maxGap: int(0, 124).default(10),
  maxRegisters: int(1, 125).default(125),
  maxBits: int(1, 2000).default(2000),
  backoff: backoffSchema.prefault({}),
  points: z.array(pointSchema).min(1, { error: 'a device needs at least one point (or a profile: with points)' }),
};

/** A Modbus device config of either link: what polling and the register tool read of it. */
export type ModbusDeviceConfig = z.output<z.ZodObject<typeof modbusDeviceFields>>;

/**
 * The defaults a device-profiles register map gives a Modbus device of either link (the config
 * overrides them); the RTU driver adds the serial line's.
 */
export function modbusProfileDefaults(protocol: { addressBase: number; unitId?: number | undefined; maxRegisters?: number | undefined; maxGap?: number | undefined }): Record<string, unknown> {
  return { addressBase: protocol.addressBase, unitId: protocol.unitId, maxRegisters: protocol.maxRegisters, maxGap: protocol.maxGap };
}

/** For an address like 400001: what 6-digit Modicon notation means, and what to write instead. */
function modicon6(address: number): string {
  const tables: Record<number, string> = { 1: 'discrete', 3: 'input', 4: 'holding' };
  const prefix = Math.floor(address / 100_000);
  const n = address - prefix * 100_000;
  const table = tables[prefix];
  if (!table || n < 1 || n > 65_536) return '';
  return `; it looks like 6-digit Modicon notation (${prefix}xxxxx = ${table}): write table: ${table}, address: ${n} with addressBase: 1`;
}

/** Point ids unique, addresses inside the 16-bit range of the device's numbering. */
export const checkModbusDevice = (d: { addressBase: 0 | 1; points: PointConfig[] }, ctx: z.core.$RefinementCtx): void => {
  const checkId = uniqueIdCheck(ctx, 'point', ['points']);
  d.points.forEach((p, i) => {
    checkId(p.id, i);

    const lo = d.addressBase;
    const hi = MAX_PROTOCOL_ADDRESS + d.addressBase;
    const basis = `addressBase ${d.addressBase}`;
    if (p.address < lo || p.address > hi) {
      ctx.addIssue({
        code: 'custom',
        path: ['points', i, 'address'],
        message: `address ${p.address} is outside ${lo}..${hi} (${basis})${modicon6(p.address)}`,
      });
      return;
    }
    let count: number;
    try {
      count = registerCount(p);
    } catch {
      // Type/table mismatches and a missing string length are already reported on the point.
      return;
    }
    const end = p.address + count - 1;
    if (end > hi) {
      const unit = isBitTable(p.table) ? 'bit' : 'register';
      ctx.addIssue({
        code: 'custom',
        path: ['points', i, 'address'],
        message: `${p.type} at ${p.address} spans ${count} ${unit}s and would end at ${end}, past the last ${p.table} address ${hi} (${basis})`,
      });
    }
  });
};

/** 0-based address as sent on the wire, whatever numbering the config file uses. */
export function protocolAddress(device: { addressBase: 0 | 1 }, point: { address: number }): number {
  return point.address - device.addressBase;
}

export function toModbusPointRef(
  device: { addressBase: 0 | 1 },
  point: Pick<PointConfig, 'id' | 'table' | 'address' | 'order' | 'bit' | 'length'> & { type?: ModbusDataType | undefined },
): ModbusPointRef {
  // Protocol addresses and a type given: the config's own point already is the ref (the planner
  // and decoder ignore its other fields); no second object per point (issue 20: heap per point).
  if (device.addressBase === 0 && point.type !== undefined) return point as ModbusPointRef;
  const ref: ModbusPointRef = {
    id: point.id,
    table: point.table,
    address: protocolAddress(device, point),
    type: point.type ?? defaultPointType(point.table),
    order: point.order,
  };
  if (point.bit !== undefined) ref.bit = point.bit;
  if (point.length !== undefined) ref.length = point.length;
  return ref;
}
