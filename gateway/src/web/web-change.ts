import type { FastifyRequest } from 'fastify';
import type { ConfigChangeBy } from '../config/config-service.ts';

/**
 * A change asked for by a web request, as the config service records it: the logged-in user
 * (or the API token) and the route. Here, not beside ConfigStore (config/config-store.ts): the
 * session and the token are the web layer's, and config/ does not look up into it.
 */
export function webChange(request: FastifyRequest): ConfigChangeBy {
  const actor = request.session?.user ?? (request.apiToken ? `token ${request.apiToken.name}` : null);
  return { source: 'web', actor, what: `${request.method} ${request.url}` };
}
