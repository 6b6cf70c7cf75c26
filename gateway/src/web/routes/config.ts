import type { FastifyInstance } from 'fastify';
import type { WebContext } from '../context.ts';
import { errorResponses } from '../errors.ts';

export async function configRoutes(app: FastifyInstance, ctx: WebContext): Promise<void> {
  app.get(
    '/api/config',
    {
      schema: {
        tags: ['config'],
        summary: 'The config file as text (YAML, comments kept)',
        response: { 200: { type: 'object', properties: { path: { type: 'string' }, text: { type: 'string' } } } },
      },
    },
    async () => ({ path: ctx.configStore.path, text: ctx.configStore.read() }),
  );

  app.put(
    '/api/config',
    {
      schema: {
        tags: ['config'],
        summary:
          'Replace the config file: validated by the same loader as at start, written atomically (temp + fsync + rename), applied at once. A bad file changes nothing and is answered 400 with every problem by field path',
        body: { type: 'object', required: ['text'], additionalProperties: false, properties: { text: { type: 'string', maxLength: 1_000_000 } } },
        response: { 200: { type: 'object', properties: { devices: { type: 'integer' } } }, ...errorResponses },
      },
    },
    async (request) => {
      const config = await ctx.configStore.replace((request.body as { text: string }).text);
      return { devices: config.devices.length };
    },
  );
}
