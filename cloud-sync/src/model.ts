/**
 * The reading model shared by the gateway's log, the uplink codecs and the center ingest.
 * It lives in cloud-sync because it is what crosses the wire; the gateway produces it.
 */

/**
 * Quality of a reading. Modelled on OPC UA's Good/Uncertain/Bad with the reasons field
 * engineers need to tell a dead cable from a misconfigured register.
 */
export const QUALITIES = [
  'good',
  'uncertain', // value present but doubtful (stale, out of sensor range)
  'bad_no_response', // request timed out
  'bad_device_error', // device answered with an error (Modbus exception, OPC UA bad status)
  'bad_comm', // connection refused/closed, framing or CRC error
  'bad_decode', // answer received but not decodable into the configured type
  'bad_config', // the point cannot be read as configured
  // The device's value, stamped while the box's wall clock was known to be wrong (clock.ts):
  // the timestamp cannot be trusted. Last, so older payloads and logs keep their indexes.
  'uncertain_clock',
] as const;

export type Quality = (typeof QUALITIES)[number];

export function isQuality(x: unknown): x is Quality {
  return typeof x === 'string' && (QUALITIES as readonly string[]).includes(x);
}

export function isGood(q: Quality): boolean {
  return q === 'good';
}

/** A value as logged: bigint only for 64-bit integers beyond 2^53; null when quality is bad. */
export type Value = number | bigint | boolean | string | null;

/** A reading as produced by the pipeline, before the log gives it a sequence number. */
export interface Reading {
  /** `<device>/<point>`: stable key of the point within its gateway. */
  point: string;
  /** Unix epoch milliseconds of the sample (source timestamp when the device gives one). */
  ts: number;
  value: Value;
  quality: Quality;
}

/** A reading in the log: the sequence number is per gateway, strictly increasing, never reused. */
export interface LogRecord extends Reading {
  seq: number;
}

/** A contiguous range of sequence numbers, both ends included. */
export interface SeqRange {
  first: number;
  last: number;
}
