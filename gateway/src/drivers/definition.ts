/**
 * What a southbound driver folder hands the rest of the gateway: one definition, listed once in
 * registry.ts. The config's device union, the UI's driver list and form, the address line of
 * the devices page and the test read are all built from these, so a new driver is its own
 * folder plus one registry line.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Quality, Value } from '@kedge/cloud-sync/model.ts';
import type { Profile } from '@kedge/device-profiles/schema.ts';
import type { DeviceDriver } from './driver.ts';
import type { DriverForm } from './form.ts';

/**
 * Reads a file a device config names (a password, a user certificate or key): only from the
 * folders secrets may live in, with every link resolved (secrets.ts), warning when a secret
 * (`secret: true`) can be read by other users. Throws an error naming the file otherwise.
 */
export type ReadSecret = (path: string, o?: { secret?: boolean }) => Buffer;

/** What drivers may need from the gateway besides their device's config. */
export interface DriverContext {
  /** The gateway's data folder: OPC UA keeps its PKI (certificates) in `<dataDir>/pki/opcua`. */
  dataDir: string;
  logger?: Logger | undefined;
  /** The one way a driver reads a secret or TLS file its device config names (driver-context.ts builds it). */
  readSecret: ReadSecret;
}

/** One point of a test read: what the device answered, before scale and offset. */
export interface TestReadRow {
  point: string;
  /** Where the value lives in the device's terms ("holding 101 (protocol 100)", a node id). */
  where: string;
  /** What the wire held (registers, bits), when the protocol has such a thing; null otherwise or when the read failed. */
  raw: unknown[] | null;
  /** Decoded as configured, unscaled. */
  value: Value | null;
  /** The same raw data read every other plausible way (Modbus: the four byte orders); null when there is none. */
  orders: Record<string, Value> | null;
  quality: Quality;
  error?: string;
  /** Modbus: the table, address (device numbering) and configured byte order, for the result table. */
  table?: string;
  address?: number;
  order?: string;
}

export interface TestReadResult {
  /** The columns of `orders` (empty: the driver has no alternative readings). */
  orders: readonly string[];
  points: TestReadRow[];
}

/** A device valid but probably wrong (config/warnings.ts): shown and logged, never refused. */
export interface DeviceWarning {
  /** Path segments relative to the device, e.g. ['points', 2, 'address']. */
  segments: Array<string | number>;
  message: string;
  /** A stable name of the kind of warning, and its variable parts: the web UI translates by them. */
  code: string;
  params: Record<string, string | number>;
}

/** Which profile a device was expanded from, and how many of its points the config file itself wrote (first in the list). */
export interface ProfileUse {
  profile: string;
  configPoints: number;
}

/**
 * A device config as every driver's has it (after defaults): the union's discriminator and what
 * the scheduler, pipeline, health and write paths read of any device. A driver schema lacking one
 * fails to compile at its own defineDriver, not somewhere in gateway.ts.
 */
export interface BaseDevice {
  id: string;
  driver: string;
  name?: string | undefined;
  enabled: boolean;
  intervalMs: number;
  timeoutMs: number;
  backoff: { minMs: number; maxMs: number };
  points: Array<{
    id: string;
    name?: string | undefined;
    unit?: string | undefined;
    scale: number;
    offset: number;
    deadband: number;
    heartbeatMs: number;
    intervalMs?: number | undefined;
    writable: boolean;
  }>;
}

/** A device page of the web UI that only some drivers have (web/ui/pages/registers.js, traffic.js). */
export type DeviceTool = 'registers' | 'traffic';

/** A driver's config schema: a strict object with `driver: z.literal(kind)`, refinements allowed. */
export type DriverSchema = z.core.$ZodTypeDiscriminable & z.ZodType<BaseDevice>;

export interface DriverDefinition<S extends DriverSchema = DriverSchema> {
  /** The `driver:` value in the config. */
  kind: z.output<S>['driver'];
  schema: S;
  create(device: z.output<S>, ctx: DriverContext): DeviceDriver;
  /** Where the device is reached, one line for the devices page ("10.0.0.5:502 unit 1", "/dev/ttyUSB0 unit 7"). */
  describe(device: z.output<S>): string;
  form: DriverForm;
  /** Reads every point of a (possibly unsaved) device once. Absent: the UI says the driver has no test read. */
  testRead?(device: z.output<S>, ctx: DriverContext): Promise<TestReadResult>;
  /** Checks across this driver's devices of one config (shared buses); paths are relative to `devices`. */
  checkDevices?(devices: ReadonlyArray<{ device: z.output<S>; index: number }>, ctx: z.core.$RefinementCtx): void;
  /** Present when `profile:` (a device-profiles register map) applies: the device defaults a profile's protocol gives. */
  profileDefaults?(protocol: Profile['protocol']): Record<string, unknown>;
  /**
   * With profileDefaults: a new device of this driver from a profile, for the add-device form
   * (every point spelled out, link fields still to fill in); the caller adds id and name.
   */
  deviceFromProfile?(profile: Profile, lang: 'ru' | 'en'): Record<string, unknown>;
  /** The profile transport this driver speaks: a profile's first transport picks its driver. */
  profileTransport?: Profile['protocol']['transports'][number];
  /** The fields already typed in the add-device form that a profile picked there does not replace (where the device is reached). */
  profileKeeps?: readonly string[];
  /** Which files a device config names as secrets or TLS material (secrets.ts confines and reads them), relative to the device. */
  secretFiles?(device: Record<string, unknown>): Array<{ segments: string[]; file: unknown }>;
  /** The device pages the UI offers besides values and edit: the register tool, the wire traffic view. */
  tools?: readonly DeviceTool[];
  /** What looks wrong in a valid device (overlapping registers, Modicon-looking addresses). */
  warnings?(device: z.output<S>, profile: ProfileUse | undefined): DeviceWarning[];
}

/** Identity with the types checked: `create(device)` gets this driver's config, not the union. */
export function defineDriver<S extends DriverSchema>(d: DriverDefinition<S>): DriverDefinition<S> {
  return d;
}
