/**
 * Schema of a device profile: the register map of one device model, written from the
 * vendor's public document, so a gateway config can say `profile: sdm630` instead of
 * repeating forty registers (and their word orders) per meter.
 *
 * Standalone on purpose: profiles are data that the gateway consumes, so this package
 * depends on nothing of the gateway. The gateway re-checks every resolved point with its own
 * point schema anyway.
 */
import { z } from 'zod';
import { normalizeUnit } from './units.ts';

export const PROFILE_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const TABLES = ['coil', 'discrete', 'holding', 'input'] as const;
export const TYPES = ['bool', 'bit', 'int16', 'uint16', 'int32', 'uint32', 'float32', 'int64', 'uint64', 'float64', 'string'] as const;
export const ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;
export const POLL_CLASSES = ['fast', 'normal', 'slow'] as const;
export type PollClass = (typeof POLL_CLASSES)[number];

/**
 * Poll interval per class. `fast` follows the device's own `intervalMs` (1 s by default);
 * the others are fixed so that a slow register (serial number, totals) does not load a
 * 9600-baud line that also carries fast ones.
 */
export const POLL_CLASS_MS: Record<Exclude<PollClass, 'fast'>, number> = { normal: 10_000, slow: 60_000 };

const WIDTH: Record<(typeof TYPES)[number], number> = {
  bool: 1, bit: 1, int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, int64: 4, uint64: 4, float64: 4, string: 0,
};

const text = z.string().trim().min(1, { error: 'must not be empty' });
const bilingual = z.strictObject({ ru: text, en: text }, { error: 'needs both ru and en text' });
const id = z.string().regex(PROFILE_NAME_PATTERN, {
  error: `must match ${PROFILE_NAME_PATTERN.source} (lowercase latin letters, digits, "_" and "-"): it becomes part of MQTT topics`,
});

export const ucum = z.string().transform((v, ctx) => {
  const r = normalizeUnit(v);
  if (!r.ok) {
    ctx.addIssue({ code: 'custom', message: r.message });
    return z.NEVER;
  }
  return r.code;
});

/** Hints for the simulator; plausible ranges in engineering units (after scale and offset). */
const simSchema = z.strictObject({
  kind: z.enum(['wave', 'total', 'constant', 'toggle']).optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  /** For constants and strings. */
  value: z.union([z.number(), z.string(), z.boolean()]).optional(),
  /** Growth per hour for totals. */
  ratePerHour: z.number().min(0).optional(),
});

export const profilePointSchema = z
  .strictObject({
    id,
    name: bilingual,
    table: z.enum(TABLES),
    /** In the numbering of the profile's `protocol.addressBase`. */
    address: z.number().int().min(0),
    type: z.enum(TYPES),
    order: z.enum(ORDERS).optional(),
    bit: z.number().int().min(0).max(15).optional(),
    length: z.number().int().min(1).max(125).optional(),
    scale: z.number().optional(),
    offset: z.number().optional(),
    unit: ucum.optional(),
    pollClass: z.enum(POLL_CLASSES).default('fast'),
    writable: z.boolean().default(false),
    description: bilingual.optional(),
    sim: simSchema.optional(),
  })
  .superRefine((p, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    const bitTable = p.table === 'coil' || p.table === 'discrete';
    if (bitTable !== (p.type === 'bool')) {
      issue('type', bitTable ? `${p.table} points are single bits: type must be bool` : `type bool is only for coil and discrete; use bit with bit: 0..15`);
    }
    if ((p.type === 'bit') !== (p.bit !== undefined)) issue('bit', p.type === 'bit' ? 'bit (0..15) is required for type bit' : `bit is only used with type bit`);
    if ((p.type === 'string') !== (p.length !== undefined)) issue('length', p.type === 'string' ? 'length (registers) is required for type string' : 'length is only used with type string');
    if (p.writable && (p.table === 'input' || p.table === 'discrete')) issue('writable', `${p.table} is read-only in Modbus`);
    if (['bool', 'bit', 'string'].includes(p.type) && (p.scale !== undefined || p.offset !== undefined || p.unit !== undefined)) {
      issue(p.unit !== undefined ? 'unit' : p.scale !== undefined ? 'scale' : 'offset', `${p.type} points carry no unit, scale or offset`);
    }
  });

export const protocolSchema = z.strictObject({
  /** Which links the device offers. */
  transports: z.array(z.enum(['rtu', 'tcp'])).min(1).default(['rtu']),
  /** 1 when the document numbers registers from 1 (30001 -> 1, 40001 -> 1). */
  addressBase: z.literal([0, 1]).default(0),
  /** Default word order of multi-register points. */
  order: z.enum(ORDERS).default('ABCD'),
  unitId: z.number().int().min(0).max(255).optional(),
  baudRate: z.number().int().positive().optional(),
  parity: z.enum(['none', 'even', 'odd']).optional(),
  dataBits: z.literal([7, 8]).optional(),
  stopBits: z.literal([1, 2]).optional(),
  /** Largest read the device accepts, when below the spec's 125 registers. */
  maxRegisters: z.number().int().min(1).max(125).optional(),
  /** Some devices refuse reads that span unmapped registers: 0 keeps reads to listed points. */
  maxGap: z.number().int().min(0).max(124).optional(),
});

export const profileSchema = z
  .strictObject({
    name: id,
    vendor: text,
    model: text,
    description: bilingual,
    source: z.strictObject({
      title: text,
      url: z.url().optional(),
      version: text,
      /** Honest remarks: which registers were not in the document, what is assumed. */
      notes: text.optional(),
    }),
    protocol: protocolSchema.prefault({}),
    points: z.array(profilePointSchema).min(1, { error: 'a profile needs at least one point' }),
  })
  .superRefine((prof, ctx) => {
    const seen = new Map<string, number>();
    const used = new Map<string, string>();
    prof.points.forEach((p, i) => {
      const first = seen.get(p.id);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['points', i, 'id'], message: `duplicate point id "${p.id}" (also points[${first}])` });
      seen.set(p.id, i);
      if (p.address < prof.protocol.addressBase) {
        ctx.addIssue({ code: 'custom', path: ['points', i, 'address'], message: `address ${p.address} is below addressBase ${prof.protocol.addressBase}` });
      }
      // Overlaps are allowed only for bits of one register: anything else is a typo in the map.
      const width = p.type === 'string' ? (p.length ?? 1) : WIDTH[p.type];
      for (let a = p.address; a < p.address + width; a++) {
        const key = `${p.table}/${a}`;
        const other = used.get(key);
        if (other !== undefined && !(p.type === 'bit' && prof.points.find((q) => q.id === other)?.type === 'bit')) {
          ctx.addIssue({ code: 'custom', path: ['points', i, 'address'], message: `${p.table} ${a} is already used by point "${other}"` });
          break;
        }
        used.set(key, p.id);
      }
    });
  });

export type Profile = z.output<typeof profileSchema>;
export type ProfilePoint = z.output<typeof profilePointSchema>;
