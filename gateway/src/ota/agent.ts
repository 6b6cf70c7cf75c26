/**
 * The gateway's OTA agent: takes offers (a retained MQTT message on the gateway's `ota`
 * downlink topic, or POST /api/ota/offer), runs the install pipeline one offer at a time,
 * reports progress retained on `.../ota/status`, and asks the daemon to restart into the new
 * slot. The launcher does the rest (trial boot, health check, rollback).
 */
import type { IClientOptions, MqttClient } from 'mqtt';
import { mqttClientOptions, type BrokerConnection } from '../mqtt-connection.ts';
import { installOffer, type InstallPhase } from './install.ts';
import { authenticateOffer, parseOffer, type Offer, type OfferTrust } from './offer.ts';
import { readState, type HistoryEntry, type PendingSlot, type SlotName } from './slots.ts';
import type { TrustedKey } from './verify.ts';

export interface OtaIdentity {
  prefix: string;
  region: string;
  municipality: string;
  gateway: string;
}

export interface OtaAgentOptions {
  identity: OtaIdentity;
  slotsDir: string;
  incomingDir: string;
  /** The OTA keys in force; a function so that a config reload (local key rotation) takes effect. */
  trustedKeys: readonly TrustedKey[] | (() => readonly TrustedKey[]);
  /** Offers larger than this are refused before the download (ota.maxBundleBytes). */
  maxBundleBytes?: number;
  /** Disk space kept free for the reading log (ota.diskReserveBytes, default log.maxBytes). */
  reserveBytes?: number;
  /** The uplink broker; omitted: HTTPS push only. */
  mqtt?: OtaMqtt;
  /** Called once a release sits in the other slot and `current` points at it. */
  onInstalled: (version: string) => void;
  logger: { info(o: object, m?: string): void; warn(o: object, m?: string): void };
  downloadAttempts?: number;
  retryDelayMs?: number;
  /** Deadline of an unsigned offer's manifest fetch (default MANIFEST_FETCH_TIMEOUT_MS, install.ts). */
  manifestTimeoutMs?: number;
  /** ota.minDownloadBytesPerSec: sets the download's overall deadline (install.ts downloadDeadlineMs). */
  minDownloadBytesPerSec?: number;
  /** The download deadline's timer (tests inject one they fire); default AbortSignal.timeout. */
  downloadDeadline?: (ms: number) => AbortSignal;
  /** ota.allowLocalOfferUrls (url-guard.ts). */
  allowLocalOfferUrls?: boolean;
  /** Set by the launcher: this boot is a release on trial. */
  trial?: boolean;
  /** How long a stop or a move waits for the status reports in flight; default STATUS_FLUSH_MS. */
  statusFlushMs?: number;
}

export type OtaState = 'idle' | 'trial' | InstallPhase | 'failed';

export interface OtaStatus {
  state: OtaState;
  version: string | null;
  slot: SlotName | null;
  target: string | null;
  progress: { received: number; total: number } | null;
  lastError: string | null;
  pending: PendingSlot | null;
  lastRollback: HistoryEntry | null;
  history: HistoryEntry[];
  ts: number;
}

export const otaTopic = (id: OtaIdentity, leaf: 'ota' | 'ota/status') => `${id.prefix}/${id.region}/${id.municipality}/${id.gateway}/${leaf}`;

/** Progress is published at most this often: a 4G link has better things to carry. */
const PROGRESS_EVERY_MS = 2000;

/**
 * The uplink's broker as the OTA client connects to it: configBrokerConnection() of
 * gateway/src/mqtt-connection.ts (tests name only the URL and client id).
 */
export type OtaMqtt = Pick<BrokerConnection, 'url' | 'clientId'> & Partial<BrokerConnection>;

/** mqtt.js's own default, for an OtaMqtt that names none. */
const DEFAULT_KEEPALIVE_SEC = 60;

/**
 * How long a stop or a move to another broker waits for status reports still in flight to be
 * acknowledged before it drops the connection: the last report (installed, failed) should
 * reach the center, but a broker that went silent must not hold the daemon's shutdown.
 */
