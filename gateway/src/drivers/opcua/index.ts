import type { Value } from '@kedge/cloud-sync/model.ts';
import { defineDriver, type DriverContext, type TestReadResult } from '../definition.ts';
import type { DeviceDriver, PollResult, SampleSink } from '../driver.ts';
import { opcuaForm } from './form.ts';
import type { OpcuaDevice, OpcuaDriverContext } from './opcua-device.ts';
import { opcuaDeviceSchema, type OpcuaDeviceConfig } from './schema.ts';

export type { OpcuaDriverContext } from './opcua-device.ts';
export type { OpcuaDeviceConfig, OpcuaPointConfig } from './schema.ts';

/**
 * node-opcua takes seconds to load on a small box: it is imported only when a config has an
 * opcua device, so Modbus-only gateways start as fast as before.
 */
class LazyOpcuaDriver implements DeviceDriver {
  readonly deviceId: string;
  private device: Promise<OpcuaDevice> | null = null;

  constructor(
    private readonly config: OpcuaDeviceConfig,
    private readonly ctx: OpcuaDriverContext,
  ) {
    this.deviceId = config.id;
  }

  private loaded: OpcuaDevice | null = null;

  private load(): Promise<OpcuaDevice> {
    this.device ??= import('./opcua-device.ts').then((m) => (this.loaded = new m.OpcuaDevice(this.config, this.ctx)));
    return this.device;
  }

  subscribe(sink: SampleSink): readonly string[] {
    this.load().then(
      (d) => d.subscribe(sink),
      (err: unknown) => this.ctx.logger?.error({ err }, 'cannot load the OPC UA driver'),
    );
    return this.config.points.filter((p) => p.mode === 'subscribe').map((p) => p.id);
  }

  async poll(pointIds: readonly string[]): Promise<PollResult> {
    return (await this.load()).poll(pointIds);
  }

  async write(pointId: string, value: Value): Promise<void> {
    return (await this.load()).write(pointId, value);
  }

  pointTypes(): ReadonlyMap<string, string> {
    return this.loaded?.pointTypes() ?? new Map(this.config.points.flatMap((p) => (p.type ? [[p.id, p.type] as const] : [])));
  }

  onPointTypes(listener: () => void): void {
    void this.load().then((d) => d.onPointTypes(listener), () => undefined);
  }

  async close(): Promise<void> {
    if (this.device) await (await this.device).close();
  }
}

export function createOpcuaDriver(device: OpcuaDeviceConfig, ctx: OpcuaDriverContext): DeviceDriver {
  return new LazyOpcuaDriver(device, ctx);
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
  form: opcuaForm,
  testRead: testReadOpcua,
  // Read through DriverContext.readSecret (connect.ts userIdentity); the loader confines them too.
  secretFiles: (d) => {
    const auth = d['auth'];
    if (typeof auth !== 'object' || auth === null) return [];
    return (['passwordFile', 'certificateFile', 'privateKeyFile'] as const).map((k) => ({ segments: ['auth', k], file: (auth as Record<string, unknown>)[k] }));
  },
});
