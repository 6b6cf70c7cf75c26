import type { FastifyInstance } from 'fastify';
import type { WebContext } from '../context.ts';
import { LOG_LEVELS, type LogLevelName } from '../log-ring.ts';

export async function logRoutes(app: FastifyInstance, ctx: WebContext): Promise<void> {
  app.get(
    '/api/logs',
    {
      schema: {
        tags: ['logs'],
        summary: 'Tail of the daemon log (the last 2000 records kept in memory), at or above a level',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            level: { type: 'string', enum: Object.keys(LOG_LEVELS), default: 'info' },
            limit: { type: 'integer', minimum: 1, maximum: 2000, default: 200 },
          },
        },
        response: {
          200: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                time: { type: 'number' },
                level: { type: 'string' },
                msg: { type: 'string' },
                context: { type: 'object', additionalProperties: true },
              },
            },
          },
        },
      },
    },
    async (request) => {
      const { level, limit } = request.query as { level: LogLevelName; limit: number };
      const names = Object.entries(LOG_LEVELS);
      return (ctx.logRing?.tail(LOG_LEVELS[level], limit) ?? []).map((l) => {
        const { time: _t, level: _l, msg: _m, pid: _p, hostname: _h, name: _n, ...context } = l.raw;
        return { time: l.time, level: names.find(([, n]) => n === l.level)?.[0] ?? String(l.level), msg: l.msg, context };
      });
    },
  );
}
