/**
 * What a northbound sink is to the gateway, and the one thing the gateway hands it: a sink is
 * a folder (north/<sink>/) whose index.ts exports a `SinkDefinition` — its kind, its config
 * schema (eager: the config is validated before anything runs) and `create`, which loads the
 * implementation only when an `uplinks:` entry of that kind is built (a box with one MQTT
 * uplink never loads Sparkplug's protobuf or the HTTP sink). The gateway looks the definition
 * up by kind, calls create with a `NorthContext` and starts what it gets; it knows no kind.
 *
 * Types only here: importing this file loads nothing.
 */
import type { z } from 'zod';
import type { Clock, ClockStatus } from '../clock.ts';
import type { Quality, Reading, SeqRange, Value } from '../model.ts';
import type { LogSource } from './log-source.ts';
import type { WindowStatus } from './window.ts';
import type { SecretFileField } from './secret-fields.ts';
import type { CredentialBinding } from './credentials.ts';
import type { BrokerConnection, BrokerSinkBase } from './broker-link/link.ts';
import type { SinkForm } from '../form-kit.ts';
import type { UiMessages } from '../ui-messages.ts';

/**
 * What every sink's status has, as status pages, /healthz and metrics read it. A sink reports
 * its own status type extending this one (TransportSinkStatus, a broker link's BrokerLinkStatus
 * in broker-link/link.ts); the gateway reads only these fields, and serialises the rest as is.
 */
export interface SinkStatusBase {
  state: 'connecting' | 'online' | 'offline' | 'stopped';
  /** Where it sends (credentials redacted). */
  url: string;
  ackedSeq: number;
  sentSeq: number;
  lastSeq: number;
  inflight: number;
  batchesAcked: number;
  readingsAcked: number;
  reconnects: number;
  lastError: string | null;
  connectedSince: number | null;
  nextAttemptAt: number | null;
  /** The two lanes of live-first (north/window.ts): positions, and what the snapshots cost. */
  window: WindowStatus;
}

/** A sink's logger (pino's shape): NorthContext.logger, its name already bound. */
export interface UplinkLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** A point's newest value as the south side holds it (NorthSouth.live, a write's read-back). */
export interface CurrentValue {
  value: Value;
  quality: Quality;
  ts: number;
}

/** What a gateway answers to the center's resend request (a signed `resend` command; NorthSink.resend). */
export interface ResendAnswer {
  /** The log epoch the sequences belong to. */
  epoch: string;
  /** Sent again from the log (holes in it reported as evicted ranges). */
  resent: SeqRange | null;
  /** Evicted earlier: sent again as evicted ranges. */
  evicted: SeqRange[];
  /** Pruned after the center had confirmed them: no longer held. */
  notHeld: SeqRange[];
  /** Beyond the newest sequence of the log: never assigned. */
  beyondLog: SeqRange | null;
}

export type { BrokerConnection, BrokerSinkBase };

/** A built sink. The optional methods are what some sinks can do beyond moving the log. */
export interface NorthSink {
  start(): void;
  /** Up to `drainMs` to deliver what is logged, then a clean goodbye; the rest stays in the log. */
  stop(drainMs?: number): Promise<void>;
  status(): SinkStatusBase;
  /** Sends the sink's birth again (the box clock's judgement changed, the center asked); false while offline. */
  rebirth?(): boolean;
  /** A driver learnt point types of `deviceId` (OPC UA DataType) after the sink described its points. */
  pointTypesLearnt?(deviceId: string): void;
  /** The center's request for a range of the log it is missing (the `resend` command). */
  resend?(first: number, last: number): ResendAnswer;
}

/** The log as sinks see it: a LogSource, plus what births tell about it. */
export interface NorthLog extends LogSource {
  /** Readings the sink `name` never got because the log evicted them first. */
  sinkEvicted(name: string): number;
  /** How this log came to be (its epoch, a reset and why): births carry it. */
  readonly identity: unknown;
}

/** One configured device as sinks describe it (births, Sparkplug metrics): the config's view. */
export interface NorthDevice {
  id: string;
  enabled: boolean;
  points: ReadonlyArray<{
    id: string;
    name?: string | undefined;
    unit?: string | undefined;
    writable?: boolean | undefined;
    /** The config's type; what a driver learnt is NorthSouth.pointType. */
    type?: string | undefined;
    scale?: number | undefined;
    offset?: number | undefined;
  }>;
}

/**
 * The south side as a sink may see it, through closures over the gateway (so it follows
 * reloads): the devices, their newest values and whether they answer, and the gateway's own
 * write path. Sinks never hold drivers, the scheduler or the pipeline.
 */
export interface NorthSouth {
  /** The configured devices, in config order. */
  devices(): readonly NorthDevice[];
  /** The config's `type` of a point, else what its driver learnt (OPC UA DataType); undefined while unknown. */
  pointType(deviceId: string, pointId: string): string | undefined;
  /** The pipeline's newest value of `<device>/<point>` (scaled), logged or not. */
  live(point: string): CurrentValue | undefined;
  /** Whether the scheduler polls the device (else only pushed samples tell whether it answers). */
  polled(deviceId: string): boolean;
  /** Every poll's outcome; returns the unsubscribe function. */
  onPoll(listener: (deviceId: string, failed: boolean) => void): () => void;
  /** Every reading logged (after the append); returns the unsubscribe function. */
  onReadings(listener: (readings: readonly Reading[]) => void): () => void;
  /**
   * Writes a `writable: true` point in engineering units through the gateway's write path, reads
   * it back through the pipeline (so the read-back is logged like any poll) and resolves with it.
   * Rejects with an Error saying why (not writable, device error, no value read back).
   */
  write(deviceId: string, pointId: string, value: Exclude<Value, null>): Promise<CurrentValue>;
}

