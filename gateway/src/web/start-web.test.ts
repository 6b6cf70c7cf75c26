import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request } from 'node:https';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { pino } from 'pino';
import { startWebServer, type RunningWeb } from './start-web.ts';
import { webFixture } from './test-fixture.ts';

/**
 * startWebServer, closed after the test even when an assertion fails before the test's own
 * close(): a listener left open keeps the test file alive until the runner's timeout.
 */
async function started(t: test.TestContext, ...args: Parameters<typeof startWebServer>): Promise<RunningWeb> {
  const web = await startWebServer(...args);
  let closing: Promise<void> | null = null;
  const close = () => (closing ??= web.close());
  t.after(close);
  return { ...web, close };
}

function httpsGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // The certificate is self-signed: the test checks the server, not a trust chain.
    const req = request(url, { rejectUnauthorized: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('with web.https a self-signed certificate is generated on first start (key 0600) and reused afterwards', async (t) => {
  const f = await webFixture();
  try {
    const config = f.gateway.currentConfig();
    config.web.https = true;
    const lines: string[] = [];
    const deps = { gateway: f.gateway, configPath: f.configPath, configService: f.web.ctx.configService, logger: pino({ level: 'silent' }), announce: (l: string) => lines.push(l) };
    const first = await started(t, deps, { host: '127.0.0.1', port: 0 });
    const tlsDir = join(config.dataDir, 'web', 'tls');
    const cert = readFileSync(join(tlsDir, 'cert.pem'), 'utf8');
    assert.match(cert, /^-----BEGIN CERTIFICATE-----/);
    assert.equal(statSync(join(tlsDir, 'key.pem')).mode & 0o777, 0o600);
    assert.match(first.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(lines[0], `web UI: ${first.url}`);
    // The engineer compares this with what the browser shows for the self-signed certificate.
    assert.equal(lines[1], `web UI certificate SHA-256 fingerprint: ${new X509Certificate(cert).fingerprint256} (compare with what the browser shows)`);
    assert.match(lines[1]!, /fingerprint: ([0-9A-F]{2}:){31}[0-9A-F]{2} /);
    assert.match(lines[2]!, /no owner account yet\. The one-time setup token is in \S+setup-token /);
    const health = await httpsGet(`${first.url}healthz`);
    assert.equal(health.status, 200);
    assert.equal(JSON.parse(health.body).status, 'ok');
    await first.close();

    const second = await started(t, deps, { host: '127.0.0.1', port: 0 });
    assert.equal(readFileSync(join(tlsDir, 'cert.pem'), 'utf8'), cert);
    const page = await httpsGet(second.url);
    assert.equal(page.status, 200);
    assert.match(page.body, /<script type="module" src="\/main.js">/);
    await second.close();
  } finally {
    await f.close();
  }
});

/** What a plain-HTTP client at `host` gets from the listener: a status (and where it is sent), or the socket error. */
function plainHttp(port: number, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => {
    const req = httpRequest({ host, port, path: '/healthz' }, (res) => {
      res.resume();
      resolve(`status ${res.statusCode}${res.headers.location ? ` -> ${res.headers.location}` : ''}`);
    });
    req.on('error', (err) => resolve(`error ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    req.end();
  });
}

test('off loopback HTTPS is the default (fingerprint printed, Secure cookie); on 127.0.0.1 plain HTTP stays', async (t) => {
  const f = await webFixture();
  try {
    const config = f.gateway.currentConfig();
    assert.equal(config.web.https, undefined, 'the fixture leaves web.https unset');
    const lines: string[] = [];
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => warnings.push(l) });
    const deps = { gateway: f.gateway, configPath: f.configPath, configService: f.web.ctx.configService, logger, announce: (l: string) => lines.push(l) };

    const lan = await started(t, deps, { host: '0.0.0.0', port: 0 });
    const port = (lan.app.server.address() as { port: number }).port;
    assert.equal(lan.url, `https://127.0.0.1:${port}/`);
    assert.match(lines[0]!, /\(listening on all interfaces/);
    assert.match(lines[1]!, /^web UI certificate SHA-256 fingerprint: ([0-9A-F]{2}:){31}[0-9A-F]{2} /);
    assert.equal((await httpsGet(`${lan.url}healthz`)).status, 200);
    // On the same port, plain HTTP from the box itself still works (Node-RED at http://127.0.0.1:8080) ...
    assert.equal(await plainHttp(port), 'status 200');
    // ... and from a LAN address it is only sent to https:// (nothing answered in clear).
    const lanAddress = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    if (lanAddress) assert.equal(await plainHttp(port, lanAddress), `status 308 -> https://${lanAddress}:${port}/healthz`);
    else t.diagnostic('no non-loopback IPv4 address on this machine: the redirect is checked by dual-server.test.ts only');
    assert.equal((await httpsGet(`https://127.0.0.1:${port}/healthz`)).status, 200);
    const setup = await lan.app.inject({ method: 'POST', url: '/api/auth/setup', payload: { token: lan.ctx.setupToken.issue(), user: 'admin', password: 'correct horse battery' } });
    assert.equal(setup.cookies.find((c) => c.name === 'kedge_session')!.secure, true);
    await lan.close();

    lines.length = 0;
    // A reset token left from before a restart is dead (it lived in memory): its file goes too.
    const stale = join(config.dataDir, 'web', 'setup-token');
    writeFileSync(stale, 'dead-token\n', { mode: 0o600 });
    const local = await started(t, deps, { host: '127.0.0.1', port: 0 });
    assert.equal(existsSync(stale), false);
    assert.match(local.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.ok(!lines.some((l) => l.includes('fingerprint')));
    assert.equal(await plainHttp((local.app.server.address() as { port: number }).port), 'status 200');
    await local.close();

    // Plain HTTP on a LAN address only when asked for, and then with a warning every start.
    config.web.https = false;
    const asked = await started(t, deps, { host: '0.0.0.0', port: 0 });
    assert.match(asked.url, /^http:/);
    assert.ok(warnings.some((w) => w.includes('passwords and the session cookie cross the network in clear')));
    await asked.close();
  } finally {
    await f.close();
  }
});
