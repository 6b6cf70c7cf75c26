import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Headers of the inner reply that belong to its own connection, not to ours. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding']);

/**
 * The API docs (swagger-ui) at `routePrefix`, loaded on the first request. Registered up front
 * they cost memory on every box although nobody opens them in the field; here the first GET
 * builds a small inner app with @fastify/swagger-ui serving the OpenAPI document that
 * @fastify/swagger collected on `app`, and every docs request is answered by it (inject).
 */
export async function lazyDocsRoutes(app: FastifyInstance, opts: { routePrefix: string }): Promise<void> {
  let inner: Promise<FastifyInstance> | null = null;
  const load = async () => {
    const [{ default: Fastify }, { default: swagger }, { default: swaggerUi }] = await Promise.all([
      import('fastify'),
      import('@fastify/swagger'),
      import('@fastify/swagger-ui'),
    ]);
    const docs = Fastify({ logger: false });
    // app.swagger() is typed as the 3.1 union, the static option as 2.0 | 3.0; the document is 3.0.3.
    await docs.register(swagger, { mode: 'static', specification: { document: app.swagger() as never } });
    await docs.register(swaggerUi, { routePrefix: opts.routePrefix });
    await docs.ready();
    return docs;
  };
  app.addHook('onClose', async () => {
    await (await inner?.catch(() => null))?.close();
  });
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    inner ??= load().catch((err: unknown) => {
      inner = null;
      throw err;
    });
    const res = await (await inner).inject({ method: request.method as 'GET' | 'HEAD', url: request.url, headers: request.headers });
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) reply.header(k, v);
    return reply.code(res.statusCode).send(res.rawPayload);
  };
  const route = { config: { auth: 'public' as const }, schema: { hide: true } };
  app.get(opts.routePrefix, route, handler);
  app.get(`${opts.routePrefix}/*`, route, handler);
}
