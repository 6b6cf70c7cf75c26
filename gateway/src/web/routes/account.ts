import type { FastifyInstance } from 'fastify';
import { SESSION_COOKIE } from '../auth/sessions.ts';
import { MIN_PASSWORD_LENGTH } from '../auth/users.ts';
import type { WebContext } from '../context.ts';
import { errorResponses, sendError } from '../errors.ts';

/** Own password and "log out everywhere" for the logged-in user. */
export async function accountRoutes(app: FastifyInstance, ctx: WebContext): Promise<void> {
  app.post(
    '/api/auth/password',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['auth'],
        summary: 'Change your own password (the current one is asked again); every other session of the box ends',
        body: {
          type: 'object',
          required: ['current', 'password'],
          additionalProperties: false,
          properties: { current: { type: 'string', maxLength: 1024 }, password: { type: 'string', maxLength: 1024 } },
        },
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { current, password } = request.body as { current: string; password: string };
      const session = request.session!;
      // Same throttle as the login: a stolen session must not become a password oracle.
      const result = await ctx.throttle.attempt(request.ip, session.user, () => ctx.users.verify(session.user, current));
      if (result.outcome === 'locked') return sendError(reply, 429, 'locked_out', `too many failed attempts: try again in ${Math.ceil(result.retryAfterMs / 1000)} s`, { retryAfterMs: result.retryAfterMs });
      if (result.outcome === 'failed') return sendError(reply, 403, 'wrong_password', 'the current password is wrong');
      if (password.length < MIN_PASSWORD_LENGTH) return sendError(reply, 400, 'weak_password', `password must be at least ${MIN_PASSWORD_LENGTH} characters`);
      await ctx.users.setOwner(session.user, password);
      ctx.sessions.destroyAllExcept(session.id);
      ctx.logger.warn({ user: session.user }, 'web UI password changed; other sessions ended');
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/auth/logout-all',
    {
      config: { auth: 'session' },
      schema: { tags: ['auth'], summary: 'End every session of the box, this one included (a phone left on site, a shared laptop)', response: { 204: { type: 'null' }, ...errorResponses } },
    },
    async (request, reply) => {
      ctx.sessions.destroyAll();
      ctx.logger.warn({ user: request.session?.user }, 'web UI: every session ended');
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send();
    },
  );
}
