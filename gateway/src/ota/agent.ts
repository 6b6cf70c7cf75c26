/**
 * The gateway's OTA agent: takes offers (a retained MQTT message on the gateway's `ota`
 * downlink topic, or POST /api/ota/offer), runs the install pipeline one offer at a time,
 * reports progress retained on `.../ota/status`, and asks the daemon to restart into the new
 * slot. The launcher does the rest (trial boot, health check, rollback).
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { installOffer, parseOffer, type InstallPhase, type Offer } from './install.ts';
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
  trustedKeys: readonly TrustedKey[];
  /** The uplink broker; omitted: HTTPS push only. */
  mqtt?: { url: string; clientId: string; username?: string; password?: string; tls?: Record<string, unknown> };
  /** Called once a release sits in the other slot and `current` points at it. */
  onInstalled: (version: string) => void;
  logger: { info(o: object, m?: string): void; warn(o: object, m?: string): void };
  downloadAttempts?: number;
  retryDelayMs?: number;
  /** Set by the launcher: this boot is a release on trial. */
  trial?: boolean;
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

export class OtaAgent {
  private client: MqttClient | null = null;
  private state: OtaState;
  private target: string | null = null;
  private progress: { received: number; total: number } | null = null;
  private lastError: string | null = null;
  private lastPublish = 0;
  private busy: Promise<void> | null = null;
  private abort = new AbortController();

  constructor(private readonly o: OtaAgentOptions) {
    this.state = o.trial ? 'trial' : 'idle';
  }

  start(): void {
    const m = this.o.mqtt;
    if (!m) return;
    const opts: IClientOptions = {
      clientId: m.clientId,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: 5000,
      username: m.username,
      password: m.password,
      ...(m.tls ?? {}),
    };
    const client = mqtt.connect(m.url, opts);
    this.client = client;
    client.on('connect', () => {
      client.subscribe(otaTopic(this.o.identity, 'ota'), { qos: 1 });
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
    try {
      offer = parseOffer(raw);
    } catch (err) {
      this.fail((err as Error).message);
      throw err;
    }
    const st = readState(this.o.slotsDir);
    const running = st ? (st.versions[st.current] ?? null) : null;
    if (offer.version === running || offer.version === st?.pending?.version) {
      return { started: false, message: `version ${offer.version} is already installed` };
    }
    if (this.busy) throw new Error(`an update to ${this.target} is already in progress (${this.state})`);
    this.target = offer.version;
    this.lastError = null;
    this.progress = null;
    this.busy = this.install(offer).finally(() => {
      this.busy = null;
    });
    return { started: true, message: `installing ${offer.version}` };
  }

  /** Resolves when the install started by the last offer has finished (tests, shutdown). */
  async settled(): Promise<void> {
    await this.busy;
  }

  private async install(offer: Offer): Promise<void> {
    try {
      await installOffer({
        offer,
        slotsDir: this.o.slotsDir,
        incomingDir: this.o.incomingDir,
        trustedKeys: this.o.trustedKeys,
        downloadAttempts: this.o.downloadAttempts,
        retryDelayMs: this.o.retryDelayMs,
        signal: this.abort.signal,
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
      this.fail((err as Error).message);
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
    c.publish(otaTopic(this.o.identity, 'ota/status'), JSON.stringify(this.otaStatus()), { qos: 1, retain: true });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.busy?.catch(() => {});
    const c = this.client;
    this.client = null;
    if (c) await c.endAsync().catch(() => {});
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
