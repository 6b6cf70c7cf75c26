import type { Quality, Value } from '@kedge/cloud-sync/model.ts';

/**
 * The one interface a southbound driver implements. A driver owns its device's connection and
 * protocol; it never throws for device trouble but reports it as sample quality, so the
 * scheduler and pipeline stay protocol-agnostic.
 */

/** One point's raw (unscaled) value as read from the device. */
export interface Sample {
  /** Point id within its device. */
  point: string;
  ts: number;
  value: Value;
  quality: Quality;
  /** Why the quality is not good, for the UI and logs. */
  error?: string;
}

export interface PollResult {
  samples: Sample[];
  /** Protocol requests sent for this poll (coalescing makes it smaller than the points). */
  requests: number;
  /**
   * True when the device itself failed (timeout, connection, or every read refused): the
   * scheduler backs off. A read refused while others answer (a Modbus exception for one block)
   * is a fact about that block only: its points are bad, the device is not failed.
   */
  failed: boolean;
  /** First failure message, when failed. */
  error?: string;
  /** Reads the device refused while it answered others, one message each (addresses as configured). */
  blockErrors?: string[];
  /** What this poll learnt about the register map (a refused block read point by point), for the engineer to fix it. */
  findings?: string[];
}

/** Where a push driver delivers samples; the gateway feeds them to the same pipeline as polls. */
export type SampleSink = (samples: Sample[]) => void;

export interface DeviceDriver {
  readonly deviceId: string;
  /** Reads the given points once. */
  poll(pointIds: readonly string[]): Promise<PollResult>;
  /**
   * Push drivers (OPC UA monitored items) implement this: from now on, samples of the points
   * they watch go to `sink`. Returns the ids of those points, which the scheduler must not poll.
   */
  subscribe?(sink: SampleSink): readonly string[];
  /**
   * Writes one point. `value` is raw, like the values poll() returns (the gateway has already
   * reversed scale and offset). Throws a WriteError (write-error.ts); the new value reaches
   * the log through the next poll or data change, never as a made-up reading.
   */
  write?(pointId: string, value: Value): Promise<void>;
  /**
   * Point types learnt from the device before its first value (OPC UA: each node's DataType
   * attribute), by point id, in the config's type names; what the birth message carries.
   */
  pointTypes?(): ReadonlyMap<string, string>;
  /** Called when pointTypes() changed, so the gateway can send a birth that carries them. */
  onPointTypes?(listener: () => void): void;
  /** Releases connections; the driver is not used again. */
  close(): Promise<void>;
}
