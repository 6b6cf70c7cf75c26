import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { detectCodec, type Batch } from '../codec/index.ts';
import { filterFor, parseTopic, topicFor, type GatewayIdentity } from '../topics.ts';
import type { SeqRange } from '../model.ts';
import type { EpochChange, IngestSink, StoreResult } from './sink.ts';
import { encodeAck } from '../center-ack.ts';
import { backoffCeiling } from '../backoff.ts';

export interface IngestLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface IngestOptions {
  url: string;
  /** Fixed so the broker keeps our session (and queues QoS 1 messages) while we are away. */
  clientId: string;
  prefix: string;
  store: IngestSink;
  logger: IngestLogger;
  /**
   * Several ingest processes with the same group split the data feed between them (MQTT 5
   * shared subscription `$share/<group>/...`); status messages still reach every one.
   */
  shareGroup?: string;
  /**
   * Publish the center's confirmation (kedge-ack/1, retained) to each gateway after every
   * durable commit, so gateways forget only what the center holds. Default true; off for an
   * ingest that shares a broker with another center-side consumer that confirms.
   */
  confirm?: boolean;
  /**
   * After a store error (the message is not acknowledged) the ingest reconnects so the broker
   * delivers it again (an MQTT broker resends unacknowledged messages only on a new
   * connection): first after storeRetryMinMs, doubling up to storeRetryMaxMs while it fails.
   */
  storeRetryMinMs?: number;
  storeRetryMaxMs?: number;
  username?: string;
  password?: string;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean };
}

export interface IngestEvents {
  batch: [id: GatewayIdentity, batch: Batch, result: StoreResult];
  gap: [gateway: string, gap: SeqRange];
  status: [id: GatewayIdentity, status: Record<string, unknown>];
  rejected: [topic: string, error: string];
  /** A gateway's log was recreated: a new epoch, with what the center held of the old one. */
  epoch: [change: EpochChange];
  /** The confirmation published to a gateway (after its broker PUBACK). */
  confirmed: [id: GatewayIdentity, epoch: string, confirmed: number];
  /** A gateway replaced a damaged log: these sequences of the old epoch will never arrive. */
  unrecoverable: [id: GatewayIdentity, epoch: string, ranges: SeqRange[]];
}

/** How long stop() waits for confirmations in flight. */
const STOP_ACK_WAIT_MS = 2000;

/**
 * The center side of the uplink: subscribes to every gateway's data and status topics,
 * stores each batch durably, and only then lets mqtt.js send the PUBACK (so the broker
 * redelivers anything we had not committed when we crashed) and publishes the gateway's
 * confirmed position (so the gateway forgets only what we hold). Each payload's codec is
 * detected from its first bytes, so a fleet can change codecs gateway by gateway.
 */
export class IngestConsumer extends EventEmitter<IngestEvents> {
  private client: MqttClient | null = null;
  private readonly o: IngestOptions;
  counters = { batches: 0, inserted: 0, duplicates: 0, rejected: 0 };

  constructor(options: IngestOptions) {
    super();
    this.o = options;
  }

