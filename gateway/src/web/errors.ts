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
  // dataDir, secretsDir, ota, commands: changed only in the file on the box (config/config-store.ts)
  | 'config_local_only'
  // a plain-HTTP request whose Host is not this box (DNS rebinding; host-allowlist.ts)
  | 'host_not_allowed'
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
  | 'unsupported'
  // Guard and secrets (auth/routes.ts, routes/uplink.ts)
  | 'cross_site'
  | 'token_scope'
  | 'credentials_for_other_host'
  // The engineer's tools (routes/devices.ts, routes/account.ts, routes/registers.ts)
  | 'conflict'
  | 'wrong_password';

export interface Issue {
  path: string;
  message: string;
  /** Where in the YAML text (1-based), when the problem comes from a config file. */
  line?: number;
  column?: number;
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
      items: {
        type: 'object',
        properties: { path: { type: 'string' }, message: { type: 'string' }, line: { type: 'integer' }, column: { type: 'integer' } },
      },
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
  409: errorSchema,
  429: errorSchema,
} as const;
