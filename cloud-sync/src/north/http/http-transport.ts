import http from 'node:http';
import https from 'node:https';
import type { Batch, Codec } from '../../codec/index.ts';
import { redactUrl } from '../../redact.ts';
import type { SendResult, SinkTransport, TransportEvents } from '../transport.ts';

export interface HttpLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface HttpTransportOptions {
  /** http:// or https:// endpoint that takes one batch per POST. */
  url: string;
  /** Encodes the body; its contentType is the request's Content-Type. */
  codec: Codec;
  /** A request without a response status this long (connect included) has failed. */
  timeoutMs: number;
  /** Sent as `Authorization: Bearer <token>` (read from a secret file by the gateway). */
  bearerToken?: string | undefined;
  /** CA to trust, client certificate and key (mutual TLS). */
  tls?: { ca?: Buffer | undefined; cert?: Buffer | undefined; key?: Buffer | undefined; rejectUnauthorized?: boolean | undefined } | undefined;
  /** Extra request headers (a receiver's API key header, a tenant id). */
  headers?: Record<string, string> | undefined;
  /**
   * After a refusal (a 4xx other than 408/429: a wrong token, a wrong path, a body the receiver
   * rejects) the next attempt waits this long: the data stays in the log, and hammering an
   * endpoint that refuses helps nobody.
   */
  refusedRetryMs: number;
  /** A Retry-After (429, 503) is honoured up to this long. */
  maxRetryAfterMs: number;
  /** Bytes of a response body read (and ignored) at most; a longer one is cut off. */
  maxResponseBytes?: number;
  logger: HttpLogger;
  /** Monotonic clock (ms) of hold-offs. */
  clock?: () => number;
}

/** A response body beyond this is not read: the status is all the sink needs. */
const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

/** Statuses that mean "try again" rather than "this request is wrong". */
const isTransient = (status: number): boolean => status === 408 || status === 429 || status >= 500;

/** Parses Retry-After (seconds or an HTTP date) into ms from now; undefined when absent or unreadable. */
export function retryAfterMs(header: string | undefined, nowWall = Date.now()): number | undefined {
  if (header === undefined) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowWall);
}

interface Outstanding {
  req: http.ClientRequest;
  finish: (result: SendResult) => void;
}

/**
 * One batch per HTTP(S) POST. A 2xx status is delivery (the cursor moves only then, in the
 * driver); anything else fails the send and the driver backs off and sends again from the
 * cursor, so nothing is dropped. The transport itself never retries: it only holds the next
 * attempt back after a refusal or a Retry-After.
 */
export class HttpTransport implements SinkTransport {
  readonly label = 'http uplink';
  readonly target: string;
  private readonly url: URL;
  private agent: http.Agent;
  private readonly outstanding = new Set<Outstanding>();
  /** Monotonic time before which the next connect() does not report ready. */
  private holdUntil = 0;
  private readyTimer: NodeJS.Timeout | null = null;
  /** The status last logged as a refusal, so a refusal repeated every few minutes is said once. */
  private refusedStatus: number | null = null;
  private closed = false;
  private readonly clock: () => number;
  /** Status of the last response (0: none yet). */
  lastStatus = 0;

  constructor(private readonly o: HttpTransportOptions) {
    this.url = new URL(o.url);
    if (this.url.protocol !== 'http:' && this.url.protocol !== 'https:') throw new Error(`http uplink: ${o.url} is not an http:// or https:// URL`);
    this.target = redactUrl(o.url);
    this.clock = o.clock ?? (() => performance.now());
    this.agent = this.newAgent();
  }

  private newAgent(): http.Agent {
    const tls = Object.fromEntries(Object.entries(this.o.tls ?? {}).filter(([, v]) => v !== undefined));
    return this.url.protocol === 'https:' ? new https.Agent({ keepAlive: true, ...tls }) : new http.Agent({ keepAlive: true });
  }

  connect(events: TransportEvents): void {
    if (this.closed) return;
    // No link to open: the first POST is the probe. Held back after a refusal or a Retry-After.
    const wait = Math.max(0, this.holdUntil - this.clock());
    this.readyTimer = setTimeout(() => {
      this.readyTimer = null;
      if (!this.closed) events.ready();
    }, wait);
  }

