import type { FastifyReply } from 'fastify';

/**
 * Every API error is `{ error, message }`: `error` is a stable key the UI translates
 * (`errors.<key>` in ui/i18n/*.json), `message` the English text for curl users and logs.
 */
export type ErrorKey =
  | 'unauthorized'
  | 'csrf'
  | 'bad_credentials'
  | 'locked_out'
  | 'setup_not_allowed'
  | 'bad_setup_token'
  | 'weak_password'
  | 'validation'
  | 'config_invalid'
  | 'config_apply_failed'
  | 'not_found'
  | 'bad_certificate'
  | 'internal'
  // API tokens and point writes (Node-RED, gateway/src/web/routes/live.ts, routes/points.ts)
  | 'token_not_allowed'
  | 'not_writable'
  | 'invalid_value'
  | 'device_error'
  | 'timeout'
  | 'unsupported';

export interface Issue {
  path: string;
  message: string;
}

export function sendError(
  reply: FastifyReply,
  status: number,
  error: ErrorKey,
  message: string,
  extra: { issues?: Issue[]; retryAfterMs?: number } = {},
): FastifyReply {
  return reply.code(status).send({ error, message, ...extra });
}

export const errorSchema = {
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', description: 'stable key, translated by the UI as errors.<key>' },
    message: { type: 'string' },
    issues: {
      type: 'array',
      items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } },
    },
    retryAfterMs: { type: 'number' },
  },
} as const;

/** Response schemas shared by every route that can refuse. */
export const errorResponses = {
  400: errorSchema,
  401: errorSchema,
  403: errorSchema,
  404: errorSchema,
  429: errorSchema,
} as const;
