/**
 * The OPC UA device's config: endpoint, security, session identity and the nodes it reads
 * (subscribed or polled). The driver itself is in this folder (opcua-device.ts).
 */
import { createRequire } from 'node:module';
import { z } from 'zod';
import { backoffSchema, idSchema, int, strict, uniqueIdCheck, unitSchema } from '../../config/primitives.ts';

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

export type OpcuaDeviceConfig = z.output<typeof opcuaDeviceSchema>;
export type OpcuaPointConfig = z.output<typeof opcuaPointSchema>;
