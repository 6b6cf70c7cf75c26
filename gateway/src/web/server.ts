import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyCookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { ConfigError } from '../config/load.ts';
import { VERSION } from '../gateway.ts';
import { installGuard, authRoutes } from './auth/routes.ts';
import { ApiTokenStore } from './auth/api-tokens.ts';
import { SessionStore } from './auth/sessions.ts';
import { SetupToken } from './auth/setup-token.ts';
import { LoginThrottle } from './auth/throttle.ts';
import { DEFAULT_SCRYPT, UserStore } from './auth/users.ts';
import { ConfigApplyError, ConfigStore } from './config-store.ts';
import type { WebContext, WebDeps } from './context.ts';
import { sendError } from './errors.ts';
import { checkHealth } from './health.ts';
import { createMetrics } from './metrics.ts';
import { configRoutes } from './routes/config.ts';
import { lazyDocsRoutes } from './routes/docs.ts';
import { deviceRoutes } from './routes/devices.ts';
import { liveRoutes } from './routes/live.ts';
import { logRoutes } from './routes/logs.ts';
import { pointRoutes } from './routes/points.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { profileRoutes } from './routes/profiles.ts';
import { statusRoutes } from './routes/status.ts';
import { systemRoutes } from './routes/system.ts';
import { testReadRoutes } from './routes/test-read.ts';
import { uplinkRoutes } from './routes/uplink.ts';
import { otaRoutes } from '../ota/routes.ts';

// The literal new URL form is what the production build (scripts/src/build) maps into dist/assets.
export const UI_DIR = fileURLToPath(new URL('./ui/', import.meta.url));

export interface WebApp {
  app: FastifyInstance;
  ctx: WebContext;
  /** Every route registered (the OpenAPI test checks each API route is documented). */
  routes: Array<{ method: string; url: string }>;
  /**
   * Issues a new one-time setup token and prints it with `announce`: on first start (no owner
   * yet) and on the console reset (SIGUSR2), which is how an owner locked out or without a
   * password gets back in. Returns the token.
   */
  issueSetupToken(reason: 'first start' | 'reset'): string;
}

/**
 * The local web UI and its HTTP API: auth (setup token, scrypt, sessions), CSRF guard, one
 * plugin per feature with JSON schemas (validation and the OpenAPI document at /api/docs come
 * from the same schemas), Prometheus metrics, health, and the static UI.
 */
export async function buildWebApp(deps: WebDeps, serverOptions: FastifyServerOptions & { https?: object | null } = {}): Promise<WebApp> {
  const config = deps.gateway.currentConfig();
  const webDir = join(config.dataDir, 'web');
  const ctx: WebContext = {
    ...deps,
    users: new UserStore(webDir, deps.scryptN ? { ...DEFAULT_SCRYPT, N: deps.scryptN } : DEFAULT_SCRYPT),
    sessions: new SessionStore(config.web.sessionTtlMs, deps.now),
    apiTokens: new ApiTokenStore(webDir),
    throttle: new LoginThrottle({ ...deps.throttle, ...(deps.now ? { now: deps.now } : {}) }),
    setupToken: new SetupToken(),
    configStore: new ConfigStore(deps.configPath, (next) => deps.gateway.reload(next)),
    dataDir: config.dataDir,
  };

  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024, ...serverOptions } as FastifyServerOptions);

  const routes: WebApp['routes'] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url });
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'kedge gateway local API',
        version: VERSION,
        description:
          'The API behind the local web UI. Log in with POST /api/auth/login (session cookie); every non-GET request needs the X-CSRF-Token header with the csrfToken of the session.',
      },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: 'kedge_session' },
          csrf: { type: 'apiKey', in: 'header', name: 'X-CSRF-Token' },
          // Machine clients (Node-RED): POST /api/tokens, then Authorization: Bearer <token>, no CSRF token.
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ session: [], csrf: [] }, { bearer: [] }],
    },
  });
  // Ships its own assets: the docs work on a box without internet. Loaded on the first request.
  await lazyDocsRoutes(app, { routePrefix: '/api/docs' });
  await app.register(fastifyCookie);

  app.setErrorHandler((err, _request, reply) => {
    if (err instanceof ConfigError) {
      return sendError(reply, 400, 'config_invalid', err.message, { issues: err.issues.map((i) => ({ path: i.path, message: i.message })) });
    }
    if (err instanceof ConfigApplyError) return sendError(reply, 500, 'config_apply_failed', err.message);
    const e = err as { validation?: unknown; statusCode?: number; message: string };
    if (e.validation) return sendError(reply, 400, 'validation', e.message);
    if (e.statusCode && e.statusCode < 500) return reply.code(e.statusCode).send({ error: 'validation', message: e.message });
    deps.logger.error({ err }, 'web API error');
    return sendError(reply, 500, 'internal', e.message);
  });

  app.addSchema({
    $id: 'health',
    type: 'object',
    properties: {
      status: { type: 'string', enum: ['ok', 'fail'] },
      checks: {
        type: 'object',
        additionalProperties: { type: 'object', properties: { ok: { type: 'boolean' }, detail: { type: 'string' } } },
      },
    },
  });

  installGuard(app, ctx);
  const metrics = createMetrics(deps.gateway);
  app.addHook('onClose', async () => metrics.close());

  await app.register(authRoutes, ctx);
  await app.register(statusRoutes, ctx);
  await app.register(deviceRoutes, ctx);
  await app.register(testReadRoutes, ctx);
  await app.register(profileRoutes, ctx);
  await app.register(configRoutes, ctx);
  await app.register(uplinkRoutes, ctx);
  await app.register(logRoutes, ctx);
  await app.register(systemRoutes, ctx);
  await app.register(tokenRoutes, ctx);
  await app.register(liveRoutes, ctx);
  await app.register(pointRoutes, ctx);
  if (deps.otaAgent) await app.register(otaRoutes, { agent: deps.otaAgent });
  for (const plugin of deps.extraRoutes ?? []) await app.register(plugin);

  app.get(
    '/metrics',
    { config: { public: true }, schema: { tags: ['monitoring'], summary: 'Prometheus metrics (text exposition format)', security: [] } },
    async (_request, reply) => {
      reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );
  app.get(
    '/healthz',
    {
      config: { public: true },
      schema: {
        tags: ['monitoring'],
        summary: '200 when the log is writable and every device loop polls; 503 otherwise',
        security: [],
        response: {
          200: { $ref: 'health#' },
          503: { $ref: 'health#' },
        },
      },
    },
    async (_request, reply) => {
      const health = checkHealth(deps.gateway, deps.now?.() ?? Date.now());
      return reply.code(health.status === 'ok' ? 200 : 503).send(health);
    },
  );

  await app.register(fastifyStatic, { root: UI_DIR, prefix: '/', index: ['index.html'], cacheControl: false });

  return {
    app,
    ctx,
    routes,
    issueSetupToken(reason) {
      const token = ctx.setupToken.issue();
      deps.announce?.(
        reason === 'first start'
          ? `web UI: no owner account yet. Open the UI and enter this one-time setup token: ${token}`
          : `web UI: password reset requested on the console. One-time setup token: ${token}`,
      );
      return token;
    },
  };
}
