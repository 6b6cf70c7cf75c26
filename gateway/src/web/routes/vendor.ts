import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';

const require = createRequire(import.meta.url);
/** The folder of a package entry's CommonJS build, where its ESM build (.mjs) sits beside it. */
const distDir = (specifier: string) => dirname(require.resolve(specifier));

/**
 * The UI's view library, served from node_modules (no CDN: boxes often have no internet).
 * The browser finds them through the import map in index.html. Served with revalidation
 * (no-cache + ETag), like the UI files: an update of the box is seen at once.
 */
export const VENDOR_FILES: Record<string, string> = {
  'preact.mjs': join(distDir('preact'), 'preact.mjs'),
  'hooks.mjs': join(distDir('preact/hooks'), 'hooks.mjs'),
  'htm.mjs': join(distDir('htm'), 'htm.mjs'),
};

export async function vendorRoutes(app: FastifyInstance): Promise<void> {
  for (const [name, path] of Object.entries(VENDOR_FILES)) {
    const body = readFileSync(path, 'utf8');
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    app.get(`/vendor/${name}`, { config: { auth: 'public' }, schema: { hide: true } }, async (request, reply) => {
      reply.header('cache-control', 'no-cache').header('etag', etag);
      if (request.headers['if-none-match'] === etag) return reply.code(304).send();
      return reply.type('text/javascript; charset=utf-8').send(body);
    });
  }
}
