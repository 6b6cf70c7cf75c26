import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { LogRecord } from '../model.ts';
import type { LogSource } from './log-source.ts';
import { reconnectDelay } from './backoff.ts';
import { TokenBucket } from './token-bucket.ts';
import { monoNow, timerDelay } from '../clock.ts';
import { decodeAck, type CenterAck } from '../center-ack.ts';
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
  /** Acknowledgements of data messages received (PUBACKs, or a format's own delivery proof), in whatever order they came. */
  pubacks: number;
  /** Times the pump held a batch back because the pace (token bucket) did not allow it yet. */
  pacedWaits: number;
  readingsAcked: number;
  reconnects: number;
  lastError: string | null;
  connectedSince: number | null;
  nextAttemptAt: number | null;
  /** Who lets the log forget: the center's confirmation, or (third-party consumers) the broker's PUBACK. */
  ackMode: AckMode;
  /** Highest sequence the broker acknowledged with its PUBACK (flow control, not custody). */
  brokerAckedSeq: number;
  /** Highest sequence the center confirmed after a durable commit (center mode; 0 otherwise). */
  centerConfirmedSeq: number;
  /** Times the uplink sent again from the center's position because no confirmation came. */
  resends: number;
  /** Readings the center confirmed since start (center mode). */
  readingsConfirmed: number;
  /** Wall time of the last confirmation that moved the position (center mode). */
  lastCenterAckAt: number | null;
  /** Confirmations beyond the log's end in its own epoch: proof the log went backwards. */
  logBehindCenter: number;
}

export type AckMode = 'center' | 'broker';

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
  /** Monotonic clock (ms) of the pace (cloud-sync/src/clock.ts); tests freeze it. */
  clock?: () => number;
  cursorName?: string;
  random?: () => number;
  /**
   * 'broker' (default here, and for Sparkplug hosts and other third-party consumers): the
   * cursor moves on PUBACK. 'center': it moves only when the center confirms (centerAck).
   */
  ackMode?: AckMode;
  /** Center mode: the topic the confirmations arrive on, and whose log (gateway, epoch) they must name. */
  centerAck?: { topic: string; gateway: string; epoch: string };
  /**
   * Center mode: data sent this long ago (monotonic) that a center which keeps answering has
   * not confirmed is sent again from the center's position; the wait doubles each time, up to
   * 16 times. A center that does not answer at all is away, and gets nothing twice.
   */
  resendAfterSilenceMs?: number;
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
  /** Default 1. A QoS 0 batch message counts as delivered only through the format's confirm(). */
  qos?: 0 | 1;
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
  /** `retained`: the broker sent a stored message (a subscription's retained one), not a fresh publish. */
  onMessage?(session: Session, topic: string, payload: Buffer, retained: boolean): void;
  /** False holds batches back (Sparkplug: until this session's births went out). */
  canSend?(): boolean;
  /** The QoS 1 messages carrying `records`; the batch counts as delivered when all have their PUBACK. */
  encode(session: Session, records: LogRecord[], first: number): Message[];
  /**
   * Called once after a batch's messages were handed to the client; the batch also waits for
   * `done` (Sparkplug at QoS 0: a round trip proving the broker processed them).
   */
  confirm?(session: Session, done: (err?: Error) => void): void;
  /** Published (QoS 1) on a clean stop while online. */
  goodbye(): StatusMessage;
}

