import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { detectCodec, type Batch } from '../codec/index.ts';
import { filterFor, parseTopic, type GatewayIdentity } from '../topics.ts';
import type { SeqRange } from '../model.ts';
import type { IngestSink, StoreResult } from './sink.ts';

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
  username?: string;
  password?: string;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean };
}

export interface IngestEvents {
  batch: [id: GatewayIdentity, batch: Batch, result: StoreResult];
  gap: [gateway: string, gap: SeqRange];
  status: [id: GatewayIdentity, status: Record<string, unknown>];
  rejected: [topic: string, error: string];
}

/**
 * The center side of the uplink: subscribes to every gateway's data and status topics,
 * stores each batch, and only then lets mqtt.js send the PUBACK, so the broker redelivers
 * anything we had not committed when we crashed. Each payload's codec is detected from its
 * first bytes, so a fleet can change codecs gateway by gateway.
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
        () => done(),
        (err: Error) => {
          // Not acknowledged: the broker will deliver it again.
          this.o.logger.error({ err: err.message, topic: packet.topic }, 'ingest could not store a message');
          done(err);
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
    if (batch.first > result.previousMax + 1) {
      const gap = { first: result.previousMax + 1, last: batch.first - 1 };
      this.o.logger.warn({ gateway: id.gateway, ...gap }, 'sequence gap: readings missing before this batch');
      this.emit('gap', id.gateway, gap);
    }
    this.emit('batch', id, batch, result);
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
    this.emit('status', id, status);
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
    if (client) await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
  }
}
