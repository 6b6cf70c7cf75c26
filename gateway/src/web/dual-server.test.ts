import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import Fastify from 'fastify';
import { dualServerFactory, routeConnection } from './dual-server.ts';
import { ensureWebCertificate } from './tls.ts';

test('a connection goes by its first byte and its peer: TLS anywhere, plain HTTP only from loopback', () => {
  assert.equal(routeConnection(0x16, '192.0.2.7'), 'tls');
  assert.equal(routeConnection(0x16, '127.0.0.1'), 'tls');
  assert.equal(routeConnection('G'.charCodeAt(0), '127.0.0.1'), 'plain');
  assert.equal(routeConnection('P'.charCodeAt(0), '::1'), 'plain');
  assert.equal(routeConnection('P'.charCodeAt(0), '::ffff:127.0.0.5'), 'plain');
  assert.equal(routeConnection('P'.charCodeAt(0), '192.0.2.7'), 'redirect');
  assert.equal(routeConnection('G'.charCodeAt(0), '::ffff:192.0.2.7'), 'redirect');
});

/**
 * Far below fastify's keep-alive timeout (72 s): a close that only ends once idle connections
 * time out by themselves (the inner servers not closing them) runs past it and fails.
 */
const CLOSE_BUDGET_MS = 30_000;

test('one port answers HTTPS and loopback HTTP with the same app, and closes with idle and silent clients connected', { timeout: CLOSE_BUDGET_MS }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-dual-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cert = await ensureWebCertificate(dir);
  const app = Fastify({ serverFactory: dualServerFactory(cert) as never });
  app.get('/who', async (request) => ({ protocol: request.protocol }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };

  const agent = new Agent({ keepAlive: true, rejectUnauthorized: false });
  const overTls = await new Promise<string>((resolve, reject) => {
    httpsRequest({ host: '127.0.0.1', port, path: '/who', agent }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
  assert.deepEqual(JSON.parse(overTls), { protocol: 'https' });
  const plainAgent = new HttpAgent({ keepAlive: true });
  const plain = await new Promise<string>((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, path: '/who', agent: plainAgent }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
  assert.deepEqual(JSON.parse(plain), { protocol: 'http' });

  // A client that connected and never sent a byte, and the kept-alive TLS connection above:
  // close must still finish (it resolving is the event this waits for).
  const silent = connect(port, '127.0.0.1');
  await new Promise((resolve) => silent.once('connect', resolve));
  const silentClosed = new Promise((resolve) => silent.once('close', resolve));
  await app.close();
  await silentClosed;
  agent.destroy();
  plainAgent.destroy();
});
