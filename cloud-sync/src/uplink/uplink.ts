import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Batch, Codec } from '../codec/index.ts';
import { topicFor, type GatewayIdentity } from '../topics.ts';
import type { LogSource } from './log-source.ts';
import { reconnectDelay } from './backoff.ts';

export interface UplinkLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface UplinkOptions {
  log: LogSource;
  identity: GatewayIdentity;
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean };
  codec: Codec;
  batchMaxReadings: number;
  batchMaxDelayMs: number;
  inflight: number;
  keepaliveSec: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** Extra fields of the retained birth message (version, point metadata...). */
  birth?: () => Record<string, unknown>;
  logger: UplinkLogger;
  /** A batch without PUBACK for this long means a dead link: reconnect and resend from the cursor. */
  ackTimeoutMs?: number;
  cursorName?: string;
  random?: () => number;
}

export interface UplinkStatus {
  state: 'connecting' | 'online' | 'offline' | 'stopped';
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
}

interface InflightBatch {
  last: number;
  readings: number;
  acked: boolean;
  sentAt: number;
}

/**
 * Moves the log to the broker. Reads from the acknowledged cursor, publishes QoS 1 batches,
 * and advances the cursor only when the broker's PUBACK for a batch and every batch before it
 * has arrived. Nothing is queued in memory across a disconnect: on every (re)connect it starts
 * again from the cursor, and the ingest removes the duplicates that this can send.
 */
export class Uplink {
  private readonly o: Required<Omit<UplinkOptions, 'username' | 'password' | 'tls' | 'birth'>> &
    Pick<UplinkOptions, 'username' | 'password' | 'tls' | 'birth'>;
  private client: MqttClient | null = null;
  private epoch = 0;
  private inflightBatches: InflightBatch[] = [];
  private sentSeq = 0;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private delayTimer: NodeJS.Timeout | null = null;
  private pumpScheduled = false;
  private unsubscribeLog: (() => void) | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private st: UplinkStatus;

  constructor(options: UplinkOptions) {
    this.o = { cursorName: 'uplink', random: Math.random, ackTimeoutMs: 30_000, ...options };
    this.st = {
      state: 'offline',
      url: options.url,
      ackedSeq: options.log.cursor(this.o.cursorName),
      sentSeq: 0,
      lastSeq: options.log.lastSeq(),
      inflight: 0,
      batchesAcked: 0,
      readingsAcked: 0,
      reconnects: 0,
      lastError: null,
      connectedSince: null,
      nextAttemptAt: null,
    };
  }

  get dataTopic(): string {
    return topicFor(this.o.identity, 'data');
  }

  get statusTopic(): string {
    return topicFor(this.o.identity, 'status');
  }

  start(): void {
    if (this.unsubscribeLog) return;
    this.unsubscribeLog = this.o.log.onAppend(() => this.schedulePump());
    this.watchdog = setInterval(() => this.checkLink(), Math.min(1000, this.o.ackTimeoutMs));
    this.watchdog.unref();
    this.connect();
  }

  /**
   * A link can die without a TCP error (a 4G modem that lost its carrier): an acknowledgement
   * that never comes is the sign. The periodic pump also picks up anything a wake-up missed.
   */
  private checkLink(): void {
    const oldest = this.inflightBatches[0];
    if (this.client && this.st.state === 'online' && oldest && !oldest.acked && Date.now() - oldest.sentAt > this.o.ackTimeoutMs) {
      this.o.logger.warn({ waitingForSeq: oldest.last, ackTimeoutMs: this.o.ackTimeoutMs }, 'no PUBACK in time: reconnecting');
      this.st.lastError = 'acknowledgement timeout';
      this.onDisconnected(this.client);
      return;
    }
    this.schedulePump();
  }

  status(): UplinkStatus {
    return {
      ...this.st,
      ackedSeq: this.o.log.cursor(this.o.cursorName),
      sentSeq: this.sentSeq,
      lastSeq: this.o.log.lastSeq(),
      inflight: this.inflightBatches.length,
    };
  }

  private statusPayload(state: 'online' | 'offline', reason?: string): string {
    return JSON.stringify({
      state,
      gateway: this.o.identity.gateway,
      region: this.o.identity.region,
      municipality: this.o.identity.municipality,
      ts: Date.now(),
      ...(reason ? { reason } : {}),
      ...(state === 'online' ? (this.o.birth?.() ?? {}) : {}),
    });
  }

  private connect(): void {
    const epoch = ++this.epoch;
    this.st.state = 'connecting';
    this.st.nextAttemptAt = null;
    const opts: IClientOptions = {
      clientId: this.o.clientId,
      clean: true,
      protocolVersion: 4,
      keepalive: this.o.keepaliveSec,
      reconnectPeriod: 0, // reconnects are ours: jittered, and always restart from the cursor
      connectTimeout: 15_000,
      queueQoSZero: false,
      username: this.o.username,
      password: this.o.password,
      will: { topic: this.statusTopic, payload: Buffer.from(this.statusPayload('offline', 'connection lost')), qos: 1, retain: true },
      ...(this.o.tls ?? {}),
    };
    const client = mqtt.connect(this.o.url, opts);
    this.client = client;
    client.on('connect', () => {
      if (epoch !== this.epoch) return;
      this.attempt = 0;
      this.st.state = 'online';
      this.st.connectedSince = Date.now();
      this.st.lastError = null;
      this.sentSeq = this.o.log.cursor(this.o.cursorName);
      this.inflightBatches = [];
      this.o.logger.info({ url: this.o.url, resumeAfter: this.sentSeq }, 'uplink connected');
      client.publish(this.statusTopic, this.statusPayload('online'), { qos: 1, retain: true }, (err) => {
        if (err && epoch === this.epoch) this.o.logger.warn({ err: err.message }, 'birth message not acknowledged');
      });
      this.schedulePump();
    });
    client.on('error', (err) => {
      if (epoch !== this.epoch) return;
      this.st.lastError = err.message;
      this.o.logger.warn({ err: err.message, url: this.o.url }, 'uplink error');
    });
    client.on('close', () => {
      if (epoch !== this.epoch) return;
      this.onDisconnected(client);
    });
  }

