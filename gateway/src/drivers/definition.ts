/**
 * What a southbound driver folder hands the rest of the gateway: one definition, listed once in
 * registry.ts. The config's device union, the UI's driver list and form, the address line of
 * the devices page and the test read are all built from these, so a new driver is its own
 * folder plus one registry line.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Quality, Value } from '@kedge/cloud-sync/model.ts';
import type { UiMessages } from '@kedge/cloud-sync/ui-messages.ts';
import type { Profile, ProfilePoint } from '@kedge/device-profiles/schema.ts';
import type { DeviceDriver } from './driver.ts';
import type { DriverForm } from './form.ts';
import type { ModbusTransport } from './modbus/transport.ts';

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

/**
 * The Modbus link a device is reached over, for the register tool and the traffic view
 * (web/routes/registers.ts, traffic.ts): a driver that speaks Modbus in another way (a TCP
 * gateway, a serial bus, UDP) says here how to reach its link, the routes stay as they are.
 */
export interface ModbusLinkAccess<D> {
  /** The key the link's traffic ring is kept under (drivers/modbus/traffic.ts), the same its polls record to. */
  key(device: D): string;
  /** Runs `use` over the device's link: the one its polls share when it is running, else one opened for this use. */
  use<R>(device: D, use: (transport: ModbusTransport) => Promise<R>): Promise<R>;
}

/** One field of a device that holds a credential, or names the file holding it. */
export interface CredentialField {
  /** Where it is in the device, e.g. ['auth', 'passwordFile']. */
  segments: readonly string[];
  /** Its value in this device; undefined when unset. */
  value: string | undefined;
  /** The field names a file (else it is the secret itself, which the API shows as the "unchanged" marker). */
  file: boolean;
  /**
   * The server at the endpoint receives it (a password): it is only sent where it was stored
   * for. A private key or a certificate proves who the box is without leaving it.
   */
  sent: boolean;
  /** Not public: a certificate is not (false), a password or private key is; another use may not be given its file. */
  secret: boolean;
  /** What it is, in messages: "password", "private key", "certificate". */
  what: string;
}

/** What DriverDefinition.credentialBinding tells about one device. */
export interface CredentialBinding {
  /** The field that says where the credentials are presented, and its value: another value takes them to another server. */
  endpoint: { segments: readonly string[]; value: string };
  /** How well the link protects them, higher is stronger: a lower value than before counts as a move too. */
  protection: number;
  /** Endpoint and protection as a refusal names them: "opc.tcp://10.0.0.9:4840 (securityMode Sign)". */
  where: string;
  fields: readonly CredentialField[];
}

/** A driver's config schema: a strict object with `driver: z.literal(kind)`, refinements allowed. */
export type DriverSchema = z.core.$ZodTypeDiscriminable & z.ZodType<BaseDevice>;

