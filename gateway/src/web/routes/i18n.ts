import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { DriverDefinition } from '../../drivers/registry.ts';
import { UI_LANGS, uiCatalogs } from '../i18n.ts';

/**
 * /i18n/<lang>.json: the UI's catalog merged with every registered driver's and sink's texts (web/i18n.ts),
 * at the path the browser loads it from (ui/lib/i18n.js). Public, like the UI files (the login
 * page needs it), and served as they are: no-cache with an ETag, so an update of the box is seen
 * at once and an unchanged catalog costs a 304. Built once at start: a driver or sink whose texts
 * clash stops the web server with it and the key named, not the UI with a wrong text.
 */
export async function i18nRoutes(app: FastifyInstance, o: { drivers?: readonly DriverDefinition[] } = {}): Promise<void> {
  const catalogs = uiCatalogs(o.drivers);
  for (const lang of UI_LANGS) {
    const body = `${JSON.stringify(catalogs[lang], null, 2)}\n`;
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    app.get(`/i18n/${lang}.json`, { config: { auth: 'public' }, schema: { hide: true } }, async (request, reply) => {
      reply.header('cache-control', 'no-cache').header('etag', etag);
      if (request.headers['if-none-match'] === etag) return reply.code(304).send();
      return reply.type('application/json; charset=utf-8').send(body);
    });
  }
}
