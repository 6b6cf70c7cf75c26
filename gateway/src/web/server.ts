import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyCompress from '@fastify/compress';
import fastifyCookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyPluginOptions, type FastifyServerOptions } from 'fastify';
import { checkDataDepth, ConfigError } from '../config/load.ts';
import { VERSION } from '../gateway.ts';
import { installGuard, authRoutes } from './auth/routes.ts';
import { ApiTokenStore } from './auth/api-tokens.ts';
import { SessionStore } from './auth/sessions.ts';
import { SETUP_TOKEN_FILE, SetupToken } from './auth/setup-token.ts';
import { writeSecretFile } from '../secrets.ts';
import { LoginThrottle } from './auth/throttle.ts';
import { DEFAULT_SCRYPT, UserStore } from './auth/users.ts';
import { ConfigStore, LocalOnlyError } from '../config/config-store.ts';
import { ConfigApplyError } from '../config/config-service.ts';
import type { WebContext, WebDeps } from './context.ts';
import { sendError } from './errors.ts';
import { hostAllowed } from './host-allowlist.ts';
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
import { uplinkFormRoutes } from './routes/uplink-forms.ts';
import { otaRoutes } from '../ota/routes.ts';
import type { RouteAuth } from './auth/route-auth.ts';
import { accountRoutes } from './routes/account.ts';
import { boxRoutes } from './routes/box.ts';
import { configCheckRoutes } from './routes/config-check.ts';
import { driverFormRoutes } from './routes/driver-forms.ts';
import { registerRoutes } from './routes/registers.ts';
import { trafficRoutes } from './routes/traffic.ts';
import { vendorRoutes } from './routes/vendor.ts';
import { i18nRoutes } from './routes/i18n.ts';

// The literal new URL form is what the production build (scripts/src/build) maps into dist/assets.
export const UI_DIR = fileURLToPath(new URL('./ui/', import.meta.url));

