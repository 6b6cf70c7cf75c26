import type { Reading } from '../../model.ts';
import type { CurrentValue, DevicePresence, SparkplugDevices, SparkplugWrite } from './devices.ts';
import type { NorthDevice, NorthSouth } from '../sink.ts';

/**
 * The Sparkplug edge node's view of the devices behind it (./devices.ts),
 * read through the gateway's south view (north/sink.ts NorthSouth): which devices answer,
 * their current values and point types. Follows reloads (the view is closures over the gateway).
 */

/** Qualities that mean the device did not answer at all (not a bad value from a device that answered). */
const NO_ANSWER = new Set(['bad_no_response', 'bad_comm']);

type PointConfig = NorthDevice['points'][number];

export class SouthSparkplugDevices implements SparkplugDevices {
  private readonly presences = new Map<string, DevicePresence>();
  private readonly listeners = new Set<(device: string, presence: DevicePresence, ts: number) => void>();
  private unsubscribe: Array<() => void> = [];
  /** Pushed devices that answered but not yet on every point. */
  private readonly settling = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly south: NorthSouth,
    private readonly o: {
      /** A pushed device one of whose points never reports is online this long after its first usable value. */
      birthWaitMs: number;
      now?: () => number;
    },
  ) {}

  presence(device: string): DevicePresence {
    return this.presences.get(device) ?? 'unknown';
  }

  current(point: string): CurrentValue | undefined {
    const v = this.south.live(point);
    return v ? { value: v.value, quality: v.quality, ts: v.ts } : undefined;
  }

  pointType(point: string): string | undefined {
    const [deviceId, pointId] = split(point);
    // The config's type wins; else what the driver learnt from the device (OPC UA DataType).
    return this.south.pointType(deviceId, pointId);
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
        this.south.onPoll((deviceId, failed) => this.set(deviceId, failed ? 'offline' : 'online')),
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
    return this.south
      .devices()
      .find((x) => x.id === deviceId)
      ?.points.find((p) => p.id === pointId);
  }

  /**
   * A device whose points only arrive by push (OPC UA subscriptions) answers when a value is
   * usable. Its monitored items report one by one, so it counts as online once every point has
   * reported (its DBIRTH then carries a value for each), or `sparkplug.birthWaitMs` after its
   * first usable value, whichever comes first.
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
        }, this.o.birthWaitMs);
        timer.unref();
        this.settling.set(deviceId, timer);
      }
    }
  }

  private allReported(deviceId: string): boolean {
    const d = this.south.devices().find((x) => x.id === deviceId);
    return d?.points.every((p) => this.south.live(`${deviceId}/${p.id}`) !== undefined) ?? false;
  }

  private clearSettle(deviceId: string): void {
    const timer = this.settling.get(deviceId);
    if (timer) clearTimeout(timer);
    this.settling.delete(deviceId);
  }

  private set(deviceId: string, presence: DevicePresence): void {
    if (this.presences.get(deviceId) === presence) return;
    this.presences.set(deviceId, presence);
    const ts = this.o.now?.() ?? Date.now();
    for (const l of this.listeners) l(deviceId, presence, ts);
  }
}

function split(point: string): [string, string] {
  const slash = point.indexOf('/');
  return [point.slice(0, slash), point.slice(slash + 1)];
}

/** Whether `<device>/<point>` is one of the `sparkplug.writes` patterns (`*` matches any one part). */
export function sparkplugMayWrite(patterns: readonly string[], deviceId: string, pointId: string): boolean {
  return patterns.some((p) => {
    const [d, q] = split(p);
    return (d === '*' || d === deviceId) && (q === '*' || q === pointId);
  });
}

/**
 * DCMD writes: allowed by the sink's `sparkplug.writes`, then the gateway's write path (which
 * refuses points not marked writable, and reads the point back through the pipeline like any
 * poll), whose read-back value answers the host.
 */
export function sparkplugWriter(south: NorthSouth, allowed: readonly string[]): SparkplugWrite {
  return async (deviceId, pointId, value) => {
    if (!sparkplugMayWrite(allowed, deviceId, pointId)) {
      throw new Error(
        `${deviceId}/${pointId} is not in sparkplug.writes (${allowed.length ? allowed.join(', ') : 'empty'}): Sparkplug hosts may not write it`,
      );
    }
    return south.write(deviceId, pointId, value);
  };
}
