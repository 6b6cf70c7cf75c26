import type { FastifyInstance } from 'fastify';
import type { WebContext } from '../context.ts';
import { LOG_LEVELS, type LogLevelName } from '../log-ring.ts';

export async function logRoutes(app: FastifyInstance, ctx: WebContext): Promise<void> {
  app.get(
    '/api/logs',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['logs'],
        summary: 'Tail of the daemon log (the last 2000 records kept in memory), at or above a level',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            level: { type: 'string', enum: Object.keys(LOG_LEVELS), default: 'info' },
            limit: { type: 'integer', minimum: 1, maximum: 2000, default: 200 },
            since: {
              type: 'integer',
              minimum: 0,
              description:
                'Only records after this sequence number (the `seq` of the newest record the caller has). A number beyond the newest record (the daemon restarted) reads from the start again.',
            },
          },
        },
        response: {
          200: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                seq: { type: 'integer' },
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
      const { level, limit, since = 0 } = request.query as { level: LogLevelName; limit: number; since?: number };
      const names = Object.entries(LOG_LEVELS);
      const ring = ctx.logRing;
      // Records after one the ring never wrote: a restarted daemon. Its records are all new to the caller,
      // and the first one's seq (at most the caller's) tells the page to drop what it shows.
      const after = ring && since > ring.seq ? 0 : since;
      return (ring?.tail(LOG_LEVELS[level], limit, after) ?? []).map((l) => {
        const { time: _t, level: _l, msg: _m, pid: _p, hostname: _h, name: _n, ...context } = l.raw;
        return { seq: l.seq, time: l.time, level: names.find(([, n]) => n === l.level)?.[0] ?? String(l.level), msg: l.msg, context };
      });
    },
  );
}
