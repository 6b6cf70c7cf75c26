/**
 * Gateway configuration schema (one YAML file, see load.ts).
 *
 * Every object is strict: a typo such as `adress` must fail loudly instead of silently
 * falling back to a default and polling the wrong register for months.
 */
import { createRequire } from 'node:module';
import { brokerUrlAmbiguity } from './broker-url.ts';
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
import { normalizeUnit } from '@kedge/device-profiles/units.ts';
import { closest } from '@kedge/device-profiles/closest.ts';

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

/** The known key closest to a mistyped one, if it is plausibly a typo. */
export function suggestKey(unknown: string, known: readonly string[]): string | undefined {
  return closest(unknown, known);
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
  // While the disk refuses writes (full, I/O error, read-only): readings held in memory; beyond
  // it the oldest are dropped, counted, and reported to the center as evicted.
  maxBufferedReadings: int(1000, 10_000_000).default(100_000),
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
  const ambiguous = brokerUrlAmbiguity(v);
  if (ambiguous) ctx.addIssue({ code: 'custom', message: ambiguous });
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

/** `<device>/<point>`, either part may be `*` (any): which points Sparkplug hosts may write by DCMD. */
const SPARKPLUG_WRITE_PATTERN = /^([a-z0-9][a-z0-9_-]{0,63}|\*)\/([a-z0-9][a-z0-9_-]{0,63}|\*)$/;

const sparkplugSchema = strict({
  // Sparkplug requires DDATA at QoS 0 (tck-id-payloads-ddata-qos); 1 lets a host with a persistent
  // session get what the broker queued while it was away. Either way the log cursor moves only
  // after the broker provably processed the data.
  ddataQos: z.union([z.literal(0), z.literal(1)], { error: 'must be 0 (the Sparkplug rule) or 1' }).default(0),
  // Births wait this long for every device's first poll, so they carry current values.
  birthWaitMs: int(0, 600_000).default(10_000),
  // Sparkplug Host ID of the Primary Host Application: births wait for its STATE online; while it
  // is offline the node stays away and the data waits in the log (sent later as is_historical).
  primaryHostId: z.string().min(1).regex(/^[^+#/]+$/, { error: 'must not contain "/", "+" or "#": it is the last level of spBv1.0/STATE/<id>' }).optional(),
  // DCMD writes a host may make: points must also be `writable: true`. Empty: DCMD writes are refused.
  writes: z
    .array(z.string().regex(SPARKPLUG_WRITE_PATTERN, { error: 'must be <device>/<point>, either part may be * (e.g. pump-1/setpoint, pump-1/*)' }))
    .default([]),
  // A device takes one DCMD write at a time; this many may wait behind it, one more is refused
  // (answered with the unchanged value): a DCMD flood neither hammers the device nor grows memory.
  maxQueuedWrites: int(0, 1000).default(8),
  // Node Control/Rebirth requests are honoured at most once per this interval; requests inside
  // it fold into one rebirth at its end (every birth resends every metric of every device).
  rebirthMinIntervalMs: int(0, 3_600_000).default(5000),
});

const uplinkSchema = strict({
  url: uplinkUrl,
  clientId: z.string().min(1).optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  passwordFile: z.string().min(1).optional(),
  topicPrefix: topicPrefix.default('kedge/v1'),
  // compact: kedge-compact/1 (cloud-sync/src/codec/COMPACT.md); json for debugging; sparkplug: spBv1.0 topics for SCADA hosts.
  codec: z.enum(['compact', 'json', 'sparkplug']).default('compact'),
  // Measured by `npm run bench`: 2000 x 8 in flight drains a backlog ~1.4x faster than 500 x 4 and
  // compacts better; live data is unaffected (a short batch still leaves after batchMaxDelayMs).
  batchMaxReadings: int(1, 10_000).default(2000),
  batchMaxDelayMs: int(0, 60_000).default(1000),
  inflight: int(1, 64).default(8),
  // Pace of the flush after an outage, in readings per second (0 = unlimited): a fleet coming
  // back at once must not flood the regional broker. 10,000/s drains a day of 1,000 points in 15 min.
  maxReadingsPerSec: int(0).default(10_000),
  keepaliveSec: int(5, 3600).default(30),
  // A batch without PUBACK this long means a dead link (a 4G modem losing carrier sends no reset).
  ackTimeoutMs: int(1000, 600_000).default(30_000),
  // center: the log forgets only what the center's ingest confirmed after a durable commit
  // (kedge-ack/1 on .../ack); broker: on the broker's PUBACK, for consumers that do not
  // confirm (a broker crash can then lose what it acknowledged). Sparkplug always uses broker.
  ackMode: z.enum(['center', 'broker']).default('center'),
  // Center mode: a center that answers but stays below data sent this long ago (its broker lost
  // some) gets it again from its own position; the wait doubles each time, up to 16x.
  resendAfterSilenceMs: int(1000, 86_400_000).default(120_000),
  reconnectMinMs: int(0).default(1000),
  reconnectMaxMs: int(0).default(60_000),
  tls: tlsSchema.optional(),
  // Only read with codec: sparkplug (cloud-sync/src/sparkplug/README.md).
  sparkplug: sparkplugSchema.prefault({}),
}).superRefine((v, ctx) => {
  if (v.password !== undefined && v.passwordFile !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['passwordFile'], message: 'give either password or passwordFile, not both' });
  }
  checkMinMax(v, ctx, 'reconnectMinMs', 'reconnectMaxMs');
});

// ---------------------------------------------------------------------------------------
// Modbus points and devices

const isBitTable = (t: ModbusTable): boolean => t === 'coil' || t === 'discrete';

/** A unit as written by people ("°C", "kWh", "m³/h"), stored as its UCUM code ("Cel", "kW.h", "m3/h"). */
export const unitSchema = z.string().transform((v, ctx) => {
  const r = normalizeUnit(v);
  if (!r.ok) {
    ctx.addIssue({ code: 'custom', message: r.message });
    return z.NEVER;
  }
  return r.code;
});

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

const backoffSchema = strict({
  minMs: int(0).default(1000),
  maxMs: int(0).default(60_000),
}).superRefine((v, ctx) => checkMinMax(v, ctx, 'minMs', 'maxMs'));

/**
 * Fields every Modbus device has, whatever the link (TCP, RTU): unit, timing, coalescing and
 * the points. `profile` names a register map in device-profiles/profiles/; the loader merges
 * its points (and line defaults) in before validation, config points overriding by id.
 */
const modbusDeviceFields = {
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

/** A check to call on each item of a list in order: reports an id used before, naming where. */
const uniqueIdCheck = (ctx: z.core.$RefinementCtx, kind: 'point' | 'device', path: PropertyKey[]) => {
  const seen = new Map<string, number>();
  return (id: string, i: number): void => {
    const first = seen.get(id);
    if (first !== undefined) {
      ctx.addIssue({ code: 'custom', path: [...path, i, 'id'], message: `duplicate ${kind} id "${id}" (also ${kind}s[${first}])` });
    } else {
      seen.set(id, i);
    }
  };
};

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
const checkModbusDevice = (
  d: { addressBase: 0 | 1; points: Array<z.output<typeof pointSchema>> },
  ctx: z.core.$RefinementCtx,
): void => {
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

export const modbusTcpDeviceSchema = strict({
  ...modbusDeviceFields,
  driver: z.literal('modbus-tcp'),
  host: z.string().min(1, { error: 'must not be empty' }),
  port: int(1, 65535).default(502),
}).superRefine(checkModbusDevice);

export const SERIAL_PARITIES = ['none', 'even', 'odd'] as const;

/**
 * Modbus RTU over a serial line (RS-485). Devices with the same `port` share one bus and must
 * agree on its settings. Parity defaults to none (8N1): the Modbus serial spec names even as
 * its default, but the meters and sensors kedge meets ship 8N1 (profiles set their own).
 */
export const modbusRtuDeviceSchema = strict({
  ...modbusDeviceFields,
  driver: z.literal('modbus-rtu'),
  port: z.string().min(1, { error: 'must be a serial device path such as /dev/ttyUSB0' }),
  baudRate: z.number().int().refine((v) => [1200, 2400, 4800, 9600, 14400, 19200, 38400, 57600, 115200].includes(v), {
    error: 'must be one of 1200, 2400, 4800, 9600, 14400, 19200, 38400, 57600, 115200',
  }).default(9600),
  parity: z.enum(SERIAL_PARITIES).default('none'),
  dataBits: z.literal([7, 8], { error: 'must be 7 or 8' }).default(8),
  stopBits: z.literal([1, 2], { error: 'must be 1 or 2' }).default(1),
  /** Silence before each request; default 3.5 character times (1.75 ms above 19200 baud). */
  interFrameDelayMs: z.number().min(0).max(1000).optional(),
}).superRefine(checkModbusDevice);

// ---------------------------------------------------------------------------------------
// OPC UA devices (gateway/src/drivers/opcua/)

export const OPCUA_SECURITY_MODES = ['None', 'Sign', 'SignAndEncrypt'] as const;
/** kedge point types an OPC UA variable can have (the birth and Sparkplug use the same names as Modbus points). */
export const OPCUA_POINT_TYPES = ['bool', 'int16', 'uint16', 'int32', 'uint32', 'float32', 'int64', 'uint64', 'float64', 'string'] as const;
export type OpcuaPointType = (typeof OPCUA_POINT_TYPES)[number];
export const OPCUA_SECURITY_POLICIES = ['None', 'Basic256Sha256', 'Aes128_Sha256_RsaOaep'] as const;

// node-opcua-nodeid drags in OPC UA's table of standard node names (~20 MB of RSS): required
// (synchronously, zod refinements are sync) only when a config names an OPC UA node.
let nodeIds: typeof import('node-opcua-nodeid') | undefined;
const resolveNodeId = (v: string) => (nodeIds ??= createRequire(import.meta.url)('node-opcua-nodeid') as typeof import('node-opcua-nodeid')).resolveNodeId(v);

const opcuaNodeId = z.string().superRefine((v, ctx) => {
  let ok = false;
  try {
    ok = !resolveNodeId(v).isEmpty();
  } catch {
    ok = false;
  }
  if (!ok) {
    ctx.addIssue({
      code: 'custom',
      message: `"${v}" is not an OPC UA node id: expected e.g. "ns=2;s=Line1.Flow", "ns=3;i=1001" or "i=2258" (find ids with drivers/opcua/browse.ts)`,
    });
  }
});

const AUTH_HELP = 'auth must be "anonymous", {username, password | passwordFile} or {certificateFile, privateKeyFile}';

// Exported for the OPC UA device form (drivers/opcua/form.ts): the preprocessed auth has no JSON Schema of its own.
export const opcuaAuthObject = strict({
  username: z.string().min(1).optional(),
  password: z.string().optional(),
  passwordFile: z.string().min(1).optional(),
  certificateFile: z.string().min(1).optional(),
  privateKeyFile: z.string().min(1).optional(),
}).superRefine((a, ctx) => {
  const issue = (field: string, message: string) => ctx.addIssue({ code: 'custom', path: [field], message });
  if (a.username !== undefined) {
    if (a.password === undefined && a.passwordFile === undefined) issue('password', 'password or passwordFile is required with username');
    if (a.password !== undefined && a.passwordFile !== undefined) issue('passwordFile', 'give either password or passwordFile, not both');
    if (a.certificateFile !== undefined || a.privateKeyFile !== undefined) {
      issue('certificateFile', 'a session authenticates with a username or a certificate, not both');
    }
  } else {
    if (a.password !== undefined) issue('username', 'username is required with password');
    if (a.passwordFile !== undefined) issue('username', 'username is required with passwordFile');
  }
  if (a.certificateFile !== undefined && a.privateKeyFile === undefined) issue('privateKeyFile', 'privateKeyFile is required with certificateFile');
  if (a.privateKeyFile !== undefined && a.certificateFile === undefined) issue('certificateFile', 'certificateFile is required with privateKeyFile');
});

// "anonymous" is the empty object: the driver authenticates with whatever credentials are given.
const opcuaAuthSchema = z.preprocess(
  (v) => (v === 'anonymous' ? {} : v),
  z.custom<unknown>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), { error: AUTH_HELP }).pipe(opcuaAuthObject),
);

const opcuaDeadbandFilter = strict({
  type: z.enum(['absolute', 'percent']),
  value: z.number().min(0),
});

/**
 * `deadband` is a number (absolute, like Modbus points) or `{type, value}`. Subscribed points
 * send it to the server as a DataChangeFilter (`deadbandFilter`); an absolute value is also kept
 * as the pipeline's `deadband`, which is what filters poll-mode points.
 */
const opcuaPointSchema = strict({
  id: idSchema(),
  name: z.string().optional(),
  nodeId: opcuaNodeId,
  // Without it the type comes from the node's DataType attribute, read before the first value.
  type: z.enum(OPCUA_POINT_TYPES).optional(),
  mode: z.enum(['subscribe', 'poll']).default('subscribe'),
  samplingIntervalMs: int(0, 3_600_000).optional(),
  publishingIntervalMs: int(10, 3_600_000).optional(),
  intervalMs: int(50).optional(),
  deadband: z.union([z.number().min(0), opcuaDeadbandFilter], { error: 'must be a number (absolute) or {type: absolute | percent, value}' }).default(0),
  scale: z.number().default(1),
  offset: z.number().default(0),
  unit: unitSchema.optional(),
  heartbeatMs: int(0).default(60_000),
  writable: z.boolean().default(false),
})
  .superRefine((p, ctx) => {
    const issue = (field: string, message: string) => ctx.addIssue({ code: 'custom', path: [field], message });
    const filter = typeof p.deadband === 'number' ? undefined : p.deadband;
    if (filter?.type === 'percent' && filter.value > 100) issue('deadband', `a percent deadband is 0..100 % of the node's EURange (got ${filter.value})`);
    if (p.mode === 'poll') {
      if (filter?.type === 'percent') issue('deadband', 'a percent deadband is evaluated by the server on monitored items: use mode subscribe, or an absolute deadband');
      if (p.samplingIntervalMs !== undefined) issue('samplingIntervalMs', 'samplingIntervalMs applies to subscribed points; poll-mode points use intervalMs');
      if (p.publishingIntervalMs !== undefined) issue('publishingIntervalMs', 'publishingIntervalMs applies to subscribed points; poll-mode points use intervalMs');
    } else if (p.intervalMs !== undefined) {
      issue('intervalMs', 'intervalMs applies to poll-mode points; subscribed points use samplingIntervalMs and publishingIntervalMs');
    }
  })
  .transform((p) => {
    const filter = typeof p.deadband === 'number' ? (p.deadband > 0 ? { type: 'absolute' as const, value: p.deadband } : null) : p.deadband;
    return { ...p, deadband: filter?.type === 'absolute' ? filter.value : 0, deadbandFilter: filter };
  });

export const opcuaDeviceSchema = strict({
  id: idSchema(),
  name: z.string().optional(),
  driver: z.literal('opcua'),
  enabled: z.boolean().default(true),
  endpointUrl: z.string().regex(/^opc\.tcp:\/\/[^\s/:]+(:\d{1,5})?(\/\S*)?$/, { error: 'must be an opc.tcp:// URL, e.g. opc.tcp://10.0.0.5:4840' }),
  securityMode: z.enum(OPCUA_SECURITY_MODES).default('None'),
  /** Default: None without security, Basic256Sha256 with Sign or SignAndEncrypt. */
  securityPolicy: z.enum(OPCUA_SECURITY_POLICIES).optional(),
  auth: opcuaAuthSchema.default({}),
  timeoutMs: int(100, 120_000).default(5000),
  intervalMs: int(50).default(1000),
  samplingIntervalMs: int(0, 3_600_000).default(1000),
  publishingIntervalMs: int(10, 3_600_000).default(1000),
  backoff: backoffSchema.prefault({}),
  points: z.array(opcuaPointSchema).min(1, { error: 'a device needs at least one point' }),
}).superRefine((d, ctx) => {
  if (d.securityMode === 'None' && d.securityPolicy !== undefined && d.securityPolicy !== 'None') {
    ctx.addIssue({ code: 'custom', path: ['securityPolicy'], message: `securityPolicy ${d.securityPolicy} needs securityMode Sign or SignAndEncrypt (securityMode is None)` });
  }
  if (d.securityMode !== 'None' && d.securityPolicy === 'None') {
    ctx.addIssue({ code: 'custom', path: ['securityPolicy'], message: `securityMode ${d.securityMode} needs a securityPolicy such as Basic256Sha256, not None` });
  }
  const checkId = uniqueIdCheck(ctx, 'point', ['points']);
  d.points.forEach((p, i) => checkId(p.id, i));
});

export const DEVICE_DRIVERS = ['modbus-tcp', 'modbus-rtu', 'opcua'] as const;

/**
 * Discriminated on `driver`; new southbound drivers (modbus-rtu, opcua) become further
 * members here without touching the existing ones.
 */
const deviceSchema = z.discriminatedUnion('driver', [modbusTcpDeviceSchema, modbusRtuDeviceSchema, opcuaDeviceSchema], {
  error: (iss) => {
    if (iss.code !== 'invalid_union') return undefined;
    const input = iss.input;
    const got = typeof input === 'object' && input !== null ? (input as Record<string, unknown>)['driver'] : undefined;
    const allowed = DEVICE_DRIVERS.join(', ');
    return got === undefined ? `required field is missing (one of: ${allowed})` : `driver must be one of: ${allowed} (got ${JSON.stringify(got)})`;
  },
});

const devicesSchema = z.array(deviceSchema).superRefine((devices, ctx) => {
  const checkId = uniqueIdCheck(ctx, 'device', []);
  devices.forEach((d, i) => checkId(d.id, i));
  // One RS-485 bus has one set of line settings: two devices disagreeing would reopen the port
  // under each other's feet.
  const buses = new Map<string, { index: number; line: string }>();
  devices.forEach((d, i) => {
    if (d.driver !== 'modbus-rtu') return;
    const line = `${d.baudRate} baud, parity ${d.parity}, ${d.dataBits} data bits, ${d.stopBits} stop bits`;
    const first = buses.get(d.port);
    if (!first) buses.set(d.port, { index: i, line });
    else if (first.line !== line) {
      ctx.addIssue({
        code: 'custom',
        path: [i, 'port'],
        message: `devices on one serial port share its line settings: ${d.port} is ${first.line} in devices[${first.index}] but ${line} here`,
      });
    }
  });
});

// ---------------------------------------------------------------------------------------
// Local web UI (gateway/src/web/)

const webSchema = strict({
  enabled: z.boolean().default(true),
  // All interfaces: the engineer on the station LAN is who the UI is for. Safe because HTTPS is
  // the default off loopback (below); loopback-only boxes set host: 127.0.0.1.
  host: z.string().min(1, { error: 'must not be empty' }).default('0.0.0.0'),
  // 0 picks a free port (tests, demos).
  port: int(0, 65535).default(8080),
  // Unset: HTTPS with a self-signed certificate unless host is a loopback address (web/start-web.ts).
  // false on a LAN address sends passwords and the session cookie in clear (warned at start).
  https: z.boolean().optional(),
  sessionTtlMs: int(60_000).default(8 * 3_600_000),
  // GET /api/live without a session or API token from any host, not only loopback (read-only data).
  liveReadOnlyPublic: z.boolean().default(false),
  // Names the box is reached by besides its IP addresses (DNS, mDNS: pump3.local): the Host
  // values plain HTTP on a LAN address accepts and the HTTP -> HTTPS redirect keeps
  // (web/host-allowlist.ts). Loopback HTTP accepts only 127.0.0.1, localhost and [::1].
  hostnames: z.array(z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\.?$/, { error: 'must be a host name (letters, digits, dots, hyphens)' })).max(32).default([]),
});

