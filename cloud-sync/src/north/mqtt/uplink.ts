import type { Batch, Codec } from '../../codec/index.ts';
import { topicFor, type GatewayIdentity } from '../../topics.ts';
import type { SeqRange } from '../../model.ts';
import type { ResendAnswer } from '../sink.ts';
import { LogPublisher, type LogPublisherOptions, type Session, type UplinkStatus } from '../broker-link/log-publisher.ts';

export { holes } from '../window.ts';

export type { UplinkLogger, UplinkStatus } from '../broker-link/log-publisher.ts';
export type { ResendAnswer };

export interface UplinkOptions extends LogPublisherOptions {
  identity: GatewayIdentity;
  codec: Codec;
  /** Extra fields of the retained birth message (version, point metadata...). */
  birth?: () => Record<string, unknown>;
}

/**
 * Moves the log to the broker in kedge's own format: one QoS 1 message per batch on the data
 * topic, a retained status (birth with point metadata, Will and goodbye "offline"). The session
 * rules (cursor on PUBACK only, nothing held across a disconnect) are the generic driver's
 * (../transport-sink.ts) over the MQTT transport (./mqtt-transport.ts); LogPublisher joins them.
 */
export class Uplink {
  private readonly publisher: LogPublisher;

  constructor(private readonly o: UplinkOptions) {
    const epoch = o.log.epoch?.();
    // Center mode: the log forgets only what the ingest confirms on .../ack for this log's epoch.
    const centerAck =
      o.ackMode === 'center' ? { topic: topicFor(o.identity, 'ack'), gateway: o.identity.gateway, epoch: epoch ?? '' } : undefined;
    this.publisher = new LogPublisher({ ...o, gateway: o.identity.gateway, ...(centerAck ? { centerAck } : {}) }, {
      label: 'uplink',
      // The broker publishes the Will whenever the link dies, maybe weeks after this connect: it
      // carries no time of its own (a connect-time ts would be misleading); the center stamps it on receipt.
      will: () => ({ topic: this.statusTopic, payload: this.statusPayload('offline', 'connection lost', false), retain: true }),
      onOnline: (session) => this.publishBirth(session),
      encode: (_session, batch) => [{ topic: this.dataTopic, payload: this.o.codec.encode(batch) }],
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

  /**
   * The center asks for first..last of this log again (it is missing them). What the log still
   * holds is sent again as ordinary batches (holes in it as evicted ranges); what it evicted
   * earlier goes out as evicted-only batches; what it pruned after the center had confirmed it
   * is named in the answer as no longer held.
   */
  resend(first: number, last: number): ResendAnswer {
    const log = this.o.log;
    const epoch = log.epoch?.() ?? '';
    const to = Math.min(last, log.lastSeq());
    const answer: ResendAnswer = { epoch, resent: null, evicted: [], notHeld: [], beyondLog: last > to ? { first: Math.max(first, to + 1), last } : null };
    if (first > to) return answer;
    const held = log.firstSeq?.() || log.lastSeq() + 1;
    if (to >= held) {
      const from = Math.max(first, held);
      this.publisher.resendAfter(from - 1);
      answer.resent = { first: from, last: to };
    }
    if (first < held) {
      const below: SeqRange = { first, last: Math.min(to, held - 1) };
      answer.evicted = (log.evictedRanges?.() ?? [])
        .filter((e) => e.last >= below.first && e.first <= below.last)
        .map((e) => ({ first: Math.max(e.first, below.first), last: Math.min(e.last, below.last) }));
      let from = below.first;
      for (const e of answer.evicted) {
        if (e.first > from) answer.notHeld.push({ first: from, last: e.first - 1 });
        from = e.last + 1;
      }
      if (from <= below.last) answer.notHeld.push({ first: from, last: below.last });
      const client = this.publisher.onlineClient();
      for (const e of answer.evicted) {
        const batch: Batch = { gateway: this.o.identity.gateway, ...(epoch ? { epoch } : {}), first: e.first, last: e.last, evicted: [e], readings: [] };
        client?.publish(this.dataTopic, this.o.codec.encode(batch), { qos: 1 });
      }
    }
    return answer;
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

  private statusPayload(state: 'online' | 'offline', reason?: string, stamped = true): string {
    const epoch = this.o.log.epoch?.();
    return JSON.stringify({
      state,
      gateway: this.o.identity.gateway,
      ...(epoch ? { epoch } : {}),
      region: this.o.identity.region,
      municipality: this.o.identity.municipality,
      ...(stamped ? { ts: Date.now() } : {}),
      ...(reason ? { reason } : {}),
      ...(state === 'online' ? (this.o.birth?.() ?? {}) : {}),
    });
  }
}