export interface DriverDefinition<S extends DriverSchema = DriverSchema> {
  /** The `driver:` value in the config. */
  kind: z.output<S>['driver'];
  schema: S;
  /**
   * The device's driver. The definition is loaded with the config (schema, form, hooks) and stays
   * light; an implementation with a heavy library (node-opcua) imports it here, dynamically, so a
   * gateway whose config has no device of this driver never loads it. A rejection (the library
   * cannot load) costs this device only: the gateway logs it and runs the others.
   */
  create(device: z.output<S>, ctx: DriverContext): DeviceDriver | Promise<DeviceDriver>;
  /**
   * The driver logs its own link events (OPC UA: one line when the session goes, one when it is
   * back), so the gateway's device health log does not log its polls' failures again.
   */
  logsOwnSession?: boolean;
  /** Where the device is reached, one line for the devices page ("10.0.0.5:502 unit 1", "/dev/ttyUSB0 unit 7"). */
  describe(device: z.output<S>): string;
  /**
   * The same line in the UI's language: a key of its `messages` (`address.<name>`) and the
   * parameters the text names ("10.0.0.5:502 · адрес Modbus 1"). Absent: the UI shows describe().
   */
  describeText?(device: z.output<S>): { key: `address.${string}`; params: Record<string, string | number> };
  /**
   * The device form (drivers/<driver>/form.ts), loaded and built when the form API first asks:
   * its constraints come from z.toJSONSchema of the schema, which no other process that loads
   * the config (the daemon, --check, most tests) should pay for.
   */
  form(): Promise<DriverForm>;
  /** Reads every point of a (possibly unsaved) device once. Absent: the UI says the driver has no test read. */
  testRead?(device: z.output<S>, ctx: DriverContext): Promise<TestReadResult>;
  /** Checks across this driver's devices of one config (shared buses); paths are relative to `devices`. */
  checkDevices?(devices: ReadonlyArray<{ device: z.output<S>; index: number }>, ctx: z.core.$RefinementCtx): void;
  /** Present when `profile:` (a device-profiles register map) applies: the device defaults a profile's protocol gives. */
  profileDefaults?(protocol: Profile['protocol']): Record<string, unknown>;
  /**
   * With profileDefaults: what `profile:` expands to (config/profiles.ts), one profile point as
   * this driver's config point in the numbering of `device` (defaults applied), and a config
   * point of the same id laid over it. Required with profileDefaults (drivers/driver-folders.test.ts).
   */
  profilePoints?: {
    point(point: ProfilePoint, profile: Profile, device: Record<string, unknown>): Record<string, unknown>;
    override(base: Record<string, unknown>, config: Record<string, unknown>): Record<string, unknown>;
  };
  /**
   * With profileDefaults: a new device of this driver from a profile, for the add-device form
   * (every point spelled out, link fields still to fill in); the caller adds id and name.
   */
  deviceFromProfile?(profile: Profile, lang: 'ru' | 'en'): Record<string, unknown>;
  /** The profile transport this driver speaks: a profile's first transport picks its driver. */
  profileTransport?: Profile['protocol']['transports'][number];
  /** The fields already typed in the add-device form that a profile picked there does not replace (where the device is reached). */
  profileKeeps?: readonly string[];
  /** Which files a device config names as secrets or TLS material (config/secret-files.ts: confined and read through secrets.ts), relative to the device. */
  secretFiles?(device: Record<string, unknown>): Array<{ segments: string[]; file: unknown }>;
  /**
   * Where the device's credentials go and which fields hold them: a change through the web API
   * (config/config-store.ts) or a center's `config` command (commands/protected-sections.ts)
   * that moves the device to another endpoint, or to a weaker protection, must not take stored
   * credentials along, nor hand one secret's file to another use. Absent: the device has none.
   */
  credentialBinding?(device: z.output<S>): CredentialBinding;
  /** The device pages the UI offers besides values and edit: the register tool, the wire traffic view. */
  tools?: readonly DeviceTool[];
  /** With the tools: how they reach the device's Modbus link. */
  modbusLink?: ModbusLinkAccess<z.output<S>>;
  /** What looks wrong in a valid device (overlapping registers, Modicon-looking addresses). */
  warnings?(device: z.output<S>, profile: ProfileUse | undefined): DeviceWarning[];
  /**
   * The UI texts of what only this driver emits (DriverMessageKey): `warn.<code>` for its
   * warnings, `logevent.<event>` and `logmsg.<message>` for the log lines it writes itself. The
   * UI's catalog is the base one (web/ui/i18n) merged with every registered driver's
   * (web/i18n.ts); codes the gateway writes for any driver (device_failed) are the base
   * catalog's. web/i18n.test.ts checks each code the driver's folder can emit has both
   * languages here or there, and that nothing here is a text the driver no longer emits.
   */
  messages?: UiMessages;
  /**
   * The packages its implementation loads that the production build leaves in node_modules
   * (scripts/src/build.ts): native addons (serialport's bindings) and libraries that read their
   * own files at run time (node-opcua's nodesets). esbuild patterns: 'node-opcua-*' matches a family.
   */
  externals?: readonly string[];
}

/**
 * What a driver's texts may translate (its warnings' codes, its log lines' event codes and fixed
 * messages, its address line) and how they are written: the same shape as a sink's
 * (SinkDefinition.messages), so both come from cloud-sync/src/ui-messages.ts.
 */
export type { UiMessageKey as DriverMessageKey, UiMessages as DriverMessages } from '@kedge/cloud-sync/ui-messages.ts';
export { defineMessages } from '@kedge/cloud-sync/ui-messages.ts';

/** Identity with the types checked: `create(device)` gets this driver's config, not the union. */
export function defineDriver<S extends DriverSchema>(d: DriverDefinition<S>): DriverDefinition<S> {
  return d;
}