// ---------------------------------------------------------------------------------------
// ota (gateway/src/ota/README.md)

const otaTrustedKeySchema = strict({
  id: z.string().min(1),
  /** SPKI PEM, or base64 of the 32 raw Ed25519 public key bytes. */
  publicKey: z.string().min(1),
});

const otaSchema = strict({
  trustedKeys: z.array(otaTrustedKeySchema).min(1, { error: 'at least one trusted public key is needed to accept updates' }),
  /** Default <dataDir>/slots. */
  slotsDir: z.string().min(1).optional(),
  healthDeadlineMs: int(1000, 3_600_000).default(120_000),
  maxCrashes: int(1, 100).default(3),
  /** Offers of a larger bundle are refused before the download. */
  maxBundleBytes: byteSize.default(512 * MiB),
  /** Disk space an update must leave free (default log.maxBytes: the reading log can always grow to its cap). */
  diskReserveBytes: byteSize.optional(),
  /**
   * The slowest download an update waits for: a bundle must arrive within size / this rate
   * (at least 10 min), or the offer is given up and the install slot is free again.
   */
  minDownloadBytesPerSec: int(256, 1024 * 1024 * 1024).default(2048),
  /**
   * The URLs an unsigned offer names (manifestUrl, url) may point at this box itself or at
   * link-local addresses (169.254/16, fe80::/10: cloud metadata services). Off: refused.
   */
  allowLocalOfferUrls: z.boolean().default(false),
});

