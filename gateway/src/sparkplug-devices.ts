import type { Reading, Value } from '@kedge/cloud-sync/model.ts';
import type { CurrentValue, DevicePresence, SparkplugDevices, SparkplugWrite } from '@kedge/cloud-sync/sparkplug/devices.ts';
import type { GatewayConfig } from './config/schema.ts';
import type { DeviceDriver, PollResult, Sample } from './drivers/driver.ts';
import type { WriteResult, WriteValue } from './commands/write-point.ts';
import type { LiveValue } from './pipeline/pipeline.ts';

/**
 * The gateway's side of the Sparkplug seam (cloud-sync/src/sparkplug/devices.ts): which devices
 * answer, their current values and point types, and DCMD writes through the gateway's own write
 * path. Built from closures over the gateway so it follows config reloads.
 */
export interface SparkplugSouth {
  config(): GatewayConfig;
  /** The pipeline's newest value of `<device>/<point>`. */
  live(key: string): LiveValue | undefined;
  driver(deviceId: string): DeviceDriver | undefined;
  /** Whether the scheduler polls the device (else only pushed samples tell whether it answers). */
  polled(deviceId: string): boolean;
  onPoll(listener: (deviceId: string, result: PollResult) => void): () => void;
  onReadings(listener: (readings: readonly Reading[]) => void): () => void;
  /** The gateway's write path (gateway/src/commands/write-point.ts): writable points only. */
  writePoint(deviceId: string, pointId: string, value: WriteValue): Promise<WriteResult>;
  /** Feeds samples read outside the scheduler through the pipeline (and so into the log). */
  ingest(deviceId: string, samples: Sample[]): void;
  now?(): number;
}

/** Qualities that mean the device did not answer at all (not a bad value from a device that answered). */
const NO_ANSWER = new Set(['bad_no_response', 'bad_comm']);

type PointConfig = { id: string; type?: string; scale?: number; offset?: number };

export class GatewaySparkplugDevices implements SparkplugDevices {
  private readonly presences = new Map<string, DevicePresence>();
  private readonly listeners = new Set<(device: string, presence: DevicePresence, ts: number) => void>();
  private unsubscribe: Array<() => void> = [];
  /** Pushed devices that answered but not yet on every point. */
  private readonly settling = new Map<string, NodeJS.Timeout>();

  constructor(private readonly south: SparkplugSouth) {}

  presence(device: string): DevicePresence {
    return this.presences.get(device) ?? 'unknown';
  }

  current(point: string): CurrentValue | undefined {
    const v = this.south.live(point);
    return v ? { value: v.value, quality: v.quality, ts: v.ts } : undefined;
  }

  pointType(point: string): string | undefined {
    const [deviceId, pointId] = split(point);
    const configured = this.pointConfig(deviceId, pointId)?.type;
    // The config's type wins; else what the driver learnt from the device (OPC UA DataType).
    return configured ?? this.south.driver(deviceId)?.pointTypes?.().get(pointId);
  }

  scaled(point: string): boolean {
    const [deviceId, pointId] = split(point);
    const p = this.pointConfig(deviceId, pointId);
    return (p?.scale ?? 1) !== 1 || (p?.offset ?? 0) !== 0;
  }