  send(batch: Batch, done: (result: SendResult) => void): number {
    const body = this.o.codec.encode(batch);
    const headers: Record<string, string> = {
      ...this.o.headers,
      'content-type': this.o.codec.contentType,
      'content-length': String(body.length),
      // A receiver may dedupe on it: the same batch sent again after a lost response carries the same key.
      'idempotency-key': `${batch.gateway}:${batch.epoch ?? ''}:${batch.first}-${batch.last}${batch.live ? ':live' : ''}`,
      ...(this.o.bearerToken !== undefined ? { authorization: `Bearer ${this.o.bearerToken}` } : {}),
    };
    const lib = this.url.protocol === 'https:' ? https : http;
    let finished = false;
    const entry: Outstanding = { req: undefined as unknown as http.ClientRequest, finish: () => {} };
    const finish = (result: SendResult) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      this.outstanding.delete(entry);
      done(result);
    };
    entry.finish = finish;
    const req = lib.request(this.url, { method: 'POST', agent: this.agent, headers }, (res) => this.onResponse(res, finish));
    entry.req = req;
    this.outstanding.add(entry);
    const timer = setTimeout(() => {
      finish({ ok: false, error: `no response within ${this.o.timeoutMs} ms` });
      req.destroy();
    }, this.o.timeoutMs);
    req.on('error', (err) => finish({ ok: false, error: describeError(err) }));
    req.end(body);
    return body.length;
  }

  private onResponse(res: http.IncomingMessage, finish: (r: SendResult) => void): void {
    const status = res.statusCode ?? 0;
    this.lastStatus = status;
    // The body means nothing to the sink; read a bounded amount so the socket can be reused.
    const limit = this.o.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    let read = 0;
    res.on('data', (chunk: Buffer) => {
      read += chunk.length;
      if (read > limit) res.destroy();
    });
    res.on('error', () => {});
    if (status >= 200 && status < 300) {
      if (this.refusedStatus !== null) this.o.logger.info({ url: this.target, status }, `${this.label}: ${this.target} accepts batches again`);
      this.refusedStatus = null;
      finish({ ok: true });
      return;
    }
    const reason = `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`;
    if (isTransient(status)) {
      const after = retryAfterMs(firstHeader(res.headers['retry-after']));
      if (after !== undefined) this.holdOff(Math.min(after, this.o.maxRetryAfterMs));
      finish({ ok: false, error: `${reason}${after !== undefined ? ` (retry after ${Math.round(after / 1000)} s)` : ''}` });
      return;
    }
    // A refusal: this request will not succeed by repeating it soon. Said clearly, once per status.
    this.holdOff(this.o.refusedRetryMs);
    if (this.refusedStatus !== status) {
      this.refusedStatus = status;
      this.o.logger.error(
        { url: this.target, status, retryInMs: this.o.refusedRetryMs, hint: refusalHint(status, res.headers.location) },
        `${this.label}: ${this.target} refused the batch with ${reason}; the readings stay in the log and are sent again every ${Math.round(this.o.refusedRetryMs / 1000)} s until it accepts them`,
      );
    }
    finish({ ok: false, error: `refused: ${reason}` });
  }

  /** How much longer the next connect() waits before it reports ready (after a refusal or a Retry-After). */
  heldForMs(): number {
    return Math.max(0, this.holdUntil - this.clock());
  }

  private holdOff(ms: number): void {
    this.holdUntil = Math.max(this.holdUntil, this.clock() + ms);
  }

  disconnect(): void {
    if (this.readyTimer) clearTimeout(this.readyTimer);
    this.readyTimer = null;
    for (const entry of [...this.outstanding]) {
      entry.finish({ ok: false, error: 'disconnected' });
      entry.req.destroy();
    }
    // Kept-alive sockets may lead to a server that is gone: the next link starts fresh.
    this.agent.destroy();
    this.agent = this.newAgent();
  }

  async close(): Promise<void> {
    this.disconnect();
    this.closed = true;
    this.agent.destroy();
  }
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function describeError(err: Error & { code?: string }): string {
  return err.code ? `${err.code}: ${err.message}` : err.message;
}

/** What an operator should check for a refusal. */
function refusalHint(status: number, location: string | undefined): string {
  if (status === 401 || status === 403) return 'the receiver does not accept the credentials: check tokenFile or the client certificate';
  if (status === 404 || status === 405) return 'the URL does not take POSTed batches: check the path';
  if (status === 413) return 'the receiver finds the batch too large: lower batchMaxReadings';
  if (status === 415) return 'the receiver does not take this Content-Type: try the other codec';
  if (status >= 300 && status < 400) return `redirects are not followed for POSTed data: set the URL to where it points${location ? ` (${location})` : ''}`;
  return 'the receiver rejects the request as sent';
}