  private onDisconnected(client: MqttClient): void {
    // Anything in flight is forgotten: the cursor did not move for it, so it is sent again.
    this.epoch++;
    this.inflightBatches = [];
    this.clearTimer('delayTimer');
    client.removeAllListeners();
    client.on('error', () => {}); // a late socket error must not crash the daemon
    client.end(true);
    if (this.st.state === 'stopped') return;
    if (this.st.state === 'online') this.o.logger.warn({ url: this.o.url, ackedSeq: this.o.log.cursor(this.o.cursorName) }, 'uplink disconnected');
    this.st.state = 'offline';
    this.st.connectedSince = null;
    const delay = reconnectDelay(this.attempt++, this.o.reconnectMinMs, this.o.reconnectMaxMs, this.o.random);
    this.st.nextAttemptAt = Date.now() + delay;
    this.st.reconnects++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    const client = this.client;
    if (!client || this.st.state !== 'online') return;
    const epoch = this.epoch;
    while (this.inflightBatches.length < this.o.inflight) {
      const records = this.o.log.readAfter(this.sentSeq, this.o.batchMaxReadings);
      if (records.length === 0) return;
      if (records.length < this.o.batchMaxReadings) {
        // A short batch waits for company, but never longer than batchMaxDelayMs after its
        // oldest reading was taken; a backlog therefore goes out at once.
        const waitMs = Math.min(this.o.batchMaxDelayMs, records[0]!.ts + this.o.batchMaxDelayMs - Date.now());
        if (waitMs > 0) {
          if (!this.delayTimer) {
            this.delayTimer = setTimeout(() => {
              this.delayTimer = null;
              this.pump();
            }, waitMs);
          }
          return;
        }
      }
      const first = this.sentSeq + 1;
      const last = records[records.length - 1]!.seq;
      const batch: Batch = {
        gateway: this.o.identity.gateway,
        first,
        last,
        // The log only loses a prefix of unsent rows (size-cap eviction), so a hole after the
        // position already sent is exactly what was evicted.
        evicted: records[0]!.seq > first ? [{ first, last: records[0]!.seq - 1 }] : [],
        readings: records,
      };
      const entry: InflightBatch = { last, readings: records.length, acked: false, sentAt: Date.now() };
      this.inflightBatches.push(entry);
      this.sentSeq = last;
      this.o.logger.debug({ first, last }, 'batch sent');
      client.publish(this.dataTopic, this.o.codec.encode(batch), { qos: 1 }, (err) => {
        if (epoch !== this.epoch || err) return;
        this.o.logger.debug({ last }, 'batch acknowledged');
        entry.acked = true;
        this.advanceCursor();
        this.schedulePump();
      });
    }
  }

  private advanceCursor(): void {
    let moved = 0;
    while (this.inflightBatches[0]?.acked) {
      const done = this.inflightBatches.shift()!;
      moved = done.last;
      this.st.batchesAcked++;
      this.st.readingsAcked += done.readings;
    }
    if (moved) this.o.log.advance(this.o.cursorName, moved);
  }

  private clearTimer(name: 'delayTimer' | 'reconnectTimer'): void {
    const timer = this[name];
    if (timer) clearTimeout(timer);
    this[name] = null;
  }

  /**
   * Gives the uplink up to `drainMs` to deliver what is already logged (a maintenance restart
   * should not leave the last seconds behind), publishes the retained offline status when
   * connected, and disconnects. Whatever is not delivered stays in the log for the next start.
   */
  async stop(drainMs = 0): Promise<void> {
    const deadline = Date.now() + drainMs;
    while (Date.now() < deadline && this.st.state === 'online' && this.o.log.cursor(this.o.cursorName) < this.o.log.lastSeq()) {
      this.schedulePump();
      await new Promise((r) => setTimeout(r, 20));
    }
    this.unsubscribeLog?.();
    this.unsubscribeLog = null;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    this.clearTimer('reconnectTimer');
    this.clearTimer('delayTimer');
    const client = this.client;
    const wasOnline = this.st.state === 'online';
    this.st.state = 'stopped';
    this.client = null;
    if (!client) return;
    if (wasOnline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2000);
        client.publish(this.statusTopic, this.statusPayload('offline', 'shutdown'), { qos: 1, retain: true }, () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    this.epoch++;
    // A client still connecting has nothing to flush: force it, or end() waits for a connect.
    await new Promise<void>((resolve) => client.end(!wasOnline, {}, () => resolve()));
    client.removeAllListeners();
  }
}