  start(): Promise<void> {
    const shared = this.o.shareGroup !== undefined;
    const opts: IClientOptions = {
      clientId: this.o.clientId,
      clean: false,
      // Shared subscriptions are MQTT 5; a v5 session outlives the connection only with an expiry.
      protocolVersion: shared ? 5 : 4,
      ...(shared ? { properties: { sessionExpiryInterval: 7 * 24 * 3600 } } : {}),
      reconnectPeriod: 2000,
      username: this.o.username,
      password: this.o.password,
      ...(this.o.tls ?? {}),
    };
    const client = mqtt.connect(this.o.url, opts);
    this.client = client;
    client.handleMessage = (packet, done) => {
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      this.handle(packet.topic, payload).then(
        () => {
          this.storeFailures = 0;
          done();
        },
        (err: Error) => {
          // Not acknowledged; the broker delivers it again on the next connection, which
          // the retry below makes (else it would wait for a reconnect that may never come).
          this.o.logger.error({ err: err.message, topic: packet.topic }, 'ingest could not store a message');
          done(err);
          this.scheduleStoreRetry(client);
        },
      );
    };
    client.on('error', (err) => this.o.logger.warn({ err: err.message }, 'ingest mqtt error'));
    client.on('offline', () => this.o.logger.warn({ url: this.o.url }, 'ingest offline'));
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      client.once('error', onError);
      client.on('connect', (connack) => {
        client.off('error', onError);
        if (connack.sessionPresent) {
          this.o.logger.info({ url: this.o.url, prefix: this.o.prefix }, 'ingest connected: the broker kept its session and queue');
          resolve();
          return;
        }
        const data = filterFor(this.o.prefix, 'data');
        client.subscribe(
          [shared ? `$share/${this.o.shareGroup}/${data}` : data, filterFor(this.o.prefix, 'status')],
          { qos: 1 },
          (err) => {
            if (err) {
              this.o.logger.error({ err: err.message }, 'ingest subscribe failed');
              reject(err);
            } else {
              this.o.logger.info({ url: this.o.url, prefix: this.o.prefix }, 'ingest subscribed');
              resolve();
            }
          },
        );
      });
    });
  }

  private storeFailures = 0;
  private storeRetryTimer: NodeJS.Timeout | null = null;
  /** Reconnects made after store errors (so the broker delivered again). */
  storeRetries = 0;

  private scheduleStoreRetry(client: MqttClient): void {
    this.storeFailures++;
    if (this.storeRetryTimer) return;
    const min = this.o.storeRetryMinMs ?? 1000;
    const max = this.o.storeRetryMaxMs ?? 30_000;
    const delay = backoffCeiling(this.storeFailures - 1, min, max);
    this.storeRetryTimer = setTimeout(() => {
      this.storeRetryTimer = null;
      if (this.client !== client) return;
      this.storeRetries++;
      this.o.logger.warn({ failures: this.storeFailures, delayMs: delay }, 'ingest reconnects so the broker delivers again what it could not store');
      client.end(true, {}, () => {
        if (this.client === client) client.reconnect();
      });
    }, delay);
    this.storeRetryTimer.unref();
  }

  private async handle(topic: string, payload: Buffer): Promise<void> {
    const id = parseTopic(this.o.prefix, topic);
    if (!id) return this.reject(topic, payload, 'topic does not match <prefix>/<region>/<municipality>/<gateway>/<kind>');
    if (id.kind === 'status') return this.handleStatus(id, topic, payload);
    if (id.kind !== 'data') return this.reject(topic, payload, `unknown message kind "${id.kind}"`);
    let batch: Batch;
    try {
      batch = detectCodec(payload).decode(payload);
    } catch (err) {
      return this.reject(topic, payload, (err as Error).message);
    }
    if (batch.gateway !== id.gateway) {
      return this.reject(topic, payload, `payload gateway "${batch.gateway}" does not match topic gateway "${id.gateway}"`);
    }
    const result = await this.o.store.storeBatch(id, batch);
    this.counters.batches++;
    this.counters.inserted += result.inserted;
    this.counters.duplicates += result.duplicates;
    if (result.epochChange) {
      const c = result.epochChange;
      this.o.logger.warn(
        { gateway: id.gateway, previousEpoch: c.previousEpoch, previousLastSeq: c.previousLastSeq, previousConfirmed: c.previousConfirmed, epoch: c.epoch },
        `gateway ${id.gateway} started a new log (epoch ${c.epoch}): the old epoch ${c.previousEpoch || '(none)'} ends at sequence ${c.previousLastSeq} here, held without a hole up to ${c.previousConfirmed}`,
      );
      this.emit('epoch', c);
    }
    // A live batch's sequences are ahead of the backlog by design: what lies between is not
    // yet received (the store's notYetReceived), not a gap. previousMax reaches over a live run
    // the backlog lane resumes behind after the lanes merge, so that is no gap either.
    if (!batch.live && batch.first > result.previousMax + 1) {
      const gap = { first: result.previousMax + 1, last: batch.first - 1 };
      this.o.logger.warn({ gateway: id.gateway, epoch: result.epoch, ...gap }, 'sequence gap: readings missing before this batch');
      this.emit('gap', id.gateway, gap);
    }
    // The commit above is durable: now the gateway may forget what it covers.
    this.confirmTo(id, result.epoch, result.confirmed);
    this.emit('batch', id, batch, result);
  }

  /** Latest confirmation per ack topic still to publish, and the topics with one in flight. */
  private readonly acksDue = new Map<string, { id: GatewayIdentity; epoch: string; confirmed: number }>();
  private readonly acksInFlight = new Set<string>();

  /**
   * Publishes the confirmation, retained (a gateway that reconnects while the ingest is away
   * still learns the position). One in flight per gateway; a newer one replaces a waiting one.
   */
  private confirmTo(id: GatewayIdentity, epoch: string, confirmed: number): void {
    const client = this.client;
    if (this.o.confirm === false || !client) return;
    const topic = topicFor(id, 'ack');
    this.acksDue.set(topic, { id, epoch, confirmed });
    if (this.acksInFlight.has(topic)) return;
    const next = () => {
      const due = this.acksDue.get(topic);
      if (!due || this.client !== client) {
        this.acksInFlight.delete(topic);
        return;
      }
      this.acksDue.delete(topic);
      this.acksInFlight.add(topic);
      const payload = encodeAck({ gateway: due.id.gateway, epoch: due.epoch, confirmed: due.confirmed });
      client.publish(topic, payload, { qos: 1, retain: true }, (err) => {
        if (err) this.o.logger.warn({ err: err.message, topic }, 'center confirmation not published (sent again with the next batch or birth)');
        else this.emit('confirmed', due.id, due.epoch, due.confirmed);
        next();
      });
    };
    next();
  }

  private async handleStatus(id: GatewayIdentity, topic: string, payload: Buffer): Promise<void> {
    if (payload.length === 0) return; // a cleared retained message
    let status: Record<string, unknown>;
    try {
      status = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
      if (typeof status !== 'object' || status === null || typeof status.state !== 'string') throw new Error('no "state" field');
    } catch (err) {
      return this.reject(topic, payload, `bad status message: ${(err as Error).message}`);
    }
    await this.o.store.recordStatus(id, status.state as string, payload.toString('utf8'));
    // A gateway coming online learns where the center stands for its epoch, even when the
    // retained confirmation was lost with a broker crash.
    if (status.state === 'online' && this.o.store.confirmed) {
      const epoch = typeof status.epoch === 'string' ? status.epoch : '';
      this.confirmTo(id, epoch, await this.o.store.confirmed(id.gateway, epoch));
    }
    if (status.state === 'online') await this.recordLostTail(id, status);
    this.emit('status', id, status);
  }

  /**
   * A birth naming a replaced log (`log.previous`: its epoch, last sequence and what the
   * center had confirmed of it) whose tail the box could not send: recorded as missing and
   * unrecoverable, and said loudly, so it is a visible gap rather than silence.
   */
  private async recordLostTail(id: GatewayIdentity, status: Record<string, unknown>): Promise<void> {
    const log = status.log as { previous?: unknown } | undefined;
    const p = log && typeof log === 'object' ? (log.previous as Record<string, unknown> | undefined) : undefined;
    if (!p || typeof p !== 'object' || !this.o.store.recordUnrecoverable) return;
    const { epoch, lastSeq, confirmed } = p;
    if (typeof epoch !== 'string' || !Number.isSafeInteger(lastSeq) || !Number.isSafeInteger(confirmed)) {
      this.o.logger.warn({ gateway: id.gateway, previous: p }, 'birth names a replaced log in a form not understood; ignored');
      return;
    }
    const fresh = await this.o.store.recordUnrecoverable(id.gateway, epoch, confirmed as number, lastSeq as number);
    if (fresh.length > 0) {
      this.o.logger.error(
        { gateway: id.gateway, epoch, ranges: fresh },
        `gateway ${id.gateway} replaced a damaged log: sequences ${fresh.map((f) => `${f.first}-${f.last}`).join(', ')} of epoch ${epoch || '(none)'} were never received and are unrecoverable from the box`,
      );
      this.emit('unrecoverable', id, epoch, fresh);
    }
  }

  private async reject(topic: string, payload: Buffer, error: string): Promise<void> {
    this.counters.rejected++;
    await this.o.store.reject(topic, payload, error);
    this.o.logger.warn({ topic, error, bytes: payload.length }, 'ingest rejected a message (kept in the rejected table)');
    this.emit('rejected', topic, error);
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (this.storeRetryTimer) clearTimeout(this.storeRetryTimer);
    this.storeRetryTimer = null;
    if (!client) return;
    // A confirmation still in flight gets a moment; a broker already gone must not hold the
    // stop forever (end() without force waits for in-flight QoS 1 messages).
    const deadline = Date.now() + STOP_ACK_WAIT_MS;
    while (this.acksInFlight.size > 0 && client.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const force = this.acksInFlight.size > 0 || !client.connected;
    await new Promise<void>((resolve) => client.end(force, {}, () => resolve()));
  }
}
