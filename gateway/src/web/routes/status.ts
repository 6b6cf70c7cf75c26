import type { FastifyInstance } from 'fastify';
import type { WebContext } from '../context.ts';
import { looseObject } from './json.ts';

export async function statusRoutes(app: FastifyInstance, ctx: WebContext): Promise<void> {
  app.get(
    '/api/status',
    {
      config: { auth: { token: 'read' } },
      schema: {
        tags: ['status'],
        summary: 'Overview: gateway identity, uptime, uplink state, log depth, oldest unsent reading, evictions',
        response: {
          200: {
            type: 'object',
            properties: {
              gateway: { type: 'string' },
              name: { type: ['string', 'null'] },
              region: { type: 'string' },
              municipality: { type: 'string' },
              version: { type: 'string' },
              uptimeMs: { type: 'number' },
              uplink: { anyOf: [looseObject('UplinkStatus of cloud-sync: state, url, ackedSeq, readingsAcked, lastError...'), { type: 'null' }] },
              log: looseObject('LogStats: rows, unacked, usedBytes, fileBytes, evictedTotal, oldestUnackedTs...'),
              oldestUnsentAgeMs: { type: ['number', 'null'] },
              devices: { type: 'object', properties: { total: { type: 'integer' }, failing: { type: 'integer' } } },
            },
          },
        },
      },
    },
    async () => {
      const s = ctx.gateway.status();
      const now = ctx.now?.() ?? Date.now();
      return {
        gateway: s.gateway,
        name: ctx.gateway.currentConfig().gateway.name ?? null,
        region: s.region,
        municipality: s.municipality,
        version: s.version,
        uptimeMs: s.uptimeMs,
        uplink: s.uplink,
        log: s.log,
        oldestUnsentAgeMs: s.log.oldestUnackedTs === null ? null : Math.max(0, now - s.log.oldestUnackedTs),
        devices: { total: s.devices.length, failing: s.devices.filter((d) => d.consecutiveFailures > 0).length },
      };
    },
  );
}
