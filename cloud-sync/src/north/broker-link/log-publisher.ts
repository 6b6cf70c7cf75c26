import type { MqttClient } from 'mqtt';
import type { LogSource } from '../log-source.ts';
import type { UplinkLogger } from '../sink.ts';
import type { AckMode, BrokerLinkStatus } from './link.ts';
import { TransportSink } from '../transport-sink.ts';
import { MqttTransport, type PublisherFormat } from './mqtt-transport.ts';

export type { Message, PublisherFormat, Session, StatusMessage } from './mqtt-transport.ts';

export type { UplinkLogger } from '../sink.ts';
export type { AckMode } from './link.ts';

/** The status of an MQTT-family sink: a broker link's (./link.ts). */
export type UplinkStatus = BrokerLinkStatus;

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
  /** 4 (MQTT 3.1.1, default) or 5 (topic aliases, the broker's Receive Maximum; mqtt-transport.ts). */
  protocolVersion?: 4 | 5 | undefined;
  /** Each connection attempt's mqtt.js client, before it connects (tests watch its packets). */
  onClient?: (client: MqttClient) => void;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  logger: UplinkLogger;
  /** A batch without PUBACK for this long means a dead link: reconnect and resend from the cursor. */
  ackTimeoutMs?: number;
  /** Token-bucket pace of the backlog, in readings per second; 0 or absent = unlimited. Live data is never paced. */
  maxReadingsPerSec?: number;
  /** Live first after a reconnect with a backlog (default true; north/window.ts). */
  liveFirst?: boolean;
  /** A full fresh batch is sent inside the log's append (default true; TransportSinkOptions.sendAtCommit). */
  sendAtCommit?: boolean;
  /** A backlog whose oldest reading is older than this starts live-first without a reconnect. */
  liveFirstAfterMs?: number;
  /** Share of the in-flight slots the backlog may hold while live-first runs (default 0.8). */
  backlogShare?: number;
  /**
   * Fleet-wide spreading (default 0 = off): this box's own random offset in [0, spread), added
   * to the first attempt after each drop (backoff.ts spreadDelay).
   */
  reconnectSpreadMs?: number;
  /** Monotonic clock (ms) of the pace (cloud-sync/src/clock.ts); tests freeze it. */
  clock?: () => number;
  cursorName?: string;
  random?: () => number;
  /**
   * 'broker' (default here, and for Sparkplug hosts and other third-party consumers): the
   * cursor moves on PUBACK. 'center': it moves only when the center confirms (centerAck).
   */
  ackMode?: AckMode;
  /** The gateway id the wire batches carry (the format may ignore it: Sparkplug). */
  gateway?: string;
  /** Center mode: the topic the confirmations arrive on, and whose log (gateway, epoch) they must name. */
  centerAck?: { topic: string; gateway: string; epoch: string };
  /**
   * Center mode: data sent this long ago (monotonic) that a center which keeps answering has
   * not confirmed is sent again from the center's position; the wait doubles each time, up to
   * 16 times. A center that does not answer at all is away, and gets nothing twice.
   */
  resendAfterSilenceMs?: number;
}

/**
 * An MQTT sink as every sink is built: the generic driver (../transport-sink.ts: the window
 * over the log, cursor, ack timeout, resend after silence, reconnect backoff) over the MQTT
 * transport (./mqtt-transport.ts: session, Will, births, PUBACKs, the center's confirmations)
 * with a wire format plugged into it. It keeps the MQTT sinks' options and status shape.
 */
export class LogPublisher {
  private readonly transport: MqttTransport;
  private readonly sink: TransportSink;
  private readonly ackMode: AckMode;

