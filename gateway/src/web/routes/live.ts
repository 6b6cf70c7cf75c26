import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Reading, Value } from '@kedge/cloud-sync/model.ts';
import type { GatewayConfig } from '../../config/schema.ts';
import type { WebContext } from '../context.ts';
import { errorResponses, sendError } from '../errors.ts';
import { bearerToken } from '../auth/routes.ts';

/** One event of the live stream: a reading as logged, with the point's unit. */
export interface LiveEvent {
  /** `<device>/<point>` as in the log and the uplink. */
  point: string;
  device: string;
  ts: number;
  /** 64-bit integers beyond 2^53 as decimal strings (JSON has no bigint). */
  value: number | boolean | string | null;
  quality: Reading['quality'];
  unit: string | null;
  /** True for the current values sent right after connecting (they may be older than the connection). */
  snapshot?: true;
}

/** Comment line every so often: proxies and NAT boxes drop connections that look idle. */
const KEEPALIVE_MS = 15_000;
/** A consumer this far behind is cut off (it reconnects and gets a fresh snapshot) rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

const list = (s: string | undefined) =>
  (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

export function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.');
}

function units(config: GatewayConfig): Map<string, string | null> {
  return new Map(config.devices.flatMap((d) => d.points.map((p) => [`${d.id}/${p.id}`, p.unit ?? null] as const)));
}

const jsonValue = (v: Value) => (typeof v === 'bigint' ? v.toString() : v);

/** How often a status stream says "still here" (with the overview figures); the UI's staleness clock. */
export const TICK_MS = 2000;

/**
 * The small diffs behind the UI's live pages: each poll's DeviceState (a few hundred bytes)
 * and a tick with the overview figures. Never the config: that is fetched once per page.
 */
function streamStatus(ctx: WebContext, res: ServerResponse, wanted: (deviceId: string) => boolean): () => void {
  const write = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const tick = () => {
    const s = ctx.gateway.status();
    const now = ctx.now?.() ?? Date.now();
    write('tick', {
      now,
      uptimeMs: s.uptimeMs,
      uplink: s.uplink ? { state: s.uplink.state, lastError: s.uplink.lastError ?? null } : null,
      log: { rows: s.log.rows, unacked: s.log.unacked, usedBytes: s.log.usedBytes, fileBytes: s.log.fileBytes, evictedTotal: s.log.evictedTotal },
      oldestUnsentAgeMs: s.log.oldestUnackedTs === null ? null : Math.max(0, now - s.log.oldestUnackedTs),
      devices: { total: s.devices.length, failing: s.devices.filter((d) => d.consecutiveFailures > 0).length },
    });
  };
  tick();
  const timer = setInterval(tick, TICK_MS);
  const unsubscribe = ctx.gateway.onPoll((deviceId, _result, _ms, state) => {
    if (wanted(deviceId)) write('device', { ...state, lastPollMono: undefined });
  });
  return () => {
    clearInterval(timer);
    unsubscribe();
  };
}

/**
 * GET /api/live: Server-Sent Events, one `reading` event per reading that passed the pipeline
 * (deadband, heartbeat, quality change) and went into the log. Read-only. Open without login to
 * clients on the box itself (loopback: Node-RED beside the daemon) or to everyone with
 * `web.liveReadOnlyPublic: true`; from elsewhere it needs a session or an API token.
 */