// ---------------------------------------------------------------------------------------
// commands (gateway/src/commands/README.md): signed commands over the MQTT downlink

const commandsSchema = strict({
  /** Center keys whose Ed25519 signature a command must carry (same key format as ota). */
  trustedKeys: z.array(otaTrustedKeySchema).min(1, { error: 'at least one trusted public key is needed to accept commands' }),
  /**
   * A command older than this (by its ts) is refused: a replayed or long-queued command must not
   * act. The acceptance window is ts - maxClockSkewMs .. ts + maxAgeMs; kept short (at most 1 h).
   */
  maxAgeMs: int(1000, 3_600_000).default(120_000),
  /** How far a command's ts may lie in the future (clock difference between center and box). */
  maxClockSkewMs: int(0, 300_000).default(30_000),
});

export const gatewayConfigSchema = strict({
  gateway: gatewaySchema,
  dataDir: z.string().min(1).default('./data'),
  // Secret and TLS files (passwordFile, tls.*, OPC UA auth files) may lie only under
  // <dataDir>/secrets, <dataDir>/tls and this folder (gateway/src/secrets.ts); the web API cannot change it.
  secretsDir: z.string().min(1).optional(),
  log: logSchema.prefault({}),
  uplink: uplinkSchema,
  devices: devicesSchema.default([]),
  web: webSchema.prefault({}),
  ota: otaSchema.optional(),
  commands: commandsSchema.optional(),
});

// ---------------------------------------------------------------------------------------
// Types (after defaults) and helpers for the drivers

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
export type DeviceConfig = z.output<typeof deviceSchema>;
export type ModbusTcpDeviceConfig = z.output<typeof modbusTcpDeviceSchema>;
export type ModbusRtuDeviceConfig = z.output<typeof modbusRtuDeviceSchema>;
export type OpcuaDeviceConfig = z.output<typeof opcuaDeviceSchema>;
export type OpcuaPointConfig = z.output<typeof opcuaPointSchema>;
export type PointConfig = z.output<typeof pointSchema>;
export type UplinkConfig = z.output<typeof uplinkSchema>;
export type LogConfig = z.output<typeof logSchema>;
export type WebConfig = z.output<typeof webSchema>;
export type OtaConfig = z.output<typeof otaSchema>;
export type CommandsConfig = z.output<typeof commandsSchema>;
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
