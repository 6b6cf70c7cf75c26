import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { LogRecord } from '../model.ts';
import type { LogSource } from './log-source.ts';
import { reconnectDelay } from './backoff.ts';
import { TokenBucket } from './token-bucket.ts';
import { redactUrl } from '../redact.ts';

export interface UplinkLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
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

/** The options every uplink shares: the log, the broker, batching, pacing and reconnects. */
export interface LogPublisherOptions {
  log: LogSource;
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean };
  batchMaxReadings: number;
  batchMaxDelayMs: number;
  inflight: number;
  keepaliveSec: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  logger: UplinkLogger;
  /** A batch without PUBACK for this long means a dead link: reconnect and resend from the cursor. */
  ackTimeoutMs?: number;
  /** Token-bucket pace of publishing, in readings per second; 0 or absent = unlimited. */
  maxReadingsPerSec?: number;
  /** Clock of the pace; tests freeze it. */
  clock?: () => number;
  cursorName?: string;
  random?: () => number;
}

/** One MQTT connection of the publisher, handed to the hooks. */
export interface Session {
  readonly client: MqttClient;
  /** False once this connection is over (closed, timed out or stopped): late callbacks must do nothing. */
  live(): boolean;
  /** Asks for the next batches (after births that had to go first). */
  pump(): void;
}

export interface Message {
  topic: string;
  payload: Buffer | string;
}

/** A message that is published with retain as given, at QoS 1 (Will, goodbye). */
export interface StatusMessage extends Message {
  retain: boolean;
}

/** What one wire format adds to the shared session: its name, Will, births, encoding and goodbye. */
export interface PublisherFormat {
  /** Names the uplink in log lines ('uplink', 'sparkplug uplink'). */
  label: string;
  /** The Will of the next connection attempt; called once per attempt, just before it. */
  will(): StatusMessage;
  /** Extra fields of the "connected" log line. */
  connectedInfo?(): object;
  /** The connection is up and the cursor reloaded: births, subscriptions. A pump follows. */
  onOnline(session: Session): void;
  onMessage?(session: Session, topic: string, payload: Buffer): void;
  /** False holds batches back (Sparkplug: until this session's births went out). */
  canSend?(): boolean;
  /** The QoS 1 messages carrying `records`; the batch counts as delivered when all have their PUBACK. */
  encode(session: Session, records: LogRecord[], first: number): Message[];
  /** Published (QoS 1) on a clean stop while online. */
  goodbye(): StatusMessage;
}

interface InflightBatch {
  last: number;
  readings: number;
  /** PUBACKs still missing. */
  waiting: number;
  sentAt: number;
}

/**
 * The MQTT session life cycle shared by every uplink: reads from the acknowledged cursor,
 * publishes QoS 1 batches through a window of `inflight` batches, and advances the cursor only
 * when a batch and every batch before it have all their PUBACKs. Nothing is held in memory
 * across a disconnect: every (re)connect starts again from the cursor, and the ingest removes
 * the duplicates this can send. Reconnects are jittered; an acknowledgement that never comes
 * counts as a dead link.
 */
export class LogPublisher {
  private readonly o: Required<Omit<LogPublisherOptions, 'username' | 'password' | 'tls'>> &
    Pick<LogPublisherOptions, 'username' | 'password' | 'tls'>;
  /** The current connection (also while connecting or after a drop until the next attempt). */
  private session: Session | null = null;
  private epoch = 0;
  private inflightBatches: InflightBatch[] = [];
  private sentSeq = 0;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private delayTimer: NodeJS.Timeout | null = null;
  private pumpScheduled = false;
  private unsubscribeLog: (() => void) | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private readonly bucket: TokenBucket;
  /** When the short batch now waiting for company was first seen. */
  private shortSince: number | null = null;
  private st: UplinkStatus;

