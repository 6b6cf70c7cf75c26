/**
 * OTA endpoints of the local API, as a fastify plugin. Register it on the app that carries
 * the session/CSRF guard (gateway/src/web/server.ts): both routes sit under /api/ and are
 * therefore authenticated like every other API route.
 */
import type { FastifyInstance } from 'fastify';
import type { OtaAgent } from './agent.ts';

export interface OtaRoutesOptions {
  agent: Pick<OtaAgent, 'offer' | 'otaStatus'>;
}

const offerBody = {
  type: 'object',
  required: ['version', 'url', 'sha256', 'size'],
  additionalProperties: false,
  properties: {
    version: { type: 'string', maxLength: 64 },
    url: { type: 'string', maxLength: 2048 },
    sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    size: { type: 'integer', minimum: 1 },
    manifestUrl: { type: 'string', maxLength: 2048 },
    // A signed offer (gateway/src/ota/offer.ts); an unsigned one needs manifestUrl.
    format: { type: 'string', maxLength: 64 },
    target: {
      type: 'object',
      required: ['region', 'municipality', 'gateway'],
      additionalProperties: false,
      properties: { region: { type: 'string', maxLength: 128 }, municipality: { type: 'string', maxLength: 128 }, gateway: { type: 'string', maxLength: 128 } },
    },
    keyId: { type: 'string', maxLength: 128 },
    signature: { type: 'string', maxLength: 256 },
  },
} as const;

export async function otaRoutes(app: FastifyInstance, opts: OtaRoutesOptions): Promise<void> {
  const { agent } = opts;
  app.get(
    '/api/ota/status',
    { schema: { tags: ['ota'], summary: 'OTA state: running version and slot, update in progress, last rollback, history' } },
    async () => agent.otaStatus(),
  );
  app.post(
    '/api/ota/offer',
    {
      schema: {
        tags: ['ota'],
        summary: 'Offer a signed bundle by URL; the gateway downloads (resumable), verifies and installs it, then restarts into it',
        body: offerBody,
        response: {
          202: { type: 'object', properties: { started: { type: 'boolean' }, message: { type: 'string' } } },
          409: { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } } },
        },
      },
    },
    async (request, reply) => {
      try {
        return reply.code(202).send(await agent.offer(request.body));
      } catch (err) {
        return reply.code(409).send({ error: 'ota_refused', message: (err as Error).message });
      }
    },
  );
}
