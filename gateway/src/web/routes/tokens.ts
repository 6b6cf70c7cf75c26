import type { FastifyInstance } from 'fastify';
import type { WebContext } from '../context.ts';
import { errorResponses, sendError } from '../errors.ts';

const tokenInfo = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    createdAt: { type: 'number' },
    createdBy: { type: 'string' },
  },
} as const;

/**
 * API tokens for machine clients (Node-RED, scripts), which cannot do the cookie + CSRF dance.
 * Only a logged-in user manages them; the token itself is shown once, in the creation answer.
 */
export async function tokenRoutes(app: FastifyInstance, ctx: WebContext): Promise<void> {
  app.post(
    '/api/tokens',
    {
      config: { sessionOnly: true },
      schema: {
        tags: ['tokens'],
        summary: 'Create an API token (sent as Authorization: Bearer <token>); the token is in this answer only',
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: { name: { type: 'string', minLength: 1, maxLength: 64, description: 'what uses it, e.g. "node-red on the box"' } },
        },
        response: {
          201: { type: 'object', properties: { ...tokenInfo.properties, token: { type: 'string' } } },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { name } = request.body as { name: string };
      const created = ctx.apiTokens.create(name, request.session!.user);
      ctx.logger.warn({ id: created.id, name, user: created.createdBy }, 'API token created');
      return reply.code(201).send(created);
    },
  );

  app.get(
    '/api/tokens',
    {
      config: { sessionOnly: true },
      schema: { tags: ['tokens'], summary: 'API tokens (without the secrets)', response: { 200: { type: 'array', items: tokenInfo }, ...errorResponses } },
    },
    async () => ctx.apiTokens.list(),
  );

  app.delete(
    '/api/tokens/:id',
    {
      config: { sessionOnly: true },
      schema: {
        tags: ['tokens'],
        summary: 'Revoke an API token; clients using it get 401 from the next request on',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } },
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      if (!ctx.apiTokens.revoke(id)) return sendError(reply, 404, 'not_found', `no API token with id "${id}"`);
      ctx.logger.warn({ id, user: request.session!.user }, 'API token revoked');
      return reply.code(204).send();
    },
  );
}
