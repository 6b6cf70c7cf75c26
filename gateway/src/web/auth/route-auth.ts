import type { FastifyRequest } from 'fastify';

/**
 * What an API token may do. Everything else (config, devices, uplink, OTA, tokens, restart,
 * logout) needs a logged-in user: a token leaked from a Node-RED flow must not reconfigure or
 * restart the box, or read what the config holds.
 */
export const TOKEN_SCOPES = ['live', 'read', 'write-points'] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

/**
 * The auth decision of one route, set in its route options (`config: { auth }`) and read from
 * the route fastify matched, never from the URL text: the router decodes and normalises the
 * path, so a prefix test on `request.url` is a different question from "which handler runs".
 *   'public'          no session needed (login, setup, health, the UI shell)
 *   'session'         a logged-in user (+ CSRF token on changes); API tokens refused
 *   { token: scope }  a logged-in user, or an API token that carries `scope`
 * A route without a decision (and the not-found handler) is treated as 'session': deny by default.
 */
export type RouteAuth = 'public' | 'session' | { token: TokenScope };

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
}

export function routeAuth(request: FastifyRequest): RouteAuth {
  return request.routeOptions.config?.auth ?? 'session';
}

export const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Why a state-changing request looks cross-site, or null. Second layer behind SameSite=Strict
 * and the CSRF token (and the only layer for login and setup, which have no session yet): a
 * browser names the page that sent a request in `Sec-Fetch-Site` and `Origin`; a page elsewhere
 * (even another device UI on the same site) is refused. Clients that send neither (curl,
 * Node-RED, scripts) are not browsers, so nothing can forge their requests.
 */
export function crossSiteProblem(request: FastifyRequest): string | null {
  if (SAFE_METHODS.has(request.method)) return null;
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `Sec-Fetch-Site is "${site}"`;
  const origin = request.headers.origin;
  if (origin === undefined) return null;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return `Origin "${origin}" is not a URL`;
  }
  if (host === '' || host !== request.headers.host?.toLowerCase()) return `Origin ${origin} is not this host (${request.headers.host ?? 'no Host header'})`;
  return null;
}
