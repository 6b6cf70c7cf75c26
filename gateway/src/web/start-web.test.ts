import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import test from 'node:test';
import { pino } from 'pino';
import { startWebServer } from './start-web.ts';
import { webFixture } from './test-fixture.ts';

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

test('with web.https a self-signed certificate is generated on first start (key 0600) and reused afterwards', async () => {
  const f = await webFixture();
  try {
    const config = f.gateway.currentConfig();
    config.web.https = true;
    const lines: string[] = [];
    const deps = { gateway: f.gateway, configPath: f.configPath, logger: pino({ level: 'silent' }), announce: (l: string) => lines.push(l) };
    const first = await startWebServer(deps, { host: '127.0.0.1', port: 0 });
    const tlsDir = join(config.dataDir, 'web', 'tls');
    const cert = readFileSync(join(tlsDir, 'cert.pem'), 'utf8');
    assert.match(cert, /^-----BEGIN CERTIFICATE-----/);
    assert.equal(statSync(join(tlsDir, 'key.pem')).mode & 0o777, 0o600);
    assert.match(first.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(lines[0], `web UI: ${first.url}`);
    assert.match(lines[1]!, /no owner account yet\. Open the UI and enter this one-time setup token: [0-9a-f-]{29}$/);
    const health = await httpsGet(`${first.url}healthz`);
    assert.equal(health.status, 200);
    assert.equal(JSON.parse(health.body).status, 'ok');
    await first.close();

    const second = await startWebServer(deps, { host: '127.0.0.1', port: 0 });
    assert.equal(readFileSync(join(tlsDir, 'cert.pem'), 'utf8'), cert);
    const page = await httpsGet(second.url);
    assert.equal(page.status, 200);
    assert.match(page.body, /<script type="module" src="\/app.js">/);
    await second.close();
  } finally {
    await f.close();
  }
});
