import { sinkCodecByName } from '../../codec/sink-codecs.ts';
import type { LogSource } from '../log-source.ts';
import type { NorthContext, NorthSink } from '../sink.ts';
import { TransportSink, type TransportSinkLogger } from '../transport-sink.ts';
import { HttpTransport, type HttpLogger } from './http-transport.ts';
import type { HttpSinkConfig } from './schema.ts';

/** What the gateway hands the HTTP sink: the log, its id, a logger, and the secrets it read. */
export interface HttpSinkContext {
  log: LogSource;
  gateway: string;
  logger: TransportSinkLogger & HttpLogger;
  /** The token of `tokenFile` (read by the gateway from the secrets folders, mode checked). */
  bearerToken?: string | undefined;
  /** The PEM files of `tls`, read the same way. */
  tls?: { ca?: Buffer | undefined; cert?: Buffer | undefined; key?: Buffer | undefined; rejectUnauthorized?: boolean | undefined } | undefined;
}

/**
 * The HTTP sink of one `uplinks:` entry as the gateway builds it (http/index.ts, on create): the
 * token and TLS files read through the context (the secrets folders only, modes checked).
 */
export function createHttpSinkFrom(c: HttpSinkConfig, ctx: NorthContext): NorthSink {
  const read = (path: string | undefined, secret = false) => (path ? ctx.readSecret(path, { secret }) : undefined);
  return createHttpSink(c, {
    log: ctx.log,
    gateway: ctx.gateway.id,
    logger: ctx.logger,
    bearerToken: read(c.tokenFile, true)?.toString('utf8').trim(),
    tls: c.tls ? { ca: read(c.tls.ca), cert: read(c.tls.cert), key: read(c.tls.key, true), rejectUnauthorized: c.tls.rejectUnauthorized } : undefined,
  });
}

/**
 * An HTTP(S) POST sink: the shared window and driver (north/transport-sink.ts) over HttpTransport.
 * Its cursor is its name; it moves only on a 2xx; anything else is sent again after a backoff.
 */
export function createHttpSink(c: HttpSinkConfig, ctx: HttpSinkContext): TransportSink {
  const transport = new HttpTransport({
    url: c.url,
    codec: sinkCodecByName(c.codec),
    timeoutMs: c.timeoutMs,
    bearerToken: ctx.bearerToken,
    tls: ctx.tls,
    headers: c.headers,
    refusedRetryMs: c.refusedRetryMs,
    maxRetryAfterMs: c.maxRetryAfterMs,
    logger: ctx.logger,
  });
  return new TransportSink(
    {
      log: ctx.log,
      cursorName: c.name,
      gateway: ctx.gateway,
      batchMaxReadings: c.batchMaxReadings,
      batchMaxDelayMs: c.batchMaxDelayMs,
      inflight: c.inflight,
      maxReadingsPerSec: c.maxReadingsPerSec,
      liveFirst: c.liveFirst,
      liveFirstAfterMs: c.liveFirstAfterMs,
      backlogShare: c.backlogShare,
      // The request's own timeout fails it first; the watchdog only catches what that misses.
      ackTimeoutMs: Math.max(c.ackTimeoutMs, c.timeoutMs + 1000),
      reconnectMinMs: c.reconnectMinMs,
      reconnectMaxMs: c.reconnectMaxMs,
      reconnectSpreadMs: c.reconnectSpreadMs,
      logger: ctx.logger,
    },
    transport,
  );
}
