import type { FastifyInstance } from 'fastify';
import { VERSION } from '../../gateway.ts';
import type { WebContext } from '../context.ts';
import { errorResponses } from '../errors.ts';
import { looseObject } from './json.ts';

export async function systemRoutes(app: FastifyInstance, ctx: WebContext): Promise<void> {
  app.get(
    '/api/system',
    {
      config: { auth: { token: 'read' } },
      schema: {
        tags: ['system'],
        summary: 'Version, runtime, OTA state',
        response: {
          200: {
            type: 'object',
            properties: {
              version: { type: 'string' },
              node: { type: 'string' },
              platform: { type: 'string' },
              uptimeMs: { type: 'number' },
              rssBytes: { type: 'number' },
              configPath: { type: 'string' },
              ota: looseObject("state ('not_configured' until the OTA module provides otaStatus), version, progress, error"),
              canRestart: { type: 'boolean' },
            },
          },
        },
      },
    },
    async () => ({
      version: VERSION,
      node: process.version,
      platform: `${process.platform}/${process.arch}`,
      uptimeMs: ctx.gateway.status().uptimeMs,
      rssBytes: process.memoryUsage.rss(),
      configPath: ctx.configStore.path,
      ota: ctx.otaStatus?.() ?? { state: 'not_configured' },
      canRestart: ctx.restart !== undefined,
    }),
  );

  app.post(
    '/api/system/restart',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['system'],
        summary: 'Graceful restart: the daemon stops (commits the log, says goodbye to the broker) and exits 0; systemd (Restart=always) or docker starts it again',
        response: { 202: { type: 'object', properties: { restarting: { type: 'boolean' } } }, ...errorResponses },
      },
    },
    async (_request, reply) => {
      const restart = ctx.restart;
      if (!restart) return reply.code(202).send({ restarting: false });
      ctx.logger.warn('restart requested from the web UI');
      // After the answer is on the wire: the browser shows "restarting" instead of a network error.
      reply.raw.once('finish', () => setTimeout(restart, 100));
      return reply.code(202).send({ restarting: true });
    },
  );
}
