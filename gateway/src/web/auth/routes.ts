import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebContext } from '../context.ts';
import { errorResponses, sendError } from '../errors.ts';
import type { ApiTokenInfo } from './api-tokens.ts';
import { SESSION_COOKIE, type Session } from './sessions.ts';
import { MIN_PASSWORD_LENGTH } from './users.ts';

declare module 'fastify' {
  interface FastifyRequest {
    session: Session | null;
    /** The machine client's API token (Authorization: Bearer), or null. */
    apiToken: ApiTokenInfo | null;
  }
  interface FastifyContextConfig {
    /** Reachable without a session (login, setup, health). */
    public?: boolean;
    /** Needs a logged-in user; an API token is refused (token management: a leaked token must not mint more). */
    sessionOnly?: boolean;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Paths outside the API (UI shell, docs, metrics, health) need no session. */
function needsSession(request: FastifyRequest): boolean {
  const url = request.url;
  if (!url.startsWith('/api/') || url.startsWith('/api/docs')) return false;
  return request.routeOptions.config?.public !== true;
}

/**
 * Session and CSRF guard for the whole app: every /api route needs a session unless marked
 * public, and every change (non-GET) also needs the session's synchronizer token in
 * X-CSRF-Token. SameSite=Strict already stops cross-site posts in current browsers; the token
 * covers older browsers and same-site attackers (another device UI on the same host name).
 */
export function installGuard(app: FastifyInstance, ctx: WebContext): void {
  app.decorateRequest('session', null);
  app.decorateRequest('apiToken', null);
  app.addHook('onRequest', async (request, reply) => {
    request.session = ctx.sessions.get(request.cookies[SESSION_COOKIE]);
    const bearer = bearerToken(request.headers.authorization);
    request.apiToken = bearer === null ? null : ctx.apiTokens.verify(bearer);
    if (!needsSession(request)) return;
    if (bearer !== null) {
      if (!request.apiToken) return sendError(reply, 401, 'unauthorized', 'unknown or revoked API token (Authorization: Bearer)');
      if (request.routeOptions.config?.sessionOnly) {
        return sendError(reply, 403, 'token_not_allowed', 'this needs a logged-in user (session); API tokens cannot manage tokens');
      }
      // Browsers never attach an Authorization header on their own, so a bearer request cannot
      // be forged cross-site: no CSRF token needed.
      return;
    }
    if (!request.session) return sendError(reply, 401, 'unauthorized', 'log in first (no valid session)');
    if (!SAFE_METHODS.has(request.method) && request.headers['x-csrf-token'] !== request.session.csrf) {
      return sendError(reply, 403, 'csrf', 'missing or wrong X-CSRF-Token header: reload the page and try again');
    }
  });
}

/** The token of `Authorization: Bearer <token>`, or null without such a header. */
export function bearerToken(header: string | undefined): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m ? m[1]! : null;
}

const sessionReply = {
  type: 'object',
  required: ['user', 'csrfToken'],
  properties: { user: { type: 'string' }, csrfToken: { type: 'string' } },
} as const;

const credentials = {
  type: 'object',
  required: ['user', 'password'],
  additionalProperties: false,
  properties: { user: { type: 'string', minLength: 1, maxLength: 64 }, password: { type: 'string', maxLength: 1024 } },
} as const;

export async function authRoutes(app: FastifyInstance, ctx: WebContext): Promise<void> {
  const startSession = (reply: FastifyReply, user: string) => {
    const s = ctx.sessions.create(user);
    reply.setCookie(SESSION_COOKIE, s.id, {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      secure: ctx.https === true,
      maxAge: Math.floor((s.expiresAt - Date.now()) / 1000),
    });
    return { user: s.user, csrfToken: s.csrf };
  };

  app.get(
    '/api/auth/state',
    {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'Whether setup is needed and who is logged in (with the CSRF token for this session)',
        response: {
          200: {
            type: 'object',
            properties: {
              setupRequired: { type: 'boolean' },
              user: { type: ['string', 'null'] },
              csrfToken: { type: ['string', 'null'] },
              minPasswordLength: { type: 'integer' },
            },
          },
        },
      },
    },
    async (request) => ({
      setupRequired: !ctx.users.hasOwner(),
      user: request.session?.user ?? null,
      csrfToken: request.session?.csrf ?? null,
      minPasswordLength: MIN_PASSWORD_LENGTH,
    }),
  );

  app.post(
    '/api/auth/setup',
    {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'Create (or, after a console reset, replace) the owner account with the one-time setup token printed by the daemon',
        body: {
          type: 'object',
          required: ['token', 'user', 'password'],
          additionalProperties: false,
          properties: {
            token: { type: 'string', maxLength: 200 },
            user: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
            password: { type: 'string', maxLength: 1024 },
          },
        },
        response: { 200: sessionReply, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { token, user, password } = request.body as { token: string; user: string; password: string };
      const keys = [`setup-ip:${request.ip}`];
      const wait = ctx.throttle.retryAfterMs(keys);
      if (wait > 0) return lockedOut(reply, wait);
      if (!ctx.setupToken.active) {
        return sendError(reply, 403, 'setup_not_allowed', 'setup is closed: the owner exists; send SIGUSR2 to the daemon for a new setup token');
      }
      if (password.length < MIN_PASSWORD_LENGTH) {
        return sendError(reply, 400, 'weak_password', `password must be at least ${MIN_PASSWORD_LENGTH} characters`);
      }
      if (!ctx.setupToken.consume(token)) {
        ctx.throttle.fail(keys);
        return sendError(reply, 403, 'bad_setup_token', 'wrong setup token: use the one the daemon printed last');
      }
      await ctx.users.setOwner(user, password);
      // A reset must lock out whoever had the old password, and undo lockouts they caused.
      ctx.sessions.destroyAll();
      ctx.throttle.reset();
      ctx.logger.warn({ user }, 'web UI owner account set with the setup token');
      return startSession(reply, user);
    },
  );

  app.post(
    '/api/auth/login',
    {
      config: { public: true },
      schema: { tags: ['auth'], summary: 'Log in; sets the HttpOnly, SameSite=Strict session cookie', body: credentials, response: { 200: sessionReply, ...errorResponses } },
    },
    async (request, reply) => {
      const { user, password } = request.body as { user: string; password: string };
      const keys = [`ip:${request.ip}`, `user:${user}`];
      const wait = ctx.throttle.retryAfterMs(keys);
      if (wait > 0) return lockedOut(reply, wait);
      if (!(await ctx.users.verify(user, password))) {
        ctx.throttle.fail(keys);
        ctx.logger.warn({ user, ip: request.ip }, 'web UI login failed');
        return sendError(reply, 401, 'bad_credentials', 'wrong user name or password');
      }
      ctx.throttle.succeed(keys);
      return startSession(reply, user);
    },
  );

  app.post(
    '/api/auth/logout',
    { schema: { tags: ['auth'], summary: 'End the session', response: { 204: { type: 'null' }, ...errorResponses } } },
    async (request, reply) => {
      if (request.session) ctx.sessions.destroy(request.session.id);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send();
    },
  );
}

function lockedOut(reply: FastifyReply, waitMs: number): FastifyReply {
  reply.header('retry-after', String(Math.ceil(waitMs / 1000)));
  return sendError(reply, 429, 'locked_out', `too many failed attempts: try again in ${Math.ceil(waitMs / 1000)} s`, { retryAfterMs: waitMs });
}
