import type { FastifyInstance } from 'fastify';
import { ID_PATTERN } from '../../config/schema.ts';
import { isWriteError, type WriteErrorCode } from '../../drivers/write-error.ts';
import type { WebContext } from '../context.ts';
import { errorResponses, errorSchema, sendError } from '../errors.ts';

/** HTTP status of each reason a write can fail (gateway/src/drivers/write-error.ts). */
export const WRITE_ERROR_STATUS: Record<WriteErrorCode, 400 | 403 | 404 | 501 | 502 | 504> = {
  not_found: 404,
  not_writable: 403,
  invalid_value: 400,
  device_error: 502,
  timeout: 504,
  unsupported: 501,
};

const idParam = { type: 'string', pattern: ID_PATTERN.source } as const;

/**
 * POST /api/points/:device/:point/write: writes a point marked `writable: true` through its
 * device's driver (Gateway.writePoint). Needs a session (+ CSRF) or an API token; every write
 * is logged with who asked.
 */
export async function pointRoutes(app: FastifyInstance, ctx: WebContext): Promise<void> {
  app.post(
    '/api/points/:device/:point/write',
    {
      config: { auth: { token: 'write-points' } },
      schema: {
        tags: ['points'],
        summary: 'Write a writable point (value in engineering units: scale and offset are reversed); answers when the device confirmed',
        params: { type: 'object', required: ['device', 'point'], properties: { device: idParam, point: idParam } },
        body: {
          type: 'object',
          required: ['value'],
          additionalProperties: false,
          properties: {
            value: {
              // Checked in the handler: fastify's ajv coerces types, so a union schema would turn true into 1 or "5" into 5.
              description: 'number, boolean, or string (string points; 64-bit integers as decimal strings)',
            },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              device: { type: 'string' },
              point: { type: 'string' },
              value: { anyOf: [{ type: 'number' }, { type: 'boolean' }, { type: 'string' }, { type: 'null' }] },
              ts: { type: 'number' },
            },
          },
          ...errorResponses,
          501: errorSchema,
          502: errorSchema,
          504: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const { device, point } = request.params as { device: string; point: string };
      const { value } = request.body as { value: unknown };
      if (!['number', 'boolean', 'string'].includes(typeof value)) {
        return sendError(reply, 400, 'validation', `body/value must be a number, boolean or string, got ${value === null ? 'null' : typeof value}`);
      }
      const who = request.session ? { user: request.session.user } : { apiToken: request.apiToken?.name };
      try {
        const result = await ctx.gateway.writePoint(device, point, value as number | boolean | string);
        ctx.logger.info({ device, point, value, ...who }, 'point written');
        return { ...result, value: typeof result.value === 'bigint' ? result.value.toString() : result.value };
      } catch (err) {
        if (!isWriteError(err)) throw err;
        ctx.logger.warn({ device, point, value, code: err.code, err: err.message, ...who }, 'point write failed');
        return sendError(reply, WRITE_ERROR_STATUS[err.code], err.code, err.message);
      }
    },
  );
}