export const STATUS_FLUSH_MS = 2000;

/**
 * The status reports one client sent that its broker has not acknowledged yet (counted by
 * their publish callbacks: mqtt.js's own 'outgoingEmpty' only fires inside its graceful end).
 */
class Unacked {
  private n = 0;
  private waiters: Array<() => void> = [];
  sent(): () => void {
    this.n++;
    return () => {
      if (--this.n === 0) for (const w of this.waiters.splice(0)) w();
    };
  }
  get count(): number {
    return this.n;
  }
  onNone(w: () => void): void {
    if (this.n === 0) w();
    else this.waiters.push(w);
  }
}

/**
 * Ends an OTA client whether or not its broker is still there. mqtt.js's graceful end() waits
 * for the PUBACK of every QoS 1 report in flight and then for the broker to close the link
 * after DISCONNECT; with the broker gone neither ever comes, and no timer or socket is left
 * to say so (the promise just stays pending, and a reload or a shutdown behind it hangs).
 * So: wait for the reports in flight while the link is up, at most `flushMs`, then end by force.
 */
async function endClient(c: MqttClient, unacked: Unacked, flushMs: number): Promise<void> {
  if (c.connected && unacked.count > 0) {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        c.off('close', done);
        resolve();
      };
      // Referenced: it also keeps the process alive while the broker has the last word.
      const timer = setTimeout(done, flushMs);
      c.on('close', done);
      unacked.onNone(done);
    });
  }
  await c.endAsync(true);
}

/** The install in progress: how its offer was authenticated, and how to stop it. */
interface InstallJob {
  trust: OfferTrust['by'];
  abort: AbortController;
  /** The version of the signed offer that took the slot from this one. */
  preempted: string | null;
}

export class OtaAgent {
  private client: MqttClient | null = null;
  /**
   * The last start() while mqtt.js loads (imported by the first start that has a broker, not
   * with this file: most processes that import it, OTA test files among them, never connect):
   * stop() and reconnect() wait for its client and end it like any still connecting.
   */
  private starting: Promise<void> | null = null;
  /** The status reports of `client` awaiting their PUBACK. */
  private unacked = new Unacked();
  private current: InstallJob | null = null;
  private state: OtaState;
  private target: string | null = null;
  private progress: { received: number; total: number } | null = null;
  private lastError: string | null = null;
  private lastPublish = 0;
  private busy: Promise<void> | null = null;
  private abort = new AbortController();

  /** The broker the offers come from: o.mqtt, or what reconnect() was given since. */
  private mqtt: OtaMqtt | undefined;
  /** Whose offers these are (the topics, the offer's addressee): o.identity, or what reconnect() was given since. */
  private identity: OtaIdentity;

  constructor(private readonly o: OtaAgentOptions) {
    this.state = o.trial ? 'trial' : 'idle';
    this.mqtt = o.mqtt;
    this.identity = o.identity;
  }

  private keys(): readonly TrustedKey[] {
    return typeof this.o.trustedKeys === 'function' ? this.o.trustedKeys() : this.o.trustedKeys;
  }

  private self() {
    const { region, municipality, gateway } = this.identity;
    return { region, municipality, gateway };
  }

  start(): void {
    const m = this.mqtt;
    if (!m) return;
    const opts: IClientOptions = {
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: 5000,
      // The one factory of the box's MQTT options (client id, credentials, TLS).
      ...mqttClientOptions({ username: undefined, password: undefined, tls: undefined, ...m, keepaliveSec: m.keepaliveSec ?? DEFAULT_KEEPALIVE_SEC }),
    };
    // The identity of this connection: a later reconnect() with another one starts another client.
    const identity = this.identity;
    // Made asynchronously: what mqtt.js throws (a URL it cannot use) is logged, not thrown to the caller.
    // `default`, not the named export: esbuild's chunk of a CommonJS package exports only that.
    const starting: Promise<void> = import('mqtt')
      .then(({ default: mqtt }) => this.connect(mqtt.connect(m.url, opts), identity))
      .catch((err: Error) => {
        // Not a passing link error: nothing retries until a reload changes the broker settings.
        this.lastError = `cannot connect to the broker: ${err.message}`;
        this.o.logger.warn({ err: err.message }, 'ota: cannot connect to the broker; offers over MQTT are off until its settings change');
      })
      .finally(() => {
        if (this.starting === starting) this.starting = null;
      });
    this.starting = starting;
  }

