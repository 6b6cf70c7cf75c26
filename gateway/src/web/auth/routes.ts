import { timingSafeEqual } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { WebContext } from '../context.ts';
import { errorResponses, sendError } from '../errors.ts';
import type { ApiTokenInfo } from './api-tokens.ts';
import { crossSiteProblem, routeAuth, SAFE_METHODS } from './route-auth.ts';
import { SESSION_COOKIE, type Session } from './sessions.ts';
import { addressKey } from './throttle.ts';
import { MIN_PASSWORD_LENGTH } from './users.ts';

declare module 'fastify' {
  interface FastifyRequest {
    session: Session | null;
    /** The machine client's API token (Authorization: Bearer), or null. */
    apiToken: ApiTokenInfo | null;
  }
}

/**
 * The guard of the whole app, deciding on the route fastify matched (its `config.auth`, see
 * route-auth.ts), never on the URL text:
 *   - a state-changing request from a browser page of another origin is refused (403 cross_site),
 *     on every route, login and setup included;
 *   - 'public' routes pass (a wrong or revoked bearer token is still 401);
 *   - a bearer token passes only routes `{ token: scope }` whose scope it carries;
 *   - everything else needs a session, and every change also the session's synchronizer token
 *     in X-CSRF-Token (SameSite=Strict stops cross-site posts in current browsers; the token
 *     covers older browsers and same-site attackers such as another device UI on the same host).
 * Routes without a decision and unknown paths are 'session': an unknown path is 401 before it
 * is 404, so probing reveals nothing.
 */
export function installGuard(app: FastifyInstance, ctx: WebContext): void {
  app.decorateRequest('session', null);
  app.decorateRequest('apiToken', null);
  app.addHook('onRequest', async (request, reply) => {
    const crossSite = crossSiteProblem(request);
    if (crossSite) {
      ctx.logger.warn({ method: request.method, url: request.url, ip: request.ip, why: crossSite }, 'cross-site request refused');
      return sendError(reply, 403, 'cross_site', `refused: a change sent by a page of another site (${crossSite})`);
    }
    request.session = ctx.sessions.get(request.cookies[SESSION_COOKIE]);
    const bearer = bearerToken(request.headers.authorization);
    request.apiToken = bearer === null ? null : ctx.apiTokens.verify(bearer);
    const auth = routeAuth(request);
    if (bearer !== null && !request.apiToken) return sendError(reply, 401, 'unauthorized', 'unknown or revoked API token (Authorization: Bearer)');
    if (auth === 'public') return;
    if (request.apiToken) {
      if (auth === 'session') {
        return sendError(reply, 403, 'token_not_allowed', 'this needs a logged-in user (session): API tokens cannot change the config, uplink, OTA, tokens or restart');
      }
      if (!request.apiToken.scopes.includes(auth.token)) {
        return sendError(reply, 403, 'token_scope', `this API token lacks the "${auth.token}" scope (it has: ${request.apiToken.scopes.join(', ') || 'none'})`);
      }
      // Browsers never attach an Authorization header on their own, so a bearer request cannot
      // be forged cross-site: no CSRF token needed.
      return;
    }
    if (!request.session) return sendError(reply, 401, 'unauthorized', 'log in first (no valid session)');
    if (!SAFE_METHODS.has(request.method) && !csrfMatches(request.headers['x-csrf-token'], request.session.csrf)) {
      return sendError(reply, 403, 'csrf', 'missing or wrong X-CSRF-Token header: reload the page and try again');
    }
  });
}

/**
 * The X-CSRF-Token header against the session's token in constant time: `!==` stops at the
 * first differing byte, which lets a patient attacker on the LAN learn the token byte by byte.
 */
export function csrfMatches(header: string | string[] | undefined, expected: string): boolean {
  if (typeof header !== 'string') return false;
  const given = Buffer.from(header, 'utf8');
  const wanted = Buffer.from(expected, 'utf8');
  // timingSafeEqual needs equal lengths; the length of a session's token is no secret.
  return given.length === wanted.length && timingSafeEqual(given, wanted);
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
      config: { auth: 'public' },
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
      config: { auth: 'public' },
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
      const key = `setup-ip:${addressKey(request.ip)}`;
      const wait = ctx.throttle.retryAfterMs(key);
      if (wait > 0) return lockedOut(reply, wait);
      if (!ctx.setupToken.active) {
        return sendError(reply, 403, 'setup_not_allowed', 'setup is closed: the owner exists; send SIGUSR2 to the daemon for a new setup token');
      }
      if (password.length < MIN_PASSWORD_LENGTH) {
        return sendError(reply, 400, 'weak_password', `password must be at least ${MIN_PASSWORD_LENGTH} characters`);
      }
      if (!ctx.setupToken.consume(token)) {
        ctx.throttle.fail(key);
        return sendError(reply, 403, 'bad_setup_token', 'wrong setup token: use the one the daemon printed last');
      }
      await ctx.users.setOwner(user, password);
      rmSync(ctx.setupTokenFile, { force: true });
      // A reset must lock out whoever had the old password or a token minted with it, and undo
      // lockouts they caused.
      ctx.sessions.destroyAll();
      const revoked = ctx.apiTokens.revokeAll();
      if (revoked > 0) ctx.logger.warn({ revoked }, 'every API token revoked by the owner reset');
      ctx.throttle.reset();
      ctx.logger.warn({ user }, 'web UI owner account set with the setup token');
      return startSession(reply, user);
    },
  );

  app.post(
    '/api/auth/login',
    {
      config: { auth: 'public' },
      schema: { tags: ['auth'], summary: 'Log in; sets the HttpOnly, SameSite=Strict session cookie', body: credentials, response: { 200: sessionReply, ...errorResponses } },
    },
    async (request, reply) => {
      const { user, password } = request.body as { user: string; password: string };
      const result = await ctx.throttle.attempt(request.ip, user, () => ctx.users.verify(user, password));
      if (result.outcome === 'locked') return lockedOut(reply, result.retryAfterMs);
      if (result.outcome === 'failed') {
        ctx.logger.warn({ user, ip: request.ip }, 'web UI login failed');
        return sendError(reply, 401, 'bad_credentials', 'wrong user name or password');
      }
      return startSession(reply, user);
    },
  );

  app.post(
    '/api/auth/logout',
    { config: { auth: 'session' }, schema: { tags: ['auth'], summary: 'End the session', response: { 204: { type: 'null' }, ...errorResponses } } },
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
