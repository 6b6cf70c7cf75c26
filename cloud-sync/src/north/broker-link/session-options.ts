import type { NorthContext } from '../sink.ts';
import type { LogPublisherOptions } from './log-publisher.ts';
import type { BrokerSinkBase } from './link.ts';

/**
 * The MQTT session settings every MQTT-family sink (kedge mqtt, Sparkplug) builds its
 * LogPublisher from: the broker connection (secrets read through the context, the client id
 * unique per sink), the window and reconnect pacing of its entry, its cursor (its name) and
 * its logger.
 */
export function sessionOptions(u: BrokerSinkBase, ctx: NorthContext): LogPublisherOptions {
  return {
    log: ctx.log,
    cursorName: u.name,
    ...ctx.brokerConnection(u),
    batchMaxReadings: u.batchMaxReadings,
    batchMaxDelayMs: u.batchMaxDelayMs,
    inflight: u.inflight,
    ackTimeoutMs: u.ackTimeoutMs,
    reconnectMinMs: u.reconnectMinMs,
    reconnectMaxMs: u.reconnectMaxMs,
    reconnectSpreadMs: u.reconnectSpreadMs,
    maxReadingsPerSec: u.maxReadingsPerSec,
    liveFirst: u.liveFirst,
    liveFirstAfterMs: u.liveFirstAfterMs,
    backlogShare: u.backlogShare,
    logger: ctx.logger,
  };
}
