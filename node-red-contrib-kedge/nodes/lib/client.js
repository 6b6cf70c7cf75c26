'use strict';
/**
 * HTTP client for a kedge gateway's local API, shared by the kedge nodes through the
 * kedge-gateway config node. Plain node:http(s) rather than fetch: the gateway's HTTPS is a
 * self-signed certificate, which fetch cannot be told to accept per request.
 */
const http = require('node:http');
const https = require('node:https');

/**
 * @typedef {object} ClientOptions
 * @property {string} url base URL of the gateway's web UI, e.g. http://127.0.0.1:8080
 * @property {string} [token] API token (POST /api/tokens on the gateway): sent as Authorization: Bearer
 * @property {string} [user] web UI user, when no token is given
 * @property {string} [password]
 * @property {boolean} [insecure] accept a self-signed HTTPS certificate (the gateway's own)
 * @property {number} [timeoutMs] per request; writes wait for the device, so keep it above the device timeout
 */

/**
 * @typedef {object} ApiResponse
 * @property {number} status
 * @property {any} body parsed JSON, or the raw text when not JSON
 * @property {import('node:http').IncomingHttpHeaders} headers
 */

/** An API answer other than 2xx, carrying the gateway's stable error key and message. */
class KedgeApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code the gateway's error key (not_writable, timeout, unauthorized...) or "network"
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.name = 'KedgeApiError';
    this.status = status;
    this.code = code;
  }
}

/** @param {number} attempt 0-based; @returns {number} ms: 1 s, 2 s, 4 s ... capped at 30 s */
function backoffMs(attempt) {
  return Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5));
}

/**
 * Splits a text/event-stream into events. Keeps the partial event across chunks.
 * @param {(event: {event: string, data: string}) => void} onEvent
 */
function sseParser(onEvent) {
  let buffer = '';
  return {
    /** @param {string} chunk */
    push(chunk) {
      buffer += chunk.replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (!line || line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon === -1 ? line : line.slice(0, colon);
          const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = value;
          else if (field === 'data') data.push(value);
        }
        if (data.length) onEvent({ event, data: data.join('\n') });
      }
    },
  };
}

