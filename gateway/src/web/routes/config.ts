import type { FastifyInstance } from 'fastify';
import type { WebContext } from '../context.ts';
import { webChange } from '../web-change.ts';
import { errorResponses } from '../errors.ts';
import { redactConfigText, SECRET_MARKER } from '../../config/secret-fields.ts';

export async function configRoutes(app: FastifyInstance, ctx: WebContext): Promise<void> {
  app.get(
    '/api/config',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['config'],
        summary: `The config file as text (YAML, comments kept); inline secrets (passwords) read "${SECRET_MARKER}", which a PUT keeps as the stored value`,
        response: { 200: { type: 'object', properties: { path: { type: 'string' }, text: { type: 'string' } } } },
      },
    },
    async () => ({ path: ctx.configStore.path, text: redactConfigText(ctx.configStore.read()) }),
  );

  app.put(
    '/api/config',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['config'],
        summary:
          'Replace the config file: validated by the same loader as at start, written atomically (temp + fsync + rename), applied at once. A bad file changes nothing and is answered 400 with every problem by field path',
        body: { type: 'object', required: ['text'], additionalProperties: false, properties: { text: { type: 'string', maxLength: 1_000_000 } } },
        response: { 200: { type: 'object', properties: { devices: { type: 'integer' } } }, ...errorResponses },
      },
    },
    async (request) => {
      const config = await ctx.configStore.by(webChange(request)).replace((request.body as { text: string }).text);
      return { devices: config.devices.length };
    },
  );

  // Who changed the config, how and when (SIGHUP, the UI, center commands): people's names and
  // what they did, so only a logged-in user sees it, never an API token.
  app.get(
    '/api/config/history',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['config'],
        summary: 'The recorded config changes, oldest first (bounded): when, source (sighup, web, command), actor, what, outcome, sha256 of the file before and after',
        response: {
          200: {
            type: 'object',
            properties: {
              changes: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    at: { type: 'string' },
                    source: { type: 'string', enum: ['sighup', 'web', 'command'] },
                    actor: { type: ['string', 'null'] },
                    what: { type: 'string' },
                    outcome: { type: 'string', enum: ['applied', 'refused', 'failed'] },
                    error: { type: 'string' },
                    before: { type: 'string' },
                    after: { type: 'string' },
                  },
                },
              },
            },
          },
        },
      },
    },
    async () => ({ changes: ctx.configService.history() }),
  );
}