  constructor(options: LogPublisherOptions, format: PublisherFormat) {
    const o = {
      cursorName: 'uplink',
      ackTimeoutMs: 30_000,
      ackMode: 'broker' as AckMode,
      resendAfterSilenceMs: 120_000,
      ...options,
    };
    if (o.ackMode === 'center' && !o.centerAck) throw new Error('ackMode "center" needs centerAck (topic, gateway, epoch)');
    this.ackMode = o.ackMode;
    const centerAck = o.centerAck;
    this.transport = new MqttTransport(
      {
        url: o.url,
        clientId: o.clientId,
        username: o.username,
        password: o.password,
        tls: o.tls,
        keepaliveSec: o.keepaliveSec,
        ...(o.protocolVersion !== undefined ? { protocolVersion: o.protocolVersion } : {}),
        onClient: o.onClient,
        // A connect attempt into a blackholed link must not hold the uplink longer than a lost PUBACK would.
        connectTimeoutMs: Math.max(5_000, Math.min(15_000, o.ackTimeoutMs)),
        logger: o.logger,
        ...(centerAck ? { centerAck: { topic: centerAck.topic, gateway: centerAck.gateway, epoch: () => o.log.epoch?.() ?? centerAck.epoch } } : {}),
      },
      // The connected line names the MQTT sinks' own ack modes ('broker', 'center').
      { ...format, connectedInfo: () => ({ ...format.connectedInfo?.(), ackMode: o.ackMode }) },
    );
    this.sink = new TransportSink(
      {
        log: o.log,
        cursorName: o.cursorName,
        gateway: o.gateway ?? centerAck?.gateway ?? '',
        batchMaxReadings: o.batchMaxReadings,
        batchMaxDelayMs: o.batchMaxDelayMs,
        inflight: o.inflight,
        maxReadingsPerSec: o.maxReadingsPerSec ?? 0,
        liveFirst: o.liveFirst ?? true,
        liveFirstAfterMs: o.liveFirstAfterMs ?? 30_000,
        ...(o.sendAtCommit === false ? { sendAtCommit: false } : {}),
        backlogShare: o.backlogShare ?? 0.8,
        ...(o.clock ? { clock: o.clock } : {}),
        ackMode: o.ackMode === 'center' ? 'confirm' : 'delivery',
        ackTimeoutMs: o.ackTimeoutMs,
        reconnectMinMs: o.reconnectMinMs,
        reconnectMaxMs: o.reconnectMaxMs,
        reconnectSpreadMs: o.reconnectSpreadMs ?? 0,
        ...(o.random ? { random: o.random } : {}),
        logger: o.logger,
        resendAfterSilenceMs: o.resendAfterSilenceMs,
        beyondLog: 'newEpoch',
        texts: {
          ackTimeout: 'no PUBACK in time: reconnecting',
          resend: 'the center answers but does not confirm past its position in time: sending again from there',
          silent:
            'no confirmation from the center: its ingest is away or does not confirm; the log keeps everything until it does (uplink.ackMode: broker is for consumers that never confirm)',
        },
      },
      this.transport,
    );
  }

  start(): void {
    this.sink.start();
  }

  /** The client while online, else null (births on request are only sent then). */
  onlineClient(): MqttClient | null {
    return this.sink.online() ? this.transport.onlineClient() : null;
  }

  /**
   * Sends everything after `seq` again (the center asked for a range it is missing; `seq`
   * must not be below what the log still holds). The ingest drops what it already has.
   */
  resendAfter(seq: number): void {
    this.sink.resendAfter(seq);
  }

  status(): UplinkStatus {
    const s = this.sink.status();
    const center = this.ackMode === 'center';
    return {
      state: s.state,
      url: s.url,
      ackedSeq: s.ackedSeq,
      sentSeq: s.sentSeq,
      lastSeq: s.lastSeq,
      inflight: s.inflight,
      batchesAcked: s.batchesAcked,
      pubacks: this.transport.pubacks,
      pacedWaits: s.window.pacedWaits,
      window: s.window,
      readingsAcked: s.readingsAcked,
      reconnects: s.reconnects,
      lastError: s.lastError,
      connectedSince: s.connectedSince,
      nextAttemptAt: s.nextAttemptAt,
      ackMode: this.ackMode,
      brokerAckedSeq: center ? s.deliveredSeq : s.ackedSeq,
      centerConfirmedSeq: center ? s.ackedSeq : 0,
      resends: s.resends,
      readingsConfirmed: s.readingsConfirmed,
      lastCenterAckAt: s.lastConfirmAt,
      logBehindCenter: s.logBehind,
    };
  }

  /**
   * Gives the uplink up to `drainMs` to deliver what is already logged (a maintenance restart
   * should not leave the last seconds behind), publishes the goodbye when connected, and
   * disconnects. Whatever is not delivered stays in the log for the next start.
   */
  stop(drainMs = 0): Promise<void> {
    return this.sink.stop(drainMs);
  }
}
