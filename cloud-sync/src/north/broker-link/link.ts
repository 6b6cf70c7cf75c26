/**
 * The shapes every broker-linked sink shares (SinkDefinition.brokerLink: kedge mqtt, Sparkplug,
 * any later one), declared once and structurally: a new broker sink satisfies them by building
 * its schema from `brokerShape` (./shape.ts) and its session from `sessionOptions`, with no edit
 * of a union here, in sink.ts or in the gateway.
 *
 * Types only: importing this file loads nothing.
 */
import type { z } from 'zod';
import type { SinkStatusBase } from '../sink.ts';
import type { brokerShape } from './shape.ts';

/**
 * One broker-linked `uplinks:` entry after defaults, as far as the link is concerned: its kind,
 * its name (its log cursor) and the broker fields of ./shape.ts. Every entry whose schema
 * spreads `brokerShape` is one; the gateway's `config.uplink` (the center's link) is the first.
 */
export type BrokerSinkBase = { kind: string; name: string } & z.output<z.ZodObject<typeof brokerShape>>;

/**
 * How to reach a broker, secret files read: what every MQTT client of the box connects with —
 * the broker-linked sinks (NorthContext.brokerConnection), and in the gateway the command
 * downlink (`-cmd`), the OTA agent (`-ota`) and the UI's connection test (`-test-…`), all built
 * by gateway/src/mqtt-connection.ts so secret files are read the same way for each.
 */
export interface BrokerConnection {
  url: string;
  clientId: string;
  username: string | undefined;
  password: string | undefined;
  tls: { ca: Buffer | undefined; cert: Buffer | undefined; key: Buffer | undefined; rejectUnauthorized: boolean | undefined } | undefined;
  keepaliveSec: number;
  /**
   * The sink's MQTT version (4 = 3.1.1, 5). Only the sinks use it (LogPublisher); the
   * downlink, OTA and connection-test clients (mqttClientOptions) stay on 3.1.1.
   */
  protocolVersion?: 4 | 5 | undefined;
}

/** Who lets the log forget: the center's confirmation, or (third-party consumers) the broker's PUBACK. */
export type AckMode = 'center' | 'broker';

/**
 * The status of a broker-linked sink (LogPublisher.status()): the base every sink reports, plus
 * the two positions of the link. The center's link (the gateway's primary uplink) reports these;
 * /healthz and the metrics read them, and treat them as absent for a sink without them.
 */
export interface BrokerLinkStatus extends SinkStatusBase {
  /** Acknowledgements of data messages received (PUBACKs, or a format's own delivery proof), in whatever order they came. */
  pubacks: number;
  /** Times the pump held a backlog batch back because the pace (token bucket) did not allow it yet. */
  pacedWaits: number;
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
