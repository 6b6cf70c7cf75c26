/**
 * Host header attacks against a listening gateway:
 *  - DNS rebinding: a page of evil.example, its name re-pointed at 127.0.0.1, is run by a
 *    browser on the box. To the browser it is still evil.example, so it could read what the
 *    loopback listener answers without a login (the live readings). Its requests carry
 *    `Host: evil.example:<port>` and must be refused before any route runs.
 *  - The HTTP -> HTTPS redirect must not send a LAN browser to a host the request named.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { networkInterfaces } from 'node:os';
import test from 'node:test';
import { pino } from 'pino';
import { hostAllowed, hostOf } from './host-allowlist.ts';
import { startWebServer, type RunningWeb } from './start-web.ts';
import { webFixture, type Fixture } from './test-fixture.ts';

/** What the listener answers a plain-HTTP GET sent to `connect` with this Host header (undefined: none sent). */
function plainGet(connect: string, port: number, path: string, host: string | undefined): Promise<{ status: number; location?: string; error?: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: connect, port, path, setHost: false, headers: host === undefined ? {} : { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      const done = () => {
        resolve({ status: res.statusCode ?? 0, ...(res.headers.location ? { location: res.headers.location } : {}), ...(body.startsWith('{') ? { error: JSON.parse(body).error } : {}) });
        req.destroy();
      };
      // The live stream never ends: its headers are the answer (200 = the readings would flow).
      if (res.headers['content-type']?.startsWith('text/event-stream')) return done();
      res.on('data', (c) => (body += c));
      res.on('end', done);
    });
    req.on('error', reject);
    req.end();
  });
}

const LAN = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

async function started(t: test.TestContext, f: Fixture, host: string): Promise<{ web: RunningWeb; port: number }> {
  const web = await startWebServer({ gateway: f.gateway, configPath: f.configPath, configService: f.web.ctx.configService, logger: pino({ level: 'silent' }) }, { host, port: 0 });
  // Closed even when an assertion fails (a listening server would keep the test file alive).
  t.after(() => web.close());
  return { web, port: (web.app.server.address() as { port: number }).port };
}

test('DNS rebinding: the loopback plain-HTTP listener answers /api/live only to Host 127.0.0.1, localhost or [::1]', async (t) => {
  const f = await webFixture();
  t.after(() => f.close());
  const { web, port } = await started(t, f, '127.0.0.1');
  assert.match(web.url, /^http:/);

  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, '127.0.0.1', `LOCALHOST:${port}`]) {
    assert.equal((await plainGet('127.0.0.1', port, '/api/live?snapshot=true', host)).status, 200, host);
  }
  for (const host of [`evil.example:${port}`, `evil.example.:${port}`, `127.0.0.1.evil.example:${port}`, `localhost.evil.example:${port}`, `${LAN ?? '192.0.2.77'}:${port}`, 'a@127.0.0.1']) {
    const res = await plainGet('127.0.0.1', port, '/api/live?snapshot=true', host);
    assert.deepEqual(res, { status: 421, error: 'host_not_allowed' }, String(host));
  }
  // Without a Host at all node's HTTP server refuses the request itself (HTTP/1.1 requires it).
  assert.equal((await plainGet('127.0.0.1', port, '/api/live?snapshot=true', undefined)).status, 400);
  // Before any route: the UI shell, the health check and unknown paths too.
  for (const path of ['/', '/healthz', '/api/status', '/no/such/route']) {
    assert.equal((await plainGet('127.0.0.1', port, path, `evil.example:${port}`)).status, 421, path);
  }
});

test('on the shared HTTPS port the plain-HTTP loopback path keeps the Host check, and the redirect never goes to a foreign Host', async (t) => {
  const f = await webFixture();
  t.after(() => f.close());
  f.gateway.currentConfig().web.hostnames = ['pump3.local'];
  const { web, port } = await started(t, f, '0.0.0.0');
  assert.match(web.url, /^https:/);
  assert.equal((await plainGet('127.0.0.1', port, '/api/live?snapshot=true', `127.0.0.1:${port}`)).status, 200);
  assert.deepEqual(await plainGet('127.0.0.1', port, '/api/live?snapshot=true', `evil.example:${port}`), { status: 421, error: 'host_not_allowed' });

  if (!LAN) return t.skip('no non-loopback IPv4 address on this machine: the redirect needs a LAN peer');
  // From a LAN address plain HTTP is only redirected; the Location names this box.
  assert.deepEqual(await plainGet(LAN, port, '/x?y=1', `${LAN}:${port}`), { status: 308, location: `https://${LAN}:${port}/x?y=1` });
  assert.deepEqual(await plainGet(LAN, port, '/', `pump3.local:${port}`), { status: 308, location: `https://pump3.local:${port}/` });
  for (const host of [`evil.example:${port}`, 'evil.example', `${LAN}.evil.example`, '[::1]@evil.example']) {
    assert.deepEqual(await plainGet(LAN, port, '/login', host), { status: 308, location: `https://${LAN}:${port}/login` }, String(host));
  }
});

test('plain HTTP on a LAN address (web.https: false) answers the box\'s own addresses and configured names only', async (t) => {
  if (!LAN) return t.skip('no non-loopback IPv4 address on this machine');
  const f = await webFixture();
  t.after(() => f.close());
  const web = f.gateway.currentConfig().web;
  web.https = false;
  web.hostnames = ['pump3.local'];
  const { port } = await started(t, f, '0.0.0.0');
  assert.equal((await plainGet(LAN, port, '/healthz', `${LAN}:${port}`)).status, 200);
  assert.equal((await plainGet(LAN, port, '/healthz', `PUMP3.local.:${port}`)).status, 200);
  assert.deepEqual(await plainGet(LAN, port, '/healthz', `evil.example:${port}`), { status: 421, error: 'host_not_allowed' });
  assert.deepEqual(await plainGet(LAN, port, '/healthz', `192.0.2.250:${port}`), { status: 421, error: 'host_not_allowed' }, 'an address that is not this box');
});

test('hostOf reads only well-formed Host headers', () => {
  assert.equal(hostOf('127.0.0.1:8080'), '127.0.0.1');
  assert.equal(hostOf('[::1]:8080'), '::1');
  assert.equal(hostOf('Pump3.Local.'), 'pump3.local');
  for (const bad of ['', 'a b', 'a@b', 'a/b', '[::1', '[evil.example]:80', 'a:b:c', '127.0.0.1:123456']) assert.equal(hostOf(bad), null, bad);
  assert.equal(hostAllowed('localhost:1', '127.0.0.1', { names: ['evil.example'] }), true);
  assert.equal(hostAllowed('evil.example:1', '127.0.0.1', { names: ['evil.example'] }), false, 'a configured name does not open the loopback listener');
});
