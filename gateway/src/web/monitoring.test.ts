import assert from 'node:assert/strict';
import test from 'node:test';
import { waitFor } from '@kedge/testkit/wait.ts';
import { webFixture, type Fixture } from './test-fixture.ts';

let clock: number | null = null;
/** The monotonic time /healthz measures ages with; null: the real one. */
let mono: number | null = null;
let f: Fixture;

test.before(async () => {
  f = await webFixture({ now: () => clock ?? Date.now(), monoNow: () => mono ?? performance.now() });
  await waitFor(() => (f.gateway.status().devices[0]?.polls ?? 0) >= 3, { what: 'a few polls' });
  f.gateway.log.flush();
});
test.after(() => f.close());

test('/metrics exposes poll latency histograms and errors per device, log depth, uplink throughput and RSS', async () => {
  const res = await f.web.app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
  const names = new Set(res.body.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/[{ ]/)[0]));
  for (const name of [
    'kedge_poll_duration_seconds_bucket',
    'kedge_poll_duration_seconds_count',
    'kedge_poll_errors_total',
    'kedge_log_readings',
    'kedge_log_unsent_readings',
    'kedge_log_bytes',
    'kedge_log_file_bytes',
    'kedge_log_oldest_unsent_age_seconds',
    'kedge_log_evicted_readings_total',
    'kedge_uplink_readings_acked_total',
    'kedge_uplink_batches_acked_total',
    'kedge_uplink_connected',
    'kedge_process_resident_memory_bytes',
  ]) {
    assert.ok(names.has(name), `${name} missing`);
  }
  assert.match(res.body, /kedge_poll_duration_seconds_bucket\{le="\+Inf",device="water-meter"\} [1-9]/);
  assert.match(res.body, /kedge_poll_errors_total\{device="water-meter"\} 0/);
  assert.match(res.body, /kedge_uplink_connected 0/);
});

test('/healthz is 200 while the log is writable and every device loop polls, 503 when a loop went quiet', async () => {
  const ok = await f.web.app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.json().status, 'ok');
  assert.deepEqual(Object.keys(ok.json().checks).sort(), ['clock', 'log', 'scheduler']);
  // An hour passes on the monotonic clock without a poll: the loop is stuck.
  mono = performance.now() + 3_600_000;
  try {
    const stale = await f.web.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(stale.statusCode, 503);
    assert.deepEqual(stale.json().checks.scheduler, { ok: false, detail: 'no poll recently: water-meter' });
    assert.equal(stale.json().checks.log.ok, true);
  } finally {
    mono = null;
  }
  // The web layer's wall clock an hour ahead is no sign of a stuck loop (ages are monotonic).
  clock = Date.now() + 3_600_000;
  try {
    assert.equal((await f.web.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  } finally {
    clock = null;
  }
});

test('the OpenAPI document at /api/docs/json lists every API route, and the docs UI is served without a CDN', async () => {
  const doc = (await f.web.app.inject({ method: 'GET', url: '/api/docs/json' })).json();
  assert.equal(doc.openapi, '3.0.3');
  const api = f.web.routes.filter((r) => (r.url.startsWith('/api/') && !r.url.startsWith('/api/docs')) || r.url === '/metrics' || r.url === '/healthz');
  assert.ok(api.length >= 20, `only ${api.length} routes`);
  for (const r of api.filter((x) => x.method !== 'HEAD')) {
    const path = r.url.replace(/:(\w+)/g, '{$1}');
    assert.ok(doc.paths[path]?.[r.method.toLowerCase()], `${r.method} ${path} is not documented`);
    assert.ok(doc.paths[path][r.method.toLowerCase()].summary, `${r.method} ${path} has no summary`);
  }
  const html = await f.web.app.inject({ method: 'GET', url: '/api/docs/' });
  assert.equal(html.statusCode, 200);
  assert.match(html.body, /swagger-ui-bundle\.js/);
  assert.doesNotMatch(html.body, /https?:\/\/(unpkg|cdn|cdnjs)/);
  const bundle = await f.web.app.inject({ method: 'GET', url: '/api/docs/static/swagger-ui-bundle.js' });
  assert.equal(bundle.statusCode, 200);
});

test('status, devices with live values, the last hour per point, and the log tail filtered by level', async () => {
  const c = await f.setup();
  const status = (await c.request('GET', '/api/status')).json();
  assert.equal(status.gateway, 'web-test');
  assert.equal(status.devices.total, 1);
  assert.ok(status.log.rows > 0);
  assert.equal(typeof status.log.usedBytes, 'number');
  assert.equal(status.uplink.state === 'online', false);

  const devices = (await c.request('GET', '/api/devices')).json();
  assert.deepEqual(devices.map((d: { id: string }) => d.id), ['water-meter']);
  const flow = devices[0].points.find((p: { id: string }) => p.id === 'flow');
  assert.equal(flow.quality, 'good');
  assert.equal(typeof flow.value, 'number');
  assert.equal(devices[0].config.points[0].id, 'flow');

  const history = (await c.request('GET', '/api/devices/water-meter/history')).json();
  assert.ok(history.flow.length >= 2);
  for (const [ts, v] of history.flow) assert.ok(ts > Date.now() - 3_600_000 && typeof v === 'number');
  assert.equal((await c.request('GET', '/api/devices/nope/history')).statusCode, 404);

  f.web.ctx.logger.warn({ device: 'x' }, 'a warning for the tail');
  f.web.ctx.logger.info('an info line');
  const warn = (await c.request('GET', '/api/logs?level=warn&limit=50')).json();
  assert.ok(warn.length >= 1);
  assert.ok(warn.every((l: { level: string }) => ['warn', 'error', 'fatal'].includes(l.level)));
  assert.deepEqual(warn.at(-1), { seq: warn.at(-1).seq, time: warn.at(-1).time, level: 'warn', msg: 'a warning for the tail', context: { device: 'x' } });
  assert.ok(Number.isInteger(warn.at(-1).seq) && warn.at(-1).seq > warn.at(0).seq - (warn.length === 1 ? 1 : 0));
  const info = (await c.request('GET', '/api/logs?level=info&limit=1')).json();
  assert.equal(info.length, 1);
  assert.equal(info[0].msg, 'an info line');
  assert.equal((await c.request('GET', '/api/logs?level=loud')).statusCode, 400);

  const system = (await c.request('GET', '/api/system')).json();
  assert.deepEqual(system.ota, { state: 'not_configured' });
  assert.equal(system.canRestart, true);
  const restart = await c.request('POST', '/api/system/restart');
  assert.equal(restart.statusCode, 202);
  await waitFor(() => f.restarts === 1, { what: 'restart called' });
});
