import type { FastifyInstance } from 'fastify';
import type { WebContext } from '../context.ts';
import { errorResponses, sendError } from '../errors.ts';
import { TOKEN_SCOPES, type TokenScope } from '../auth/route-auth.ts';

/** Without `scopes` a token reads and follows live values; writing points must be asked for. */
const DEFAULT_SCOPES: TokenScope[] = ['live', 'read'];

const tokenInfo = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    createdAt: { type: 'number' },
    createdBy: { type: 'string' },
    scopes: { type: 'array', items: { type: 'string', enum: [...TOKEN_SCOPES] } },
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
      config: { auth: 'session' },
      schema: {
        tags: ['tokens'],
        summary: 'Create an API token (sent as Authorization: Bearer <token>); the token is in this answer only',
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 64, description: 'what uses it, e.g. "node-red on the box"' },
            scopes: {
              type: 'array',
              items: { type: 'string', enum: [...TOKEN_SCOPES] },
              uniqueItems: true,
              description:
                'live: GET /api/live; read: status, devices, profiles, logs, system info; write-points: POST /api/points/.../write. Default ["live", "read"]. Config, uplink, OTA, tokens and restart need a logged-in user',
            },
          },
        },
        response: {
          201: { type: 'object', properties: { ...tokenInfo.properties, token: { type: 'string' } } },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { name, scopes = DEFAULT_SCOPES } = request.body as { name: string; scopes?: TokenScope[] };
      const created = ctx.apiTokens.create(name, request.session!.user, scopes);
      ctx.logger.warn({ id: created.id, name, user: created.createdBy, scopes: created.scopes }, 'API token created');
      return reply.code(201).send(created);
    },
  );

  app.get(
    '/api/tokens',
    {
      config: { auth: 'session' },
      schema: { tags: ['tokens'], summary: 'API tokens (without the secrets)', response: { 200: { type: 'array', items: tokenInfo }, ...errorResponses } },
    },
    async () => ctx.apiTokens.list(),
  );

  app.delete(
    '/api/tokens/:id',
    {
      config: { auth: 'session' },
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