  constructor(
    options: LogPublisherOptions,
    private readonly format: PublisherFormat,
  ) {
    this.o = { cursorName: 'uplink', random: Math.random, ackTimeoutMs: 30_000, maxReadingsPerSec: 0, clock: Date.now, ...options };
    this.bucket = new TokenBucket(this.o.maxReadingsPerSec, Math.max(this.o.maxReadingsPerSec, this.o.batchMaxReadings), this.o.clock);
    this.st = {
      state: 'offline',
      // Credentials in the URL never reach status pages or logs.
      url: redactUrl(options.url),
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

  start(): void {
    if (this.unsubscribeLog) return;
    this.unsubscribeLog = this.o.log.onAppend(() => this.schedulePump());
    this.watchdog = setInterval(() => this.checkLink(), Math.min(1000, this.o.ackTimeoutMs));
    this.watchdog.unref();
    this.connect();
  }

  /** The client while online, else null (births on request are only sent then). */
  onlineClient(): MqttClient | null {
    return this.session && this.st.state === 'online' ? this.session.client : null;
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

  /**
   * A link can die without a TCP error (a 4G modem that lost its carrier): an acknowledgement
   * that never comes is the sign. The periodic pump also picks up anything a wake-up missed.
   */
  private checkLink(): void {
    const oldest = this.inflightBatches[0];
    if (this.session && this.st.state === 'online' && oldest && oldest.waiting > 0 && Date.now() - oldest.sentAt > this.o.ackTimeoutMs) {
      this.o.logger.warn({ waitingForSeq: oldest.last, ackTimeoutMs: this.o.ackTimeoutMs }, 'no PUBACK in time: reconnecting');
      this.st.lastError = 'acknowledgement timeout';
      this.onDisconnected(this.session.client);
      return;
    }
    this.schedulePump();
  }

  private connect(): void {
    const epoch = ++this.epoch;
    this.st.state = 'connecting';
    this.st.nextAttemptAt = null;
    const will = this.format.will();
    const opts: IClientOptions = {
      clientId: this.o.clientId,
      clean: true,
      protocolVersion: 4,
      keepalive: this.o.keepaliveSec,
      reconnectPeriod: 0, // reconnects are ours: jittered, and always restart from the cursor
      // A connect attempt into a blackholed link must not hold the uplink longer than a lost PUBACK would.
      connectTimeout: Math.max(5_000, Math.min(15_000, this.o.ackTimeoutMs)),
      queueQoSZero: false,
      // Otherwise mqtt-packet pre-builds 65,536 two-byte Buffers (~6 MB of heap) for packet ids.
      writeCache: false,
      username: this.o.username,
      password: this.o.password,
      will: { topic: will.topic, payload: Buffer.from(will.payload), qos: 1, retain: will.retain },
      ...(this.o.tls ?? {}),
    };
    const client = mqtt.connect(this.o.url, opts);
    const session: Session = { client, live: () => epoch === this.epoch, pump: () => this.schedulePump() };
    this.session = session;
    client.on('connect', () => {
      if (!session.live()) return;
      this.attempt = 0;
      this.st.state = 'online';
      this.st.connectedSince = Date.now();
      this.st.lastError = null;
      this.sentSeq = this.o.log.cursor(this.o.cursorName);
      this.inflightBatches = [];
      this.o.logger.info({ url: this.st.url, ...this.format.connectedInfo?.(), resumeAfter: this.sentSeq }, `${this.format.label} connected`);
      this.format.onOnline(session);
      this.schedulePump();
    });
    client.on('message', (topic, payload) => {
      if (session.live()) this.format.onMessage?.(session, topic, payload);
    });
    client.on('error', (err) => {
      if (!session.live()) return;
      this.st.lastError = err.message;
      this.o.logger.warn({ err: err.message, url: this.st.url }, `${this.format.label} error`);
    });
    client.on('close', () => {
      if (session.live()) this.onDisconnected(client);
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
    if (this.st.state === 'online') {
      this.o.logger.warn({ url: this.st.url, ackedSeq: this.o.log.cursor(this.o.cursorName) }, `${this.format.label} disconnected`);
    }
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
    const session = this.session;
    if (!session || this.st.state !== 'online' || this.format.canSend?.() === false) return;
    while (this.inflightBatches.length < this.o.inflight) {
      const records = this.o.log.readAfter(this.sentSeq, this.o.batchMaxReadings);
      if (records.length === 0) return;
      if (records.length < this.o.batchMaxReadings) {
        // A short batch waits for company, but never longer than batchMaxDelayMs after its
        // oldest reading was taken (a backlog goes out at once) nor after it was first seen
        // here (a device clock running ahead must not hold it back).
        const now = Date.now();
        this.shortSince ??= now;
        const waitMs = Math.min(this.shortSince + this.o.batchMaxDelayMs - now, records[0]!.ts + this.o.batchMaxDelayMs - now);
        if (waitMs > 0) return this.pumpIn(waitMs);
      }
      const paceMs = this.bucket.take(records.length);
      if (paceMs > 0) return this.pumpIn(paceMs);
      this.shortSince = null;
      this.send(session, records);
    }
  }

  private send(session: Session, records: LogRecord[]): void {
    const first = this.sentSeq + 1;
    const last = records[records.length - 1]!.seq;
    const messages = this.format.encode(session, records, first);
    const entry: InflightBatch = { last, readings: records.length, waiting: messages.length, sentAt: Date.now() };
    this.inflightBatches.push(entry);
    this.sentSeq = last;
    this.o.logger.debug({ first, last }, 'batch sent');
    for (const m of messages) {
      session.client.publish(m.topic, m.payload, { qos: 1 }, (err) => {
        if (!session.live() || err) return;
        if (--entry.waiting > 0) return;
        this.o.logger.debug({ last }, 'batch acknowledged');
        this.advanceCursor();
        this.schedulePump();
      });
    }
  }

  private pumpIn(ms: number): void {
    this.delayTimer ??= setTimeout(() => {
      this.delayTimer = null;
      this.pump();
    }, ms);
  }

  private advanceCursor(): void {
    let moved = 0;
    while (this.inflightBatches[0] && this.inflightBatches[0].waiting === 0) {
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
   * should not leave the last seconds behind), publishes the goodbye when connected, and
   * disconnects. Whatever is not delivered stays in the log for the next start.
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
    const client = this.session?.client;
    const wasOnline = this.st.state === 'online';
    this.st.state = 'stopped';
    this.session = null;
    if (!client) return;
    if (wasOnline) {
      const bye = this.format.goodbye();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2000);
        client.publish(bye.topic, bye.payload, { qos: 1, retain: bye.retain }, () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    this.epoch++;
    // A client still connecting has nothing to flush: force it, or end() waits for a connect.
    await new Promise<void>((resolve) => client.end(!wasOnline, {}, () => resolve()));
    client.removeAllListeners();
    // mqtt.js may still report a connect attempt that was cut short (connack timeout); with no
    // listener that error would crash the daemon during a stop or reload.
    client.on('error', () => {});
  }
}
