import type { Batch, Codec } from '../codec/index.ts';
import { topicFor, type GatewayIdentity } from '../topics.ts';
import type { LogRecord } from '../model.ts';
import { LogPublisher, type LogPublisherOptions, type Session, type UplinkStatus } from './log-publisher.ts';

export type { UplinkLogger, UplinkStatus } from './log-publisher.ts';

export interface UplinkOptions extends LogPublisherOptions {
  identity: GatewayIdentity;
  codec: Codec;
  /** Extra fields of the retained birth message (version, point metadata...). */
  birth?: () => Record<string, unknown>;
}

/**
 * Moves the log to the broker in kedge's own format: one QoS 1 message per batch on the data
 * topic, a retained status (birth with point metadata, Will and goodbye "offline"). The session
 * rules (cursor on PUBACK only, nothing held across a disconnect) live in LogPublisher.
 */
export class Uplink {
  private readonly publisher: LogPublisher;

  constructor(private readonly o: UplinkOptions) {
    this.publisher = new LogPublisher(o, {
      label: 'uplink',
      will: () => ({ topic: this.statusTopic, payload: this.statusPayload('offline', 'connection lost'), retain: true }),
      onOnline: (session) => this.publishBirth(session),
      encode: (_session, records, first) => [{ topic: this.dataTopic, payload: this.encode(records, first) }],
      goodbye: () => ({ topic: this.statusTopic, payload: this.statusPayload('offline', 'shutdown'), retain: true }),
    });
  }

  get dataTopic(): string {
    return topicFor(this.o.identity, 'data');
  }

  get statusTopic(): string {
    return topicFor(this.o.identity, 'status');
  }

  start(): void {
    this.publisher.start();
  }

  /**
   * Publishes the retained birth (status online with point metadata) again, e.g. when the
   * center asks after losing its state. False when offline: the next connect sends it anyway.
   */
  rebirth(): boolean {
    const client = this.publisher.onlineClient();
    if (!client) return false;
    client.publish(this.statusTopic, this.statusPayload('online'), { qos: 1, retain: true });
    return true;
  }

  status(): UplinkStatus {
    return this.publisher.status();
  }

  /**
   * Gives the uplink up to `drainMs` to deliver what is already logged (a maintenance restart
   * should not leave the last seconds behind), publishes the retained offline status when
   * connected, and disconnects. Whatever is not delivered stays in the log for the next start.
   */
  stop(drainMs = 0): Promise<void> {
    return this.publisher.stop(drainMs);
  }

  private publishBirth(session: Session): void {
    session.client.publish(this.statusTopic, this.statusPayload('online'), { qos: 1, retain: true }, (err) => {
      if (err && session.live()) this.o.logger.warn({ err: err.message }, 'birth message not acknowledged');
    });
  }

  private encode(records: LogRecord[], first: number): Buffer {
    const batch: Batch = {
      gateway: this.o.identity.gateway,
      first,
      last: records[records.length - 1]!.seq,
      // The log only loses a prefix of unsent rows (size-cap eviction), so a hole after the
      // position already sent is exactly what was evicted.
      evicted: records[0]!.seq > first ? [{ first, last: records[0]!.seq - 1 }] : [],
      readings: records,
    };
    return this.o.codec.encode(batch);
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
}