  private connect(client: MqttClient, identity: OtaIdentity): void {
    this.client = client;
    this.unacked = new Unacked();
    client.on('connect', () => {
      client.subscribe(otaTopic(identity, 'ota'), { qos: 1 });
      this.publish(true);
    });
    client.on('error', (err) => this.o.logger.warn({ err: err.message }, 'ota: mqtt error'));
    client.on('message', (_topic, payload) => {
      if (payload.length === 0) return; // a cleared retained offer
      let raw: unknown;
      try {
        raw = JSON.parse(payload.toString('utf8'));
      } catch {
        this.fail('OTA offer on MQTT is not JSON');
        return;
      }
      void this.offer(raw).catch(() => {});
    });
  }

  /**
   * Accepts an offer and starts the install in the background. Rejects (with the reason) an
   * invalid offer or one that arrives while another install runs; an offer of the version
   * already running is a no-op (a retained offer is seen again after every restart).
   */
  async offer(raw: unknown): Promise<{ started: boolean; message: string }> {
    let offer: Offer;
    let trust: OfferTrust;
    try {
      offer = parseOffer(raw);
      // Refused here, before anything is fetched: an unsigned offer without a manifest URL, a
      // bad signature, another gateway's offer. The manifest of an unsigned one is checked first thing in the install.
      trust = authenticateOffer(offer, this.keys(), this.self());
    } catch (err) {
      this.fail((err as Error).message);
      throw err;
    }
    const st = readState(this.o.slotsDir);
    const running = st ? (st.versions[st.current] ?? null) : null;
    if (offer.version === running || offer.version === st?.pending?.version) {
      return { started: false, message: `version ${offer.version} is already installed` };
    }
    const current = this.current;
    let before: Promise<void> = Promise.resolve();
    if (this.busy && current) {
      // An unsigned offer is anyone's on the broker: a signed one (the maintainer's) takes the
      // slot from it rather than wait for its download to end or time out.
      if (!(trust.by === 'signature' && current.trust === 'manifest' && !current.preempted)) {
        throw new Error(`an update to ${this.target} is already in progress (${this.state})`);
      }
      current.preempted = offer.version;
      current.abort.abort(new Error(`pre-empted by a signed offer of ${offer.version}`));
      this.o.logger.warn({ unsigned: this.target, signed: offer.version }, 'ota: a signed offer pre-empts the unsigned one in progress');
      before = this.busy;
    }
    const job: InstallJob = { trust: trust.by, abort: new AbortController(), preempted: null };
    this.current = job;
    const run = (async () => {
      await before;
      this.target = offer.version;
      this.lastError = null;
      this.progress = null;
      await this.install(offer, job);
    })();
    const tracked: Promise<void> = run.finally(() => {
      if (this.busy === tracked) {
        this.busy = null;
        this.current = null;
      }
    });
    this.busy = tracked;
    return { started: true, message: current ? `installing ${offer.version} (pre-empted the unsigned offer of ${this.target})` : `installing ${offer.version}` };
  }

  /** Resolves when the install started by the last offer has finished (tests, shutdown). */
  async settled(): Promise<void> {
    await this.busy;
  }