  onPresence(listener: (device: string, presence: DevicePresence, ts: number) => void): () => void {
    this.listeners.add(listener);
    if (this.unsubscribe.length === 0) {
      this.unsubscribe = [
        this.south.onPoll((deviceId, result) => this.set(deviceId, result.failed ? 'offline' : 'online')),
        this.south.onReadings((readings) => this.fromPushed(readings)),
      ];
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        for (const u of this.unsubscribe) u();
        this.unsubscribe = [];
        for (const id of [...this.settling.keys()]) this.clearSettle(id);
      }
    };
  }

  private pointConfig(deviceId: string, pointId: string): PointConfig | undefined {
    const d = this.south.config().devices.find((x) => x.id === deviceId);
    return (d?.points as ReadonlyArray<PointConfig> | undefined)?.find((p) => p.id === pointId);
  }

  /**
   * A device whose points only arrive by push (OPC UA subscriptions) answers when a value is
   * usable. Its monitored items report one by one, so it counts as online once every point has
   * reported (its DBIRTH then carries a value for each), or `uplink.sparkplug.birthWaitMs` after
   * its first usable value, whichever comes first.
   */
  private fromPushed(readings: readonly Reading[]): void {
    // Runs on every batch the pipeline logs: one look per device, not per reading.
    const byDevice = new Map<string, boolean>();
    const polled = new Map<string, boolean>();
    for (const r of readings) {
      const [deviceId] = split(r.point);
      let p = polled.get(deviceId);
      if (p === undefined) polled.set(deviceId, (p = this.south.polled(deviceId)));
      if (p) continue;
      byDevice.set(deviceId, (byDevice.get(deviceId) ?? false) || !NO_ANSWER.has(r.quality));
    }
    for (const [deviceId, answered] of byDevice) {
      if (!answered) {
        this.clearSettle(deviceId);
        this.set(deviceId, 'offline');
      } else if (this.presence(deviceId) === 'online') {
        continue;
      } else if (this.allReported(deviceId)) {
        this.clearSettle(deviceId);
        this.set(deviceId, 'online');
      } else if (!this.settling.has(deviceId) && this.presence(deviceId) !== 'online') {
        const timer = setTimeout(() => {
          this.settling.delete(deviceId);
          this.set(deviceId, 'online');
        }, this.south.config().uplink.sparkplug.birthWaitMs);
        timer.unref();
        this.settling.set(deviceId, timer);
      }
    }
  }

  private allReported(deviceId: string): boolean {
    const d = this.south.config().devices.find((x) => x.id === deviceId);
    return (d?.points as ReadonlyArray<PointConfig> | undefined)?.every((p) => this.south.live(`${deviceId}/${p.id}`) !== undefined) ?? false;
  }

  private clearSettle(deviceId: string): void {
    const timer = this.settling.get(deviceId);
    if (timer) clearTimeout(timer);
    this.settling.delete(deviceId);
  }

  private set(deviceId: string, presence: DevicePresence): void {
    if (this.presences.get(deviceId) === presence) return;
    this.presences.set(deviceId, presence);
    const ts = this.south.now?.() ?? Date.now();
    for (const l of this.listeners) l(deviceId, presence, ts);
  }
}

function split(point: string): [string, string] {
  const slash = point.indexOf('/');
  return [point.slice(0, slash), point.slice(slash + 1)];
}

/** Whether `<device>/<point>` is one of the `uplink.sparkplug.writes` patterns (`*` matches any one part). */
export function sparkplugMayWrite(patterns: readonly string[], deviceId: string, pointId: string): boolean {
  return patterns.some((p) => {
    const [d, q] = split(p);
    return (d === '*' || d === deviceId) && (q === '*' || q === pointId);
  });
}

/**
 * DCMD writes: allowed by `uplink.sparkplug.writes`, then the gateway's write path (which refuses
 * points not marked writable), then a read of the point, fed through the pipeline like any
 * poll, whose value answers the host.
 */
export function sparkplugWriter(south: SparkplugSouth): SparkplugWrite {
  return async (deviceId, pointId, value) => {
    const allowed = south.config().uplink.sparkplug.writes;
    if (!sparkplugMayWrite(allowed, deviceId, pointId)) {
      throw new Error(
        `${deviceId}/${pointId} is not in uplink.sparkplug.writes (${allowed.length ? allowed.join(', ') : 'empty'}): Sparkplug hosts may not write it`,
      );
    }
    await south.writePoint(deviceId, pointId, value as Exclude<Value, null>);
    const driver = south.driver(deviceId);
    if (!driver) throw new Error(`device "${deviceId}" is not running: the written value could not be read back`);
    const result = await driver.poll([pointId]);
    south.ingest(deviceId, result.samples);
    const v = south.live(`${deviceId}/${pointId}`);
    if (!v) throw new Error(`${deviceId}/${pointId} gave no value when read back after the write`);
    return { value: v.value, quality: v.quality, ts: v.ts };
  };
}