/** What births say about the box itself, beyond the log and the points. */
export interface BoxInfo {
  version: string;
  /** The OTA agent's state, when it runs. */
  ota?: unknown;
  /** The box's judgement of its wall clock (cloud-sync/src/clock.ts). */
  clock: Pick<ClockStatus, 'state' | 'reason' | 'jumps'>;
}

/** Everything a sink may take from the gateway; built per sink (its logger names it). */
export interface NorthContext {
  log: NorthLog;
  /** The gateway's identity (topics, births, wire batches). */
  gateway: { id: string; name?: string | undefined; region: string; municipality: string };
  /** This sink's logger (its name already bound). */
  logger: UplinkLogger;
  clock: Clock;
  /**
   * The one way a sink reads a secret or TLS file its config names: only from the gateway's
   * secrets folders with links resolved, a warning when `secret` and others may read it. Throws
   * with the file named.
   */
  readSecret(path: string, o?: { secret?: boolean }): Buffer;
  /**
   * Broker-linked sinks: the connection their settings name (any entry built on
   * broker-link/shape.ts), secret files read as readSecret does, the client id made unique per
   * sink. Throws with the field named when a file cannot be read.
   */
  brokerConnection(settings: BrokerSinkBase): BrokerConnection;
  /** Whether this sink is the center's link (the first MQTT-family uplink). */
  primary: boolean;
  box(): BoxInfo;
  south: NorthSouth;
}

/** One kind of sink: what north/registry.ts lists, one line each. */
export interface SinkDefinition<S extends z.ZodType = z.ZodType, K extends string = string> {
  kind: K;
  /** One `uplinks:` entry of this kind (strict, `kind` a literal): the config's union is built from these. */
  schema: S;
  /**
   * Connects to an MQTT broker: the center's commands, update offers and resend requests can
   * come over it, and the first such entry is the center's link. Its schema spreads
   * broker-link/shape.ts (so its entries are BrokerSinkBase) and its status is a
   * BrokerLinkStatus (broker-link/link.ts), what broker-link/session-options.ts gives.
   */
  brokerLink?: boolean;
  /** Its births describe every device: a change of `devices:` rebuilds it on reload. */
  dependsOnDevices?: boolean;
  /** Rows of the log's cursors table it keeps as counters, not positions (no sink may be named so). */
  logCounters?: readonly string[];
  /**
   * The most readings one batch of an entry holds: the log serves that much (plus a commit) of
   * its newest rows from memory (registry.ts sinkBatchReadings). Absent: the entry's
   * `batchMaxReadings` (schema-kit.ts windowShape) when it is a number, else 0 (it reads no batches).
   */
  batchReadings?(config: z.output<S>): number;
  /**
   * The packages its implementation loads that the production build leaves in node_modules
   * (scripts/src/build.ts): native addons, libraries that read their own files at run time.
   * esbuild patterns ('pkg-*' matches a family). Absent: everything it uses is bundled.
   */
  externals?: readonly string[];
  /**
   * Which files an entry names as secrets or TLS material, relative to the entry (secret-fields.ts
   * helpers): the gateway makes them absolute against the config's folder, confines them to its
   * secrets folders and checks them at load and on reload. Absent: the sink names no file.
   */
  secretFiles?(entry: Record<string, unknown>): SecretFileField[];
  /**
   * Where the entry's credentials go and which fields hold them (credentials.ts): a web change
   * or a center's `config` command that moves the entry (same name) to another endpoint, or a
   * weaker protection, must not take stored credentials along, nor hand one secret's file to
   * another use. Absent: the sink holds no credential.
   */
  credentialBinding?(config: z.output<S>): CredentialBinding;
  /**
   * Builds the sink of one entry, loading its implementation now (dynamic import). Throws (or
   * rejects) when it cannot be built, e.g. a secret file is gone: the gateway logs it, the
   * other sinks go on and the log keeps the readings.
   */
  create(config: z.output<S>, ctx: NorthContext): Promise<NorthSink>;
  /**
   * Its entry's form on the uplink page (north/<sink>/form.ts, built with form-kit.ts), loaded
   * and built when the form API first asks, as a driver's (DriverDefinition.form).
   */
  form?(): Promise<SinkForm>;
  /**
   * The UI texts of what only this sink emits (ui-messages.ts, as a driver's): `logmsg.<message>`
   * and `logevent.<event>` of its own log lines, in both languages (north/<sink>/messages.ts).
   * The UI's catalog merges every registered sink's (gateway/src/web/i18n.ts); web/i18n.test.ts
   * checks each such line of its folder has its text here and nothing here is stale.
   */
  messages?: UiMessages;
}

/** A definition with its schema's and kind's types kept (what the config's union needs). */
export function defineSink<const K extends string, S extends z.ZodType>(d: SinkDefinition<S, K>): SinkDefinition<S, K> {
  return d;
}
