import type { Value } from '../../model.ts';
import type { CurrentValue } from '../sink.ts';

/**
 * What the Sparkplug edge node needs to know of the devices behind it, and the one thing it
 * may ask of them. north/sparkplug/south-devices.ts implements it over the gateway's south view
 * (north/sink.ts NorthSouth); cloud-sync never imports the gateway, so the seam is this narrow interface.
 */

/** `unknown` until the device's first poll (or first pushed sample) finished. */
export type DevicePresence = 'unknown' | 'online' | 'offline';

export type { CurrentValue };

export interface SparkplugDevices {
  /** Whether the device answered its last poll. */
  presence(device: string): DevicePresence;
  /**
   * The device's newest value of a point (scaled), logged or not: what a DBIRTH carries as
   * "the current value" (tck-id-operational-behavior-data-publish-dbirth-values).
   */
  current(point: string): CurrentValue | undefined;
  /**
   * The point's type as the south side knows it: the config `type` (Modbus), or the OPC UA
   * server's DataType attribute name. undefined while not known.
   */
  pointType(point: string): string | undefined;
  /** Whether the point is scaled (value * scale + offset): a scaled number is a Double. */
  scaled(point: string): boolean;
  /** Every change of presence, in the order they happen; returns the unsubscribe function. */
  onPresence(listener: (device: string, presence: DevicePresence, ts: number) => void): () => void;
}

/**
 * A write asked for by a Sparkplug host (DCMD), in engineering units. Resolves with the value
 * read back from the device after the write; rejects with an Error whose message says why the
 * write was refused or failed (not writable, not allowed for Sparkplug hosts, device error).
 */
export type SparkplugWrite = (device: string, point: string, value: Exclude<Value, null>) => Promise<CurrentValue>;
