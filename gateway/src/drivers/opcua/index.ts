import { defineDriver, type DriverContext, type TestReadResult } from '../definition.ts';
import { opcuaCredentials, opcuaSecretFiles } from './credentials.ts';
import { opcuaMessages } from './messages.ts';
import type { OpcuaDevice, OpcuaDriverContext } from './opcua-device.ts';
import { opcuaDeviceSchema, type OpcuaDeviceConfig } from './schema.ts';

export type { OpcuaDriverContext } from './opcua-device.ts';
export type { OpcuaDeviceConfig, OpcuaPointConfig } from './schema.ts';

/**
 * The driver itself: node-opcua takes seconds and tens of MB of heap to load on a small box, so it is
 * imported here, when a config has an enabled opcua device, and never by the definition below
 * (schema, form, describe and the credential hooks are what the config, `--check` and the web
 * UI load). Modbus-only gateways never load it (lazy-load.test.ts).
 */
export async function createOpcuaDriver(device: OpcuaDeviceConfig, ctx: OpcuaDriverContext): Promise<OpcuaDevice> {
  const { OpcuaDevice } = await import('./opcua-device.ts');
  return new OpcuaDevice(device, ctx);
}

const contextFor = (device: OpcuaDeviceConfig, ctx: DriverContext): OpcuaDriverContext => ({
  dataDir: ctx.dataDir,
  logger: ctx.logger?.child({ driver: 'opcua', device: device.id }),
  readSecret: ctx.readSecret,
});

/**
 * Reads every node of a (possibly unsaved) device once on a session of its own, closed after:
 * an OPC UA server takes many sessions, so a polled device's is left alone.
 */
export async function testReadOpcua(device: OpcuaDeviceConfig, ctx: DriverContext): Promise<TestReadResult> {
  const { OpcuaDevice } = await import('./opcua-device.ts');
  const d = new OpcuaDevice(device, contextFor(device, ctx));
  try {
    const result = await d.readOnce();
    const byPoint = new Map(result.samples.map((s) => [s.point, s]));
    return {
      orders: [],
      points: device.points.map((p) => {
        const s = byPoint.get(p.id);
        return {
          point: p.id,
          where: p.nodeId,
          raw: null,
          value: s?.value ?? null,
          orders: null,
          quality: s?.quality ?? 'bad_comm',
          ...(s?.error !== undefined ? { error: s.error } : s ? {} : { error: result.error ?? 'no value' }),
        };
      }),
    };
  } finally {
    await d.close();
  }
}

/** OPC UA as the registry lists it (drivers/registry.ts). */
export const opcua = defineDriver({
  kind: 'opcua',
  schema: opcuaDeviceSchema,
  create: (device, ctx) => createOpcuaDriver(device, contextFor(device, ctx)),
  describe: (d) => d.endpointUrl,
  form: async () => (await import('./form.ts')).opcuaForm(),
  testRead: testReadOpcua,
  // Read through DriverContext.readSecret (connect.ts userIdentity); the loader confines them too.
  secretFiles: opcuaSecretFiles,
  credentialBinding: opcuaCredentials,
  // One line when the session is lost (opcua-device.ts markDown) and one when it is back, not one per failed poll.
  logsOwnSession: true,
  messages: opcuaMessages,
  // Loaded by opcua-device.ts only; the family reads its nodesets and certificates beside itself.
  externals: ['node-opcua', 'node-opcua-*'],
});