  private async install(offer: Offer, job: InstallJob): Promise<void> {
    try {
      await installOffer({
        offer,
        slotsDir: this.o.slotsDir,
        incomingDir: this.o.incomingDir,
        trustedKeys: this.keys(),
        self: this.self(),
        ...(this.o.maxBundleBytes !== undefined ? { maxBundleBytes: this.o.maxBundleBytes } : {}),
        ...(this.o.reserveBytes !== undefined ? { reserveBytes: this.o.reserveBytes } : {}),
        downloadAttempts: this.o.downloadAttempts,
        retryDelayMs: this.o.retryDelayMs,
        ...(this.o.manifestTimeoutMs !== undefined ? { manifestTimeoutMs: this.o.manifestTimeoutMs } : {}),
        ...(this.o.minDownloadBytesPerSec !== undefined ? { minDownloadBytesPerSec: this.o.minDownloadBytesPerSec } : {}),
        ...(this.o.downloadDeadline ? { downloadDeadline: this.o.downloadDeadline } : {}),
        allowLocalOfferUrls: this.o.allowLocalOfferUrls ?? false,
        signal: AbortSignal.any([this.abort.signal, job.abort.signal]),
        onPhase: (phase) => {
          this.state = phase;
          this.o.logger.info({ version: offer.version, phase }, 'ota');
          this.publish(true);
        },
        onProgress: (received, total) => {
          this.progress = { received, total };
          this.publish(false);
        },
      });
      this.o.logger.info({ version: offer.version }, 'ota: installed, restarting into the new slot');
      this.publish(true);
      this.o.onInstalled(offer.version);
    } catch (err) {
      this.fail(job.preempted ? `unsigned offer of ${offer.version} given up: a signed offer of ${job.preempted} pre-empted it (${(err as Error).message})` : (err as Error).message);
    }
  }

  private fail(message: string): void {
    this.state = 'failed';
    this.lastError = message;
    this.o.logger.warn({ err: message, target: this.target }, 'ota: update refused or failed');
    this.publish(true);
  }

  otaStatus(): OtaStatus {
    const st = readState(this.o.slotsDir);
    const history = st?.history ?? [];
    const lastRollback = [...history].reverse().find((h) => h.event === 'rollback') ?? null;
    return {
      state: this.state === 'trial' && st && !st.pending ? 'idle' : this.state,
      version: process.env.KEDGE_OTA_VERSION ?? (st ? (st.versions[st.current] ?? null) : null),
      slot: st?.current ?? null,
      target: this.target,
      progress: this.progress,
      lastError: this.lastError,
      pending: st?.pending ?? null,
      lastRollback,
      history: history.slice(-10),
      ts: Date.now(),
    };
  }

  private publish(force: boolean): void {
    const c = this.client;
    if (!c?.connected) return;
    const now = Date.now();
    if (!force && now - this.lastPublish < PROGRESS_EVERY_MS) return;
    this.lastPublish = now;
    c.publish(otaTopic(this.identity, 'ota/status'), JSON.stringify(this.otaStatus()), { qos: 1, retain: true }, this.unacked.sent());
  }

  /**
   * Moves the offer subscription to other broker settings or another identity (a reload changed
   * the box's id, region, municipality or topic prefix: its offers come on another topic and
   * name it by the new id). An install under way goes on: it does not use MQTT, only its
   * progress reports do.
   */
  async reconnect(mqtt: OtaMqtt | undefined, identity: OtaIdentity = this.identity): Promise<void> {
    await this.starting;
    const c = this.client;
    this.client = null;
    // The old broker may be the reason for the move (dead, unreachable): it must not hold it.
    if (c) await endClient(c, this.unacked, this.o.statusFlushMs ?? STATUS_FLUSH_MS).catch(() => {});
    this.mqtt = mqtt;
    this.identity = identity;
    this.start();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.busy?.catch(() => {});
    await this.starting;
    const c = this.client;
    this.client = null;
    if (c) await endClient(c, this.unacked, this.o.statusFlushMs ?? STATUS_FLUSH_MS).catch(() => {});
  }

  /** The summary the web UI's system page shows (gateway/src/web/context.ts OtaStatus). */
  readonly webStatus = (): { state: string; version?: string; progress?: number; error?: string; [k: string]: unknown } => {
    const st = this.otaStatus();
    const pct = st.progress && st.progress.total > 0 ? Math.floor((st.progress.received / st.progress.total) * 100) : undefined;
    return { ...st, version: st.version ?? undefined, progress: pct, error: st.lastError ?? undefined };
  };

  /** Re-publishes the status (after the trial boot was marked good). */
  refresh(): void {
    this.publish(true);
  }
}
