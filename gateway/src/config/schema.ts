/**
 * Gateway configuration schema (one YAML file, see load.ts).
 *
 * Every object is strict: a typo such as `adress` must fail loudly instead of silently
 * falling back to a default and polling the wrong register for months.
 */
import { z } from 'zod';
import {
  BYTE_ORDERS,
  MODBUS_DATA_TYPES,
  MODBUS_TABLES,
  type ModbusDataType,
  type ModbusPointRef,
  type ModbusTable,
} from '../drivers/modbus/types.ts';
import { registerCount } from '../drivers/modbus/decode.ts';

// ---------------------------------------------------------------------------------------
// Helpers

export const ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Last protocol address of every Modbus table; the function codes carry a 16-bit address. */
const MAX_PROTOCOL_ADDRESS = 0xffff;

const idSchema = () =>
  z.string().regex(ID_PATTERN, {
    error:
      `must match ${ID_PATTERN.source} (lowercase latin letters, digits, "_" and "-", ` +
      'at most 64 chars) because it becomes part of MQTT topics',
  });

const int = (min: number, max?: number) => {
  const s = z.number().int().min(min);
  return max === undefined ? s : s.max(max);
};

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** The known key closest to a mistyped one, if it is plausibly a typo. */
export function suggestKey(unknown: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = levenshtein(unknown.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

/**
 * Message for one unknown key. Zod reports all unknown keys of an object in one issue; the
 * message carries one line per key, in `keys` order, so the loader can split it into one
 * located problem per key.
 */
function unknownKeysMessage(keys: readonly string[], known: readonly string[]): string {
  return keys
    .map((k) => {
      const hint = suggestKey(k, known);
      return hint ? `unknown key "${k}" (did you mean "${hint}"?)` : `unknown key "${k}" (allowed: ${known.join(', ')})`;
    })
    .join('\n');
}

function strict<T extends z.core.$ZodLooseShape>(shape: T) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? unknownKeysMessage(iss.keys, known) : undefined),
  });
}

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: KiB,
  mib: MiB,
  gib: GiB,
};

/** Parses "512MiB", "1 GiB", "300MB", "64KiB", "1048576"; undefined when not a size. */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return undefined;
  const factor = m[2] === '' ? 1 : UNITS[m[2]!.toLowerCase()];
  if (factor === undefined) return undefined;
  return Math.floor(Number(m[1]) * factor);
}

const byteSize = z
  .union([z.number(), z.string()], {
    error: 'must be a number of bytes or a size string such as "512MiB"',
  })
  .transform((v, ctx) => {
    if (typeof v === 'number') return v;
    const n = parseByteSize(v);
    if (n === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `"${v}" is not a size: use a number of bytes or a number with unit B, KB, MB, GB (decimal) or KiB, MiB, GiB (binary), e.g. "512MiB"`,
      });
      return z.NEVER;
    }
    return n;
  })
  .pipe(
    z
      .number()
      .int({ error: 'must be a whole number of bytes' })
      .min(MiB, { error: 'must be at least 1 MiB (1048576 bytes): a smaller log would be rotated away before it can bridge an uplink outage' }),
  );

function checkMinMax(
  v: Record<string, unknown>,
  ctx: z.core.$RefinementCtx,
  minKey: string,
  maxKey: string,
): void {
  const min = v[minKey] as number;
  const max = v[maxKey] as number;
  if (min > max) {
    ctx.addIssue({ code: 'custom', path: [maxKey], message: `${maxKey} (${max}) must be >= ${minKey} (${min})` });
  }
}

// ---------------------------------------------------------------------------------------
// gateway / log / uplink

const gatewaySchema = strict({
  id: idSchema(),
  region: idSchema(),
  municipality: idSchema(),
  name: z.string().optional(),
});

const logSchema = strict({
  maxBytes: byteSize.default(256 * MiB),
  flushMs: int(1, 10_000).default(100),
  flushRows: int(1, 100_000).default(1000),
  synchronous: z.enum(['normal', 'full']).default('full'),
  retainAckedMs: int(0).default(3_600_000),
});

const UPLINK_PROTOCOLS = ['mqtt:', 'mqtts:', 'ws:', 'wss:'];

const uplinkUrl = z.string().superRefine((v, ctx) => {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a URL; expected e.g. mqtts://broker.example.ru:8883` });
    return;
  }
  if (!UPLINK_PROTOCOLS.includes(url.protocol)) {
    ctx.addIssue({
      code: 'custom',
      message: `protocol must be one of ${UPLINK_PROTOCOLS.join(', ')} (got ${url.protocol})`,
    });
  }
});