export interface WebApp {
  app: FastifyInstance;
  ctx: WebContext;
  /**
   * Every route registered with its auth decision (the OpenAPI test checks each API route is
   * documented; the route-table test probes each one and fails on a route without a decision).
   */
  routes: Array<{ method: string; url: string; readonly auth: RouteAuth | undefined }>;
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
  const { configService } = deps;
  const ctx: WebContext = {
    ...deps,
    users: new UserStore(webDir, deps.scryptN ? { ...DEFAULT_SCRYPT, N: deps.scryptN } : DEFAULT_SCRYPT),
    sessions: new SessionStore(config.web.sessionTtlMs, deps.now),
    apiTokens: new ApiTokenStore(webDir),
    throttle: new LoginThrottle({ ...deps.throttle, ...(deps.now ? { now: deps.now } : {}) }),
    setupToken: new SetupToken(),
    setupTokenFile: join(webDir, SETUP_TOKEN_FILE),
    configStore: new ConfigStore(configService, () => deps.gateway.currentConfig()),
    configService,
    dataDir: config.dataDir,
  };

  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024, ...serverOptions } as FastifyServerOptions);

  // Against DNS rebinding: plain HTTP is answered only when the Host names this box (loopback:
  // only 127.0.0.1, localhost, [::1]); first of all, for every route and for unknown ones.
  // HTTPS is left out: a rebinding page would first have to get the self-signed certificate
  // accepted for its own name.
  app.addHook('onRequest', async (request, reply) => {
    const socket = request.raw.socket as { encrypted?: boolean; localAddress?: string };
    if (socket.encrypted) return;
    if (!hostAllowed(request.headers.host, socket.localAddress, { names: deps.gateway.currentConfig().web.hostnames })) {
      return sendError(reply, 421, 'host_not_allowed', `Host "${String(request.headers.host ?? '')}" is not this gateway: open it as http://127.0.0.1:<port> (or add the name to web.hostnames)`);
    }
  });

  // A deep body (a device of 5000 nested arrays) would overflow the YAML and JSON code of the
  // config routes before the loader checks the text (config/config-shape.ts): 400 here, for all.
  app.addHook('preValidation', async (request) => {
    if (request.body !== null && typeof request.body === 'object') checkDataDepth(request.body, 'request body');
  });

  const routes: WebApp['routes'] = [];
  app.addHook('onRoute', (r) => {
    // Read later: a plugin's own onRoute hook (withAuth below) may set the decision after this one ran.
    for (const method of [r.method].flat()) routes.push({ method, url: r.url, get auth() { return r.config?.auth; } });
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
  // gzip/brotli for everything above 1 KiB (the UI on metered 4G); the live stream is written
  // raw (hijacked) and so is never buffered by this.
  await app.register(fastifyCompress, { global: true, threshold: 1024 });

  app.setErrorHandler((err, _request, reply) => {
    if (err instanceof ConfigError) {
      // line/column: the system page shows where in the YAML text each problem is.
      const issues = err.issues.map((i) => ({ path: i.path, message: i.message, ...(i.line !== undefined ? { line: i.line, column: i.column ?? 1 } : {}) }));
      return sendError(reply, 400, err instanceof LocalOnlyError ? 'config_local_only' : 'config_invalid', err.message, { issues });
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
      status: { type: 'string', enum: ['ok', 'degraded', 'fail'] },
      checks: {
        type: 'object',
        additionalProperties: { type: 'object', properties: { ok: { type: 'boolean' }, detail: { type: 'string' } } },
      },
      clock: {
        type: 'object',
        properties: {
          state: { type: 'string', enum: ['ok', 'wrong'] },
          reason: { type: ['string', 'null'] },
          offsetMs: { type: 'number' },
          jumps: { type: 'object', properties: { forward: { type: 'integer' }, back: { type: 'integer' } } },
          lastJump: {
            type: ['object', 'null'],
            properties: { deltaMs: { type: 'number' }, direction: { type: 'string' }, wallAfter: { type: 'string' } },
          },
        },
      },
      uplinks: {
        type: 'array',
        description: 'every configured uplink; one being down is information, not a failure of the box (the log keeps its readings)',
        items: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            kind: { type: 'string' },
            state: { type: 'string' },
            url: { type: 'string' },
            ackedSeq: { type: 'integer' },
            unsent: { type: 'integer' },
            evicted: { type: 'integer' },
            lastError: { type: ['string', 'null'] },
          },
        },
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
  await app.register(uplinkFormRoutes, ctx);
  await app.register(logRoutes, ctx);
  await app.register(systemRoutes, ctx);
  await app.register(tokenRoutes, ctx);
  await app.register(liveRoutes, ctx);
  await app.register(pointRoutes, ctx);
  await app.register(driverFormRoutes, ctx);
  await app.register(registerRoutes, ctx);
  await app.register(trafficRoutes, ctx);
  await app.register(boxRoutes, ctx);
  await app.register(accountRoutes, ctx);
  await app.register(configCheckRoutes, ctx);
  await app.register(vendorRoutes);
  // The message catalogs with every driver's and sink's texts merged in (the static i18n/*.json are the base only).
  await app.register(i18nRoutes);
  // Plugins from other modules: session-only unless a route of theirs decides otherwise.
  if (deps.otaAgent) await app.register(withAuth('session', otaRoutes), { agent: deps.otaAgent });
  for (const plugin of deps.extraRoutes ?? []) await app.register(withAuth('session', plugin));

  app.get(
    '/metrics',
    { config: { auth: 'public' }, schema: { tags: ['monitoring'], summary: 'Prometheus metrics (text exposition format)', security: [] } },
    async (_request, reply) => {
      reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );
  app.get(
    '/healthz',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['monitoring'],
        summary: '200 when the log is writable and every device loop polls (status degraded while the wall clock is known wrong); 503 otherwise',
        security: [],
        response: {
          200: { $ref: 'health#' },
          503: { $ref: 'health#' },
        },
      },
    },
    async (_request, reply) => {
      const health = checkHealth(deps.gateway, deps.monoNow?.());
      // degraded (a wrong wall clock) is still 200: see DEGRADING_CHECKS in health.ts.
      return reply.code(health.status === 'fail' ? 503 : 200).send(health);
    },
  );

  // The UI shell is public (it holds nothing but code). wildcard: false registers one route per
  // file at start instead of a catch-all, so an unknown path reaches the not-found handler behind
  // the guard (401 before 404) instead of a public wildcard route.
  await app.register(
    withAuth('public', async (ui) => {
      // no-cache: the browser keeps the files and revalidates them (ETag, 304), so an update of
      // the box is seen at once and an unchanged file costs a few bytes on a metered link.
      await ui.register(fastifyStatic, {
        root: UI_DIR,
        prefix: '/',
        index: ['index.html'],
        cacheControl: false,
        wildcard: false,
        // The base catalogs: the browser gets them merged with the drivers' texts (routes/i18n.ts).
        globIgnore: ['i18n/**'],
        setHeaders: (res) => res.setHeader('cache-control', 'no-cache'),
      });
    }),
  );

  return {
    app,
    ctx,
    routes,
    issueSetupToken(reason) {
      const token = ctx.setupToken.issue();
      // stdout of a service goes to journald, which keeps it on disk for whoever may read the
      // journal: the token goes to a file only the daemon's user (and root) can read, and to
      // the console itself only when that is a terminal someone is looking at.
      mkdirSync(webDir, { recursive: true, mode: 0o700 });
      writeSecretFile(ctx.setupTokenFile, `${token}\n`);
      const what = reason === 'first start' ? 'web UI: no owner account yet.' : 'web UI: password reset requested on the console.';
      deps.announce?.(
        deps.consoleIsTerminal
          ? `${what} Open the UI and enter this one-time setup token: ${token}`
          : `${what} The one-time setup token is in ${ctx.setupTokenFile} (mode 0600, not in this log): sudo cat ${ctx.setupTokenFile}`,
      );
      return token;
    },
  };
}

/**
 * Wraps a plugin so that each of its routes without an auth decision of its own gets `auth`:
 * the decision for routes written elsewhere (OTA, the static UI files) is made here, visibly.
 */
function withAuth<O extends FastifyPluginOptions>(auth: RouteAuth, plugin: FastifyPluginAsync<O>): FastifyPluginAsync<O> {
  return async (scope, opts) => {
    scope.addHook('onRoute', (r) => {
      if (r.config?.auth === undefined) r.config = { ...r.config, auth };
    });
    await scope.register(plugin, opts);
  };
}