export async function liveRoutes(app: FastifyInstance, ctx: WebContext): Promise<void> {
  const streams = new Set<ServerResponse>();
  // Open streams would keep app.close() waiting forever.
  app.addHook('preClose', async () => {
    for (const res of streams) res.end();
  });

  // Public in the guard because loopback clients need nothing; who else may listen is decided here.
  const allowed = (request: FastifyRequest): 'ok' | 'bad_token' | 'scope' | 'no' => {
    if (request.apiToken) return request.apiToken.scopes.includes('live') ? 'ok' : 'scope';
    if (request.session) return 'ok';
    if (bearerToken(request.headers.authorization) !== null) return 'bad_token';
    if (ctx.gateway.currentConfig().web.liveReadOnlyPublic || isLoopback(request.ip)) return 'ok';
    return 'no';
  };

  app.get(
    '/api/live',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['live'],
        summary:
          'Live readings as Server-Sent Events (event "reading", data {point, device, ts, value, quality, unit}); open on loopback or with web.liveReadOnlyPublic, else a session or API token',
        security: [{ session: [] }, { bearer: [] }, {}],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            devices: { type: 'string', description: 'comma-separated device ids; every point of these devices' },
            points: { type: 'string', description: 'comma-separated <device>/<point> keys' },
            snapshot: { type: 'boolean', default: true, description: 'first send the current value of each matching point' },
            status: {
              type: 'boolean',
              default: false,
              description:
                'also send event "device" (the DeviceState after each poll of a matching device) and event "tick" every 2 s ({now, uplink, log, failing}): the web UI marks itself stale when ticks stop',
            },
          },
        },
        response: {
          200: { type: 'string', description: 'text/event-stream' },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const access = allowed(request);
      if (access === 'bad_token') return sendError(reply, 401, 'unauthorized', 'unknown or revoked API token (Authorization: Bearer)');
      if (access === 'scope') return sendError(reply, 403, 'token_scope', 'this API token lacks the "live" scope');
      if (access === 'no') {
        return sendError(
          reply,
          401,
          'unauthorized',
          'live readings from another host need a session or an API token (or web.liveReadOnlyPublic: true in the gateway config)',
        );
      }
      const q = request.query as { devices?: string; points?: string; snapshot: boolean; status: boolean };
      // Device states and overview figures are what GET /api/status shows: a session or the
      // `read` scope, not the openness of the readings (loopback, liveReadOnlyPublic).
      if (q.status && !request.session && !request.apiToken?.scopes.includes('read')) {
        return request.apiToken
          ? sendError(reply, 403, 'token_scope', 'status=true needs the "read" scope')
          : sendError(reply, 401, 'unauthorized', 'status=true needs a session or an API token with the "read" scope');
      }
      const devices = new Set(list(q.devices));
      const points = new Set(list(q.points));
      const config = ctx.gateway.currentConfig();
      const unitOf = units(config);
      const unknownDevices = [...devices].filter((d) => !config.devices.some((x) => x.id === d));
      const unknownPoints = [...points].filter((p) => !unitOf.has(p));
      if (unknownDevices.length || unknownPoints.length) {
        const problems = [
          ...unknownDevices.map((d) => `unknown device "${d}"`),
          ...unknownPoints.map((p) => `unknown point "${p}" (expected <device>/<point>)`),
        ];
        return sendError(reply, 404, 'not_found', problems.join('; '));
      }
      const everything = devices.size === 0 && points.size === 0;
      const wanted = (point: string) => everything || points.has(point) || devices.has(point.slice(0, point.indexOf('/')));

      // The config can be reloaded while a client listens: units follow it.
      let unitConfig = config;
      let unitMap = unitOf;
      const event = (r: Reading, snapshot: boolean): LiveEvent => {
        const current = ctx.gateway.currentConfig();
        if (current !== unitConfig) [unitConfig, unitMap] = [current, units(current)];
        return {
          point: r.point,
          device: r.point.slice(0, r.point.indexOf('/')),
          ts: r.ts,
          value: jsonValue(r.value),
          quality: r.quality,
          unit: unitMap.get(r.point) ?? null,
          ...(snapshot ? { snapshot: true as const } : {}),
        };
      };

      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        // nginx in front of the box must not buffer the stream.
        'x-accel-buffering': 'no',
      });
      streams.add(res);
      const send = (events: LiveEvent[]) => {
        if (!events.length) return;
        res.write(events.map((e) => `event: reading\ndata: ${JSON.stringify(e)}\n\n`).join(''));
        if (res.writableLength > MAX_BUFFERED_BYTES) {
          ctx.logger.warn({ ip: request.ip }, 'live stream consumer too slow: disconnected');
          res.destroy();
        }
      };
      res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ gateway: config.gateway.id })}\n\n`);
      if (q.snapshot) {
        const live = ctx.gateway.status().live;
        send(
          Object.entries(live)
            .filter(([point]) => wanted(point))
            .map(([point, v]) => event({ point, ts: v.ts, value: v.value, quality: v.quality }, true)),
        );
      }
      const unsubscribe = ctx.gateway.onReadings((readings) => send(readings.filter((r) => wanted(r.point)).map((r) => event(r, false))));
      const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
      const stopStatus = q.status ? streamStatus(ctx, res, (id) => everything || devices.has(id) || [...points].some((p) => p.startsWith(`${id}/`))) : () => {};
      const done = () => {
        unsubscribe();
        stopStatus();
        clearInterval(keepalive);
        streams.delete(res);
      };
      res.on('close', done);
      res.on('error', done);
    },
  );
}