class KedgeClient {
  /** @param {ClientOptions} options */
  constructor(options) {
    let base;
    try {
      base = new URL(options.url);
    } catch {
      throw new Error(`kedge gateway URL "${options.url}" is not a URL (expected e.g. http://127.0.0.1:8080)`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new Error(`kedge gateway URL "${options.url}" must start with http:// or https://`);
    }
    this.base = base;
    this.options = options;
    /** @type {{cookie: string, csrf: string} | null} */
    this.session = null;
    /** @type {Promise<{cookie: string, csrf: string}> | null} */
    this.loggingIn = null;
  }

  /** Which credentials are in use: shown in node status and errors. */
  get authMode() {
    if (this.options.token) return 'token';
    if (this.options.user) return 'user';
    return 'none';
  }

  /**
   * One HTTP request; resolves with any status (callers decide), rejects on network errors.
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body]
   * @param {Record<string, string>} [headers]
   * @returns {Promise<ApiResponse>}
   */
  raw(method, path, body, headers = {}) {
    const url = new URL(path, this.base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(
        url,
        {
          method,
          headers: {
            accept: 'application/json',
            ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
            ...headers,
          },
          timeout: this.options.timeoutMs ?? 15_000,
          ...(url.protocol === 'https:' ? { rejectUnauthorized: !this.options.insecure } : {}),
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed = text;
            try {
              parsed = text ? JSON.parse(text) : null;
            } catch {
              // not JSON: keep the text for the error message
            }
            resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer from ${url.origin} within ${this.options.timeoutMs ?? 15_000} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Logs in with user/password (once at a time) and keeps the session cookie and CSRF token. */
  async login() {
    if (!this.loggingIn) {
      this.loggingIn = (async () => {
        const res = await this.raw('POST', '/api/auth/login', { user: this.options.user, password: this.options.password ?? '' });
        if (res.status !== 200) throw toApiError(res, 'login failed: ');
        const setCookie = /** @type {string[]} */ (res.headers['set-cookie'] ?? []);
        const cookie = setCookie.map((c) => c.split(';')[0]).find((c) => c.startsWith('kedge_session='));
        if (!cookie) throw new KedgeApiError(res.status, 'unauthorized', 'login answered without a session cookie');
        this.session = { cookie, csrf: res.body.csrfToken };
        return this.session;
      })().finally(() => {
        this.loggingIn = null;
      });
    }
    return this.loggingIn;
  }

  /**
   * Headers that authenticate a request. With user/password, non-GET requests also carry the
   * session's CSRF token.
   * @param {string} method
   * @returns {Promise<Record<string, string>>}
   */
  async authHeaders(method) {
    if (this.options.token) return { authorization: `Bearer ${this.options.token}` };
    if (!this.options.user) return {};
    const s = this.session ?? (await this.login());
    return { cookie: s.cookie, ...(method === 'GET' ? {} : { 'x-csrf-token': s.csrf }) };
  }

  /**
   * An authenticated API call; resolves with the JSON body of a 2xx answer, rejects with a
   * KedgeApiError naming the gateway's reason otherwise.
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body]
   */
  async call(method, path, body) {
    let res;
    try {
      res = await this.raw(method, path, body, await this.authHeaders(method));
      if (res.status === 401 && this.authMode === 'user') {
        // The session expired (idle timeout, gateway restart): log in again once.
        this.session = null;
        res = await this.raw(method, path, body, await this.authHeaders(method));
      }
    } catch (err) {
      if (err instanceof KedgeApiError) throw err;
      throw new KedgeApiError(0, 'network', `cannot reach the kedge gateway at ${this.base.origin}: ${/** @type {Error} */ (err).message}`);
    }
    if (res.status < 200 || res.status >= 300) throw toApiError(res);
    return res.body;
  }

  /**
   * Writes a point; resolves with {device, point, value, ts}.
   * @param {string} device
   * @param {string} point
   * @param {number | boolean | string} value
   */
  writePoint(device, point, value) {
    return this.call('POST', `/api/points/${encodeURIComponent(device)}/${encodeURIComponent(point)}/write`, { value });
  }

  status() {
    return this.call('GET', '/api/status');
  }

  /**
   * Follows GET /api/live (Server-Sent Events) and reconnects with backoff until closed.
   * @param {{devices?: string[], points?: string[], snapshot?: boolean}} filter
   * @param {{onReading: (r: any) => void, onState: (state: 'connecting' | 'connected' | 'disconnected', detail?: string) => void}} handlers
   * @returns {{close(): void}}
   */
  live(filter, handlers) {
    const query = new URLSearchParams();
    if (filter.devices?.length) query.set('devices', filter.devices.join(','));
    if (filter.points?.length) query.set('points', filter.points.join(','));
    if (filter.snapshot === false) query.set('snapshot', 'false');
    const url = new URL(`/api/live${query.size ? `?${query}` : ''}`, this.base);
    const lib = url.protocol === 'https:' ? https : http;
    let closed = false;
    let attempt = 0;
    /** @type {import('node:http').ClientRequest | null} */
    let req = null;
    /** @type {NodeJS.Timeout | null} */
    let timer = null;

    const retry = (/** @type {string} */ why) => {
      req = null;
      if (closed) return;
      handlers.onState('disconnected', why);
      timer = setTimeout(connect, backoffMs(attempt++));
    };

    const connect = async () => {
      timer = null;
      if (closed) return;
      handlers.onState('connecting');
      let headers;
      try {
        headers = await this.authHeaders('GET');
      } catch (err) {
        return retry(/** @type {Error} */ (err).message);
      }
      if (closed) return;
      let settled = false;
      const once = (/** @type {string} */ why) => {
        if (settled) return;
        settled = true;
        retry(why);
      };
      req = lib.request(
        url,
        {
          method: 'GET',
          headers: { accept: 'text/event-stream', ...headers },
          ...(url.protocol === 'https:' ? { rejectUnauthorized: !this.options.insecure } : {}),
        },
        (res) => {
          if (res.statusCode !== 200) {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
              let message = `HTTP ${res.statusCode}`;
              try {
                message = JSON.parse(Buffer.concat(chunks).toString('utf8')).message ?? message;
              } catch {
                // keep the status line
              }
              if (res.statusCode === 401 && this.authMode === 'user') this.session = null;
              once(message);
            });
            return;
          }
          attempt = 0;
          handlers.onState('connected');
          const parser = sseParser((e) => {
            if (e.event !== 'reading') return;
            try {
              handlers.onReading(JSON.parse(e.data));
            } catch {
              // a torn event cannot happen over TCP; ignore anything unparsable rather than stop
            }
          });
          res.setEncoding('utf8');
          res.on('data', (chunk) => parser.push(chunk));
          res.on('end', () => once('the gateway closed the stream'));
          res.on('error', (err) => once(err.message));
        },
      );
      req.on('error', (err) => once(`cannot reach the kedge gateway at ${this.base.origin}: ${err.message}`));
      req.end();
    };

    void connect();
    return {
      close() {
        closed = true;
        if (timer) clearTimeout(timer);
        req?.destroy();
      },
    };
  }
}

/**
 * @param {ApiResponse} res
 * @param {string} [prefix]
 */
function toApiError(res, prefix = '') {
  const body = res.body && typeof res.body === 'object' ? res.body : {};
  const message = body.message ?? (typeof res.body === 'string' && res.body ? res.body : `HTTP ${res.status}`);
  return new KedgeApiError(res.status, body.error ?? `http_${res.status}`, prefix + message);
}

module.exports = { KedgeClient, KedgeApiError, sseParser, backoffMs };
