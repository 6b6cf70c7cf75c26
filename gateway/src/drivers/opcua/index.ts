import type { Value } from '@kedge/cloud-sync/model.ts';
import type { OpcuaDeviceConfig } from '../../config/schema.ts';
import type { DeviceDriver, PollResult, SampleSink } from '../driver.ts';
import type { OpcuaDevice, OpcuaDriverContext } from './opcua-device.ts';

export type { OpcuaDriverContext } from './opcua-device.ts';

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