/** A stop's drain stops waiting for the center once it has confirmed nothing new for this long. */
const DRAIN_CENTER_QUIET_MS = 1000;

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
  private readonly o: Required<Omit<LogPublisherOptions, 'username' | 'password' | 'tls' | 'centerAck'>> &
    Pick<LogPublisherOptions, 'username' | 'password' | 'tls' | 'centerAck'>;
  /** Center mode: counts in batches acknowledged by the broker, and a resend generation. */
  private brokerAcked = 0;
  private sendGen = 0;
  /** Center mode: since when (monotonic) sent data waits for the center's confirmation. */
  private unconfirmedSince: number | null = null;
  private silenceFactor = 1;
  /**
   * Center mode: a live (not retained) confirmation for this log arrived since the last
   * (re)send. A center that answers but does not move past a point is missing data the broker
   * lost: send again. A center that does not answer at all is away: its broker queue holds the
   * data, and sending it again would only pile up copies (a crashed broker drops the
   * connection, and every reconnect sends again anyway).
   */
  private centerHeard = false;
  private warnedSilentCenter = false;
  /** Monotonic time of the last confirmation that moved the position (stop's drain). */
  private lastConfirmMono: number | null = null;
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
    this.o = {
      cursorName: 'uplink',
      random: Math.random,
      ackTimeoutMs: 30_000,
      maxReadingsPerSec: 0,
      clock: monoNow,
      ackMode: 'broker',
      resendAfterSilenceMs: 120_000,
      ...options,
    };
    if (this.o.ackMode === 'center' && !this.o.centerAck) throw new Error('ackMode "center" needs centerAck (topic, gateway, epoch)');
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
      pubacks: 0,
      pacedWaits: 0,
      readingsAcked: 0,
      reconnects: 0,
      lastError: null,
      connectedSince: null,
      nextAttemptAt: null,
      ackMode: this.o.ackMode,
      brokerAckedSeq: 0,
      centerConfirmedSeq: 0,
      resends: 0,
      readingsConfirmed: 0,
      lastCenterAckAt: null,
      logBehindCenter: 0,
    };
  }

  start(): void {
    if (this.unsubscribeLog) return;
    this.unsubscribeLog = this.o.log.onAppend(() => this.schedulePump());
    this.watchdog = setInterval(() => this.guarded('checking the link', () => this.checkLink()), Math.min(1000, this.o.ackTimeoutMs));
    this.watchdog.unref();
    this.connect();
  }

  /** The client while online, else null (births on request are only sent then). */
  onlineClient(): MqttClient | null {
    return this.session && this.st.state === 'online' ? this.session.client : null;
  }

  status(): UplinkStatus {
    const cursor = this.o.log.cursor(this.o.cursorName);
    const center = this.o.ackMode === 'center';
    return {
      ...this.st,
      ackedSeq: cursor,
      sentSeq: this.sentSeq,
      lastSeq: this.o.log.lastSeq(),
      inflight: this.inflightBatches.length,
      brokerAckedSeq: center ? Math.max(this.brokerAcked, cursor) : cursor,
      centerConfirmedSeq: center ? cursor : 0,
    };
  }

  /**
   * A link can die without a TCP error (a 4G modem that lost its carrier): an acknowledgement
   * that never comes is the sign. The periodic pump also picks up anything a wake-up missed.
   * In center mode, a center that stays silent about data already sent gets it again from
   * its own position (the broker may have lost what it acknowledged).
   */
  private checkLink(): void {
    const oldest = this.inflightBatches[0];
    const now = monoNow();
    if (this.session && this.st.state === 'online' && oldest && oldest.waiting > 0 && now - oldest.sentAt > this.o.ackTimeoutMs) {
      this.o.logger.warn({ waitingForSeq: oldest.last, ackTimeoutMs: this.o.ackTimeoutMs }, 'no PUBACK in time: reconnecting');
      this.st.lastError = 'acknowledgement timeout';
      this.onDisconnected(this.session.client);
      return;
    }
    const waitMs = this.o.resendAfterSilenceMs * this.silenceFactor;
    const stalled = this.unconfirmedSince !== null && now - this.unconfirmedSince > waitMs;
    if (this.o.ackMode === 'center' && stalled && !this.centerHeard && !this.warnedSilentCenter) {
      // Once per connection: the ingest is away, or it does not confirm (older than kedge-ack/1, or a third-party consumer).
      this.warnedSilentCenter = true;
      this.o.logger.warn(
        { confirmed: this.o.log.cursor(this.o.cursorName), sentSeq: this.sentSeq, topic: this.o.centerAck?.topic },
        'no confirmation from the center: its ingest is away or does not confirm; the log keeps everything until it does (uplink.ackMode: broker is for consumers that never confirm)',
      );
    }
    if (this.o.ackMode === 'center' && this.st.state === 'online' && stalled && this.centerHeard) {
      const from = this.o.log.cursor(this.o.cursorName);
      if (this.sentSeq > from) {
        this.o.logger.warn(
          { confirmed: from, sentSeq: this.sentSeq, waitedMs: Math.round(now - this.unconfirmedSince!) },
          'the center answers but does not confirm past its position in time: sending again from there',
        );
        this.rewind(from);
        this.silenceFactor = Math.min(16, this.silenceFactor * 2);
      } else this.unconfirmedSince = null;
    }
    this.schedulePump();
  }

  /** A resend the center asked for, applied at once while online, else at the next connect. */
  private rewindTo: number | null = null;

  /**
   * Sends everything after `seq` again (the center asked for a range it is missing; `seq`
   * must not be below what the log still holds). The ingest drops what it already has.
   */
  resendAfter(seq: number): void {
    this.rewindTo = Math.min(this.rewindTo ?? Number.POSITIVE_INFINITY, seq);
    if (this.st.state === 'online') this.applyRewind();
  }

  private applyRewind(): void {
    const to = this.rewindTo;
    this.rewindTo = null;
    if (to !== null && to < this.sentSeq) this.rewind(to);
    this.schedulePump();
  }

  /**
   * The center holds more of this epoch than the log ever wrote: the log went backwards (a
   * restored backup, lost writes). Its next readings would reuse sequences the center holds
   * with other content, and clamping the confirmation would count unsent readings delivered.
   * Said loudly; the log starts a new epoch (its unconfirmed readings renumbered and sent
   * again). A log that cannot do that gets no confirmation at all.
   */
  private onLogBehindCenter(confirmed: number, lastSeq: number, epoch: string): void {
    this.st.logBehindCenter++;
    const what = `the center confirms sequence ${confirmed} of epoch ${epoch || "''"} but the log ends at ${lastSeq}`;
    if (!this.o.log.startNewEpoch) {
      this.o.logger.error({ confirmed, lastSeq, epoch }, `${what}: the log went backwards; confirmation ignored`);
      return;
    }
    let fresh: string;
    try {
      fresh = this.o.log.startNewEpoch(`is behind the center (${what})`);
    } catch (err) {
      this.o.logger.error({ confirmed, lastSeq, epoch, err: (err as Error).message }, `${what}: the log went backwards and could not start a new epoch; confirmation ignored`);
      return;
    }
    this.o.logger.error({ confirmed, lastSeq, epoch, newEpoch: fresh }, `${what}: the log went backwards; it starts the new epoch ${fresh}`);
    this.brokerAcked = 0;
    this.rewind(this.o.log.cursor(this.o.cursorName));
    this.st.resends--;
    this.schedulePump();
  }

  /** Continue sending after `seq` (what is in flight no longer counts). */
  private rewind(seq: number): void {
    this.sendGen++;
    this.inflightBatches = [];
    this.sentSeq = seq;
    this.shortSince = null;
    this.clearTimer('delayTimer');
    this.unconfirmedSince = monoNow();
    this.centerHeard = false;
    this.st.resends++;
  }

  /** The center's confirmation: the only thing that lets the log forget in center mode. */
  private onCenterAck(payload: Buffer, retained: boolean): void {
    const expect = this.o.centerAck!;
    let ack: CenterAck;
    try {
      ack = decodeAck(payload);
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'center confirmation ignored');
      return;
    }
    // The log may have started a new epoch since (see below): its current one is what counts.
    const epoch = this.o.log.epoch?.() ?? expect.epoch;
    if (ack.gateway !== expect.gateway || ack.epoch !== epoch) {
      // A retained confirmation of an earlier log (epoch) of this box, or not ours at all.
      this.o.logger.debug({ gateway: ack.gateway, epoch: ack.epoch, expected: { ...expect, epoch } }, 'center confirmation of another log ignored');
      return;
    }
    // A retained one may be all that is left of a center that is away.
    if (!retained) this.centerHeard = true;
    const lastSeq = this.o.log.lastSeq();
    if (ack.confirmed > lastSeq) {
      this.onLogBehindCenter(ack.confirmed, lastSeq, epoch);
      return;
    }
    const confirmed = ack.confirmed;
    const before = this.o.log.cursor(this.o.cursorName);
    if (confirmed <= before) return;
    this.o.log.advance(this.o.cursorName, confirmed);
    this.st.readingsConfirmed += confirmed - before;
    this.st.lastCenterAckAt = Date.now();
    this.lastConfirmMono = monoNow();
    this.silenceFactor = 1;
    // The center may hold more than this session sent (after a reconnect): no need to send it again.
    if (this.sentSeq < confirmed) {
      this.sendGen++;
      this.inflightBatches = [];
      this.sentSeq = confirmed;
    }
    this.unconfirmedSince = this.sentSeq > confirmed ? monoNow() : null;
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
      // Center mode: the cursor is the center's position, so this resends whatever the broker
      // acknowledged but the center never confirmed (lost in a broker crash, or still queued).
      this.sentSeq = this.o.log.cursor(this.o.cursorName);
      this.inflightBatches = [];
      this.sendGen++;
      this.unconfirmedSince = null;
      this.silenceFactor = 1;
      this.centerHeard = false;
      this.warnedSilentCenter = false;
      this.o.logger.info(
        { url: this.st.url, ...this.format.connectedInfo?.(), resumeAfter: this.sentSeq, ackMode: this.o.ackMode },
        `${this.format.label} connected`,
      );
      if (this.o.centerAck) {
        client.subscribe(this.o.centerAck.topic, { qos: 1 }, (err) => {
          if (err && session.live()) this.o.logger.warn({ err: err.message, topic: this.o.centerAck!.topic }, 'subscribing to center confirmations failed');
        });
      }
      this.format.onOnline(session);
      this.applyRewind();
    });
    client.on('message', (topic, payload, packet) => {
      if (!session.live()) return;
      if (this.o.centerAck && topic === this.o.centerAck.topic) {
        this.guarded('taking the center confirmation', () => this.onCenterAck(payload, packet.retain === true));
      } else this.format.onMessage?.(session, topic, payload, packet.retain === true);
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
      this.guarded('reading the log', () => this.pump());
    });
  }

  /**
   * Runs timer and callback work: a log that cannot be read (an I/O error on a failing SD
   * card) must not crash the daemon; it is said, and retried a second later.
   */
  private guarded(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.st.lastError = `${what}: ${(err as Error).message}`;
      this.o.logger.warn({ err: (err as Error).message }, `${this.format.label}: ${what} failed; retrying`);
      if (this.st.state !== 'stopped') this.pumpIn(1000);
    }
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
        // shortSince is monotonic, so whatever the wall clock did (a reading stamped before it
        // was set back a year looks a year ahead) the wait stays within batchMaxDelayMs.
        const now = monoNow();
        this.shortSince ??= now;
        const waitMs = Math.min(this.shortSince + this.o.batchMaxDelayMs - now, records[0]!.ts + this.o.batchMaxDelayMs - Date.now());
        if (waitMs > 0) return this.pumpIn(waitMs);
      }
      const paceMs = this.bucket.take(records.length);
      if (paceMs > 0) {
        this.st.pacedWaits++;
        return this.pumpIn(paceMs);
      }
      this.shortSince = null;
      this.send(session, records);
    }
  }

  private send(session: Session, records: LogRecord[]): void {
    const first = this.sentSeq + 1;
    const last = records[records.length - 1]!.seq;
    const messages = this.format.encode(session, records, first);
    const confirm = this.format.confirm;
    const entry: InflightBatch = { last, readings: records.length, waiting: messages.length + (confirm ? 1 : 0), sentAt: monoNow() };
    this.inflightBatches.push(entry);
    this.sentSeq = last;
    if (this.o.ackMode === 'center') this.unconfirmedSince ??= entry.sentAt;
    this.o.logger.debug({ first, last }, 'batch sent');
    const gen = this.sendGen;
    const ack = (err?: Error) => {
      // After a resend from the center's position, PUBACKs of the batches before it no longer count.
      if (!session.live() || err || gen !== this.sendGen) return;
      this.st.pubacks++;
      if (--entry.waiting > 0) return;
      this.o.logger.debug({ last }, 'batch acknowledged');
      this.advanceCursor();
      this.schedulePump();
    };
    for (const m of messages) session.client.publish(m.topic, m.payload, { qos: m.qos ?? 1 }, ack);
    confirm?.call(this.format, session, ack);
    // A batch the format had nothing to send for (Sparkplug: readings of a device that is not born) is delivered as is.
    if (entry.waiting === 0 && messages.length === 0 && !confirm) {
      this.advanceCursor();
      this.schedulePump();
    }
  }

  private pumpIn(ms: number): void {
    // timerDelay: above 2^31-1 ms setTimeout fires after 1 ms, and pump() would spin.
    this.delayTimer ??= setTimeout(() => {
      this.delayTimer = null;
      this.guarded('reading the log', () => this.pump());
    }, timerDelay(ms));
  }

  private advanceCursor(): void {
    let moved = 0;
    while (this.inflightBatches[0] && this.inflightBatches[0].waiting === 0) {
      const done = this.inflightBatches.shift()!;
      moved = done.last;
      this.st.batchesAcked++;
      this.st.readingsAcked += done.readings;
    }
    if (!moved) return;
    // Center mode: a PUBACK only opens the window; the center's confirmation moves the cursor.
    if (this.o.ackMode === 'center') this.brokerAcked = Math.max(this.brokerAcked, moved);
    else this.o.log.advance(this.o.cursorName, moved);
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
    const deadline = monoNow() + drainMs;
    // Center mode: wait for the confirmation while the center keeps confirming; once the broker
    // has everything and the center has been quiet for a moment (no ingest there, or it stops
    // too), the broker's PUBACK is as far as a drain can get. The log keeps the rest anyway.
    const drained = () => {
      const last = this.o.log.lastSeq();
      if (this.o.log.cursor(this.o.cursorName) >= last) return true;
      const quiet = this.lastConfirmMono === null || monoNow() - this.lastConfirmMono > DRAIN_CENTER_QUIET_MS;
      return this.o.ackMode === 'center' && this.brokerAcked >= last && quiet;
    };
    while (monoNow() < deadline && this.st.state === 'online' && !drained()) {
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
