import { join } from 'node:path';
import type { WebDeps } from './context.ts';
import { buildWebApp, type WebApp } from './server.ts';
import { ensureWebCertificate } from './tls.ts';

export interface RunningWeb extends WebApp {
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the UI as configured in `web:` (host, port, https). Prints the URL, and on a box
 * without an owner account the one-time setup token, with `deps.announce` (the console).
 */
export async function startWebServer(deps: WebDeps, override: { port?: number; host?: string } = {}): Promise<RunningWeb> {
  const config = deps.gateway.currentConfig();
  const web = config.web;
  const https = web.https ? await ensureWebCertificate(join(config.dataDir, 'web')) : null;
  const built = await buildWebApp({ ...deps, https: web.https }, https ? { https: { key: https.key, cert: https.cert } } : {});
  const host = override.host ?? web.host;
  const port = override.port ?? web.port;
  await built.app.listen({ host, port });
  const address = built.app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const url = `${web.https ? 'https' : 'http'}://${shownHost}:${actualPort}/`;
  deps.announce?.(`web UI: ${url}${host === '0.0.0.0' ? ` (listening on all interfaces, port ${actualPort})` : ''}`);
  if (!built.ctx.users.hasOwner()) built.issueSetupToken('first start');
  return { ...built, url, close: () => built.app.close() };
}