const topicPrefix = z
  .string()
  .min(1, { error: 'must not be empty' })
  .superRefine((v, ctx) => {
    if (/[+#]/.test(v)) {
      ctx.addIssue({ code: 'custom', message: 'must not contain MQTT wildcards "+" or "#": it is used to publish' });
    }
    if (v.startsWith('/') || v.endsWith('/')) {
      ctx.addIssue({ code: 'custom', message: 'must not start or end with "/": the gateway adds the separators' });
    }
  });

const tlsSchema = strict({
  ca: z.string().min(1).optional(),
  cert: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  rejectUnauthorized: z.boolean().default(true),
}).superRefine((v, ctx) => {
  if (v.cert !== undefined && v.key === undefined) {
    ctx.addIssue({ code: 'custom', path: ['key'], message: 'key is required when cert is given (client certificate authentication needs both)' });
  }
  if (v.key !== undefined && v.cert === undefined) {
    ctx.addIssue({ code: 'custom', path: ['cert'], message: 'cert is required when key is given (client certificate authentication needs both)' });
  }
});

const uplinkSchema = strict({
  url: uplinkUrl,
  clientId: z.string().min(1).optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  passwordFile: z.string().min(1).optional(),
  topicPrefix: topicPrefix.default('kedge/v1'),
  codec: z.enum(['json']).default('json'),
  batchMaxReadings: int(1, 10_000).default(500),
  batchMaxDelayMs: int(0, 60_000).default(1000),
  inflight: int(1, 64).default(4),
  keepaliveSec: int(5, 3600).default(30),
  reconnectMinMs: int(0).default(1000),
  reconnectMaxMs: int(0).default(60_000),
  tls: tlsSchema.optional(),
}).superRefine((v, ctx) => {
  if (v.password !== undefined && v.passwordFile !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['passwordFile'], message: 'give either password or passwordFile, not both' });
  }
  checkMinMax(v, ctx, 'reconnectMinMs', 'reconnectMaxMs');
});

// ---------------------------------------------------------------------------------------
// Modbus points and devices

const isBitTable = (t: ModbusTable): boolean => t === 'coil' || t === 'discrete';

export function defaultPointType(table: ModbusTable): ModbusDataType {
  return isBitTable(table) ? 'bool' : 'uint16';
}

const pointSchema = strict({
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
  unit: z.string().optional(),
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

const backoffSchema = strict({
  minMs: int(0).default(1000),
  maxMs: int(0).default(60_000),
}).superRefine((v, ctx) => checkMinMax(v, ctx, 'minMs', 'maxMs'));

const modbusTcpDeviceSchema = strict({
  id: idSchema(),
  name: z.string().optional(),
  driver: z.literal('modbus-tcp'),
  enabled: z.boolean().default(true),
  host: z.string().min(1, { error: 'must not be empty' }),
  port: int(1, 65535).default(502),
  unitId: int(0, 255).default(1),
  timeoutMs: int(50, 60_000).default(1000),
  addressBase: z.literal([0, 1], { error: 'must be 0 (protocol addresses) or 1 (1-based, as in many vendor manuals)' }).default(0),
  intervalMs: int(50).default(1000),
  maxGap: int(0, 124).default(10),
  maxRegisters: int(1, 125).default(125),
  maxBits: int(1, 2000).default(2000),
  backoff: backoffSchema.prefault({}),
  points: z.array(pointSchema).min(1, { error: 'a device needs at least one point' }),
}).superRefine((d, ctx) => {
  const seen = new Map<string, number>();
  d.points.forEach((p, i) => {
    const first = seen.get(p.id);
    if (first !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['points', i, 'id'], message: `duplicate point id "${p.id}" (also points[${first}])` });
    } else {
      seen.set(p.id, i);
    }

    const lo = d.addressBase;
    const hi = MAX_PROTOCOL_ADDRESS + d.addressBase;
    const basis = `addressBase ${d.addressBase}`;
    if (p.address < lo || p.address > hi) {
      ctx.addIssue({
        code: 'custom',
        path: ['points', i, 'address'],
        message: `address ${p.address} is outside ${lo}..${hi} (${basis})`,
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
});

export const DEVICE_DRIVERS = ['modbus-tcp'] as const;

/**
 * Discriminated on `driver`; new southbound drivers (modbus-rtu, opcua) become further
 * members here without touching the existing ones.
 */
const deviceSchema = z.discriminatedUnion('driver', [modbusTcpDeviceSchema], {
  error: (iss) => {
    if (iss.code !== 'invalid_union') return undefined;
    const input = iss.input;
    const got = typeof input === 'object' && input !== null ? (input as Record<string, unknown>)['driver'] : undefined;
    const allowed = DEVICE_DRIVERS.join(', ');
    return got === undefined ? `required field is missing (one of: ${allowed})` : `driver must be one of: ${allowed} (got ${JSON.stringify(got)})`;
  },
});

const devicesSchema = z.array(deviceSchema).superRefine((devices, ctx) => {
  const seen = new Map<string, number>();
  devices.forEach((d, i) => {
    const first = seen.get(d.id);
    if (first !== undefined) {
      ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate device id "${d.id}" (also devices[${first}])` });
    } else {
      seen.set(d.id, i);
    }
  });
});

export const gatewayConfigSchema = strict({
  gateway: gatewaySchema,
  dataDir: z.string().min(1).default('./data'),
  log: logSchema.prefault({}),
  uplink: uplinkSchema,
  devices: devicesSchema.default([]),
});

// ---------------------------------------------------------------------------------------
// Types (after defaults) and helpers for the drivers

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
export type DeviceConfig = z.output<typeof deviceSchema>;
export type ModbusTcpDeviceConfig = z.output<typeof modbusTcpDeviceSchema>;
export type PointConfig = z.output<typeof pointSchema>;
export type UplinkConfig = z.output<typeof uplinkSchema>;
export type LogConfig = z.output<typeof logSchema>;
/** What a config file may contain (before defaults). */
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;

/** 0-based address as sent on the wire, whatever numbering the config file uses. */
export function protocolAddress(device: { addressBase: 0 | 1 }, point: { address: number }): number {
  return point.address - device.addressBase;
}

export function toModbusPointRef(
  device: { addressBase: 0 | 1 },
  point: Pick<PointConfig, 'id' | 'table' | 'address' | 'order' | 'bit' | 'length'> & { type?: ModbusDataType | undefined },
): ModbusPointRef {
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
