import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import test from 'node:test';
import { waitFor } from '@kedge/testkit/wait.ts';
import type { LiveEvent } from './routes/live.ts';
import { WRITE_ERROR_STATUS } from './routes/points.ts';
import { webFixture, type Client, type Fixture } from './test-fixture.ts';

let f: Fixture;
let owner: Client;
let token: string;
let tokenId: string;
let url: string;

test.before(async () => {
  f = await webFixture();
  owner = await f.setup();
  const res = await owner.request('POST', '/api/tokens', { name: 'node-red', scopes: ['live', 'read', 'write-points'] });
  assert.equal(res.statusCode, 201, res.body);
  ({ token, id: tokenId } = res.json<{ token: string; id: string }>());
  await f.web.app.listen({ host: '127.0.0.1', port: 0 });
  const address = f.web.app.server.address() as { port: number };
  url = `http://127.0.0.1:${address.port}`;
});
test.after(() => f.close());

const bearer = (method: string, path: string, body?: unknown, t = token) =>
  f.web.app.inject({
    method: method as 'GET',
    url: path,
    headers: { authorization: `Bearer ${t}` },
    ...(body === undefined ? {} : { payload: body as object }),
  });

/** Reads SSE events from a real connection until `count` reading events arrived. */
function readLive(path: string, count: number, headers: Record<string, string> = {}): Promise<{ status: number; events: LiveEvent[]; hello: unknown }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { headers }, (res) => {
      const events: LiveEvent[] = [];
      let hello: unknown = null;
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (block.includes('event: hello')) hello = JSON.parse(data!);
          if (block.includes('event: reading')) events.push(JSON.parse(data!) as LiveEvent);
        }
        if (events.length >= count) {
          req.destroy();
          resolve({ status: res.statusCode!, events, hello });
        }
      });
      res.on('end', () => resolve({ status: res.statusCode!, events, hello }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('an API token is stored only as a SHA-256 hash in a 0600 file and shown once', async () => {
  const file = join(f.gateway.currentConfig().dataDir, 'web', 'api-tokens.json');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const text = readFileSync(file, 'utf8');
  assert.ok(!text.includes(token), 'the token itself is on disk');
  assert.match(token, /^kedge_[A-Za-z0-9_-]{43}$/);
  const list = await owner.request('GET', '/api/tokens');
  assert.deepEqual(
    list.json().map((t: Record<string, unknown>) => Object.keys(t).sort()),
    [['createdAt', 'createdBy', 'id', 'name', 'scopes']],
  );
  assert.equal(list.json()[0].createdBy, 'admin');
});

test('a bearer token is accepted on API routes without a CSRF token; a wrong one is refused', async () => {
  const status = await bearer('GET', '/api/status');
  assert.equal(status.statusCode, 200);
  assert.equal(status.json().gateway, 'web-test');
  // A change (non-GET) with the token and no X-CSRF-Token: a write to a read-only point gets past the guard.
  const write = await bearer('POST', '/api/points/water-meter/flow/write', { value: 1 });
  assert.equal(write.json().error, 'not_writable');
  const wrong = await bearer('GET', '/api/status', undefined, `kedge_${'A'.repeat(43)}`);
  assert.equal(wrong.statusCode, 401);
  assert.equal(wrong.json().message, 'unknown or revoked API token (Authorization: Bearer)');
});

test('API tokens cannot create, list or revoke tokens (a leaked token must not mint more)', async () => {
  for (const [method, path, body] of [
    ['POST', '/api/tokens', { name: 'x' }],
    ['GET', '/api/tokens', undefined],
    ['DELETE', `/api/tokens/${tokenId}`, undefined],
  ] as const) {
    const res = await bearer(method, path, body);
    assert.equal(res.statusCode, 403, `${method} ${path}`);
    assert.equal(res.json().error, 'token_not_allowed');
  }
});

test('point writes map WriteError codes to HTTP statuses with the gateway message', async () => {
  assert.deepEqual(WRITE_ERROR_STATUS, { not_found: 404, not_writable: 403, invalid_value: 400, device_error: 502, timeout: 504, unsupported: 501 });
  const notWritable = await bearer('POST', '/api/points/water-meter/flow/write', { value: 1 });
  assert.equal(notWritable.statusCode, 403);
  assert.deepEqual(notWritable.json(), {
    error: 'not_writable',
    message: 'point water-meter/flow is not writable: the config must mark it "writable: true" before it can be written',
  });
  const unknown = await bearer('POST', '/api/points/no-such-meter/flow/write', { value: 1 });
  assert.equal(unknown.statusCode, 404);
  assert.equal(unknown.json().error, 'not_found');
  assert.match(unknown.json().message, /no device "no-such-meter"/);
  const badBody = await bearer('POST', '/api/points/water-meter/flow/write', { value: { nested: 1 } });
  assert.equal(badBody.statusCode, 400);
  assert.equal(badBody.json().error, 'validation');
  // A session without the CSRF token is still refused: only bearer requests skip it.
  const noCsrf = await owner.request('POST', '/api/points/water-meter/flow/write', { value: 1 }, { 'x-csrf-token': 'wrong' });
  assert.equal(noCsrf.statusCode, 403);
  assert.equal(noCsrf.json().error, 'csrf');
});

test('/api/live streams every logged reading with unit and quality, filtered by point', async () => {
  const { status, events, hello } = await readLive('/api/live?points=water-meter/flow&snapshot=false', 3);
  assert.equal(status, 200);
  assert.deepEqual(hello, { gateway: 'web-test' });
  assert.equal(events.length >= 3, true);
  for (const e of events) {
    assert.deepEqual(Object.keys(e).sort(), ['device', 'point', 'quality', 'ts', 'unit', 'value']);
    assert.equal(e.point, 'water-meter/flow');
    assert.equal(e.device, 'water-meter');
    assert.equal(e.quality, 'good');
    assert.equal(typeof e.value, 'number');
    assert.equal(e.unit, null);
  }
});

test('/api/live first sends the current value of each matching point, flagged snapshot', async () => {
  const points = f.gateway.currentConfig().devices[0]!.points.map((p) => `water-meter/${p.id}`);
  await waitFor(() => points.every((p) => f.gateway.status().live[p]), { what: 'a live value of every point' });
  const { events } = await readLive('/api/live?devices=water-meter', points.length);
  assert.deepEqual(events.map((e) => e.point).sort(), [...points].sort());
  assert.ok(events.every((e) => e.snapshot === true));
});

test('/api/live is open on loopback, needs a session or token from other hosts, and names unknown points', async () => {
  const remote = await f.web.app.inject({ method: 'GET', url: '/api/live', remoteAddress: '192.168.1.50' });
  assert.equal(remote.statusCode, 401);
  assert.match(remote.json().message, /live readings from another host need a session or an API token/);
  const badToken = await readLive('/api/live', 1, { authorization: 'Bearer kedge_nope' });
  assert.equal(badToken.status, 401);
  const unknown = await f.web.app.inject({ method: 'GET', url: '/api/live?points=water-meter/nope,ghost/x&devices=ghost' });
  assert.equal(unknown.statusCode, 404);
  assert.equal(
    unknown.json().message,
    'unknown device "ghost"; unknown point "water-meter/nope" (expected <device>/<point>); unknown point "ghost/x" (expected <device>/<point>)',
  );
  const withToken = await readLive('/api/live?points=water-meter/flow&snapshot=false', 1, { authorization: `Bearer ${token}` });
  assert.equal(withToken.status, 200);
  assert.equal(withToken.events[0]!.point, 'water-meter/flow');
});

test('a revoked token is refused from the next request on', async () => {
  const extra = (await owner.request('POST', '/api/tokens', { name: 'temporary' })).json<{ token: string; id: string }>();
  assert.equal((await bearer('GET', '/api/status', undefined, extra.token)).statusCode, 200);
  assert.equal((await owner.request('DELETE', `/api/tokens/${extra.id}`)).statusCode, 204);
  assert.equal((await bearer('GET', '/api/status', undefined, extra.token)).statusCode, 401);
  assert.equal((await owner.request('DELETE', `/api/tokens/${extra.id}`)).statusCode, 404);
});

test('/api/live?status=true (device states, overview) needs what /api/status needs, even on loopback', async () => {
  const open = await fetch(`${url}/api/live?status=true`);
  assert.equal(open.status, 401);
  assert.match(((await open.json()) as { message: string }).message, /status=true needs a session or an API token with the "read" scope/);
  const liveOnly = (await owner.request('POST', '/api/tokens', { name: 'live only', scopes: ['live'] })).json<{ token: string }>();
  const scoped = await fetch(`${url}/api/live?status=true`, { headers: { authorization: `Bearer ${liveOnly.token}` } });
  assert.equal(scoped.status, 403);
  assert.equal(((await scoped.json()) as { error: string }).error, 'token_scope');
  // The readings alone stay open on loopback.
  const readings = await readLive('/api/live?snapshot=false', 1);
  assert.equal(readings.status, 200);
});
