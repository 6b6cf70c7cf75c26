import type { FastifyInstance } from 'fastify';
import type { WebContext } from '../context.ts';
import { errorResponses } from '../errors.ts';

/** Import with preview: the system page validates an uploaded file before the engineer applies it. */
export async function configCheckRoutes(app: FastifyInstance, ctx: WebContext): Promise<void> {
  app.post(
    '/api/config/check',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['config'],
        summary: 'Validate a config text exactly as PUT /api/config would, without writing or applying anything; 400 lists every problem with line and field path',
        body: { type: 'object', required: ['text'], additionalProperties: false, properties: { text: { type: 'string', maxLength: 1_000_000 } } },
        response: { 200: { type: 'object', properties: { ok: { type: 'boolean' }, devices: { type: 'integer' } } }, ...errorResponses },
      },
    },
    async (request) => {
      // The same checks as the apply (not only the schema): a preview that says "valid" is not then refused.
      const config = await ctx.configStore.check((request.body as { text: string }).text);
      return { ok: true, devices: config.devices.length };
    },
  );
}
