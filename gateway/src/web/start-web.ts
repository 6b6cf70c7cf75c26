import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { WebDeps } from './context.ts';
import { buildWebApp, type WebApp } from './server.ts';
import { dualServerFactory } from './dual-server.ts';
import { ensureWebCertificate } from './tls.ts';

/** 127.0.0.0/8, ::1 and localhost: only this box can connect. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || /^::ffff:127\./.test(h);
}

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
  const host = override.host ?? web.host;
  const port = override.port ?? web.port;
  // Off loopback the password and the session cookie cross the station LAN: HTTPS unless the
  // config says otherwise. On loopback nobody else can listen, and plain HTTP spares the warning.
  const useHttps = web.https ?? !isLoopbackHost(host);
  const https = useHttps ? await ensureWebCertificate(join(config.dataDir, 'web')) : null;
  // HTTPS for everyone, plus plain HTTP for clients on the box itself on the same port
  // (Node-RED at http://127.0.0.1:8080 keeps working); plain HTTP from elsewhere is redirected.
  const built = await buildWebApp({ ...deps, https: useHttps }, https ? { serverFactory: dualServerFactory(https, () => ({ names: deps.gateway.currentConfig().web.hostnames })) as never } : {});
  await built.app.listen({ host, port });
  const address = built.app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const url = `${useHttps ? 'https' : 'http'}://${shownHost}:${actualPort}/`;
  deps.announce?.(`web UI: ${url}${host === '0.0.0.0' || host === '::' ? ` (listening on all interfaces, port ${actualPort})` : ''}`);
  if (https) {
    // The browser warns about a self-signed certificate; comparing this is how the engineer knows it is this box.
    deps.announce?.(`web UI certificate SHA-256 fingerprint: ${https.fingerprint256} (compare with what the browser shows)`);
  } else if (!isLoopbackHost(host)) {
    deps.logger.warn({ host }, 'web UI on plain HTTP on a non-loopback address: passwords and the session cookie cross the network in clear (remove web.https: false)');
  }
  if (!built.ctx.users.hasOwner()) built.issueSetupToken('first start');
  // A reset token does not survive a restart (it lives in memory): its file would only mislead.
  else rmSync(built.ctx.setupTokenFile, { force: true });
  return { ...built, url, close: () => built.app.close() };
}
