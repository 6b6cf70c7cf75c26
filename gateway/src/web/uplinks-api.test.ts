/**
 * The web API with `uplinks:` (a list): every uplink is listed with its state, and the uplink
 * page edits the primary entry in the list instead of adding a conflicting `uplink:` section.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { startTestServer } from '@kedge/cloud-sync/north/http/test-server.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { loadConfigFile } from '../config/load.ts';
import { webFixture } from './test-fixture.ts';

test('GET /api/uplinks lists every uplink; PUT /api/uplink edits the primary entry of the list', async (t) => {
  const http = await startTestServer();
  t.after(() => http.kill());
  const f = await webFixture();
  t.after(() => f.close());
  const c = await f.setup();
  // The file as a box written from the README sample would have it: a list of two.
  const doc = parse(readFileSync(f.configPath, 'utf8')) as Record<string, unknown>;
  const legacy = doc.uplink as Record<string, unknown>;
  delete doc.uplink;
  doc.uplinks = [
    { name: 'uplink', kind: 'mqtt', ...legacy },
    { name: 'city', kind: 'http', url: http.url, batchMaxDelayMs: 0, liveFirst: false },
  ];
  writeFileSync(f.configPath, stringify(doc));
  await f.gateway.reload(await loadConfigFile(f.configPath));
  await waitFor(() => f.gateway.log.cursor('city') > 0, { timeoutMs: 30_000, what: 'the HTTP uplink to deliver' });

  const list = (await c.request('GET', '/api/uplinks')).json() as Array<{ name: string; kind: string; primary: boolean; status: { state: string } | null }>;
  assert.deepEqual(
    list.map((u) => [u.name, u.kind, u.primary]),
    [
      ['uplink', 'mqtt', true],
      ['city', 'http', false],
    ],
  );
  assert.equal(list[1]!.status?.state, 'online');

  const saved = await c.request('PUT', '/api/uplink', { url: 'mqtt://127.0.0.1:2', clientId: 'edited-box' });
  assert.equal(saved.statusCode, 200, saved.body);
  const written = parse(readFileSync(f.configPath, 'utf8')) as { uplink?: unknown; uplinks: Array<Record<string, unknown>> };
  assert.equal(written.uplink, undefined, 'no second, conflicting uplink: section');
  assert.equal(written.uplinks[0]!.clientId, 'edited-box');
  assert.equal(written.uplinks[0]!.url, 'mqtt://127.0.0.1:2');
  assert.equal(written.uplinks[1]!.url, http.url, 'the other uplink is untouched');

  const health = (await c.request('GET', '/healthz')).json() as { uplinks: Array<{ name: string; kind: string }> };
  assert.deepEqual(
    health.uplinks.map((u) => [u.name, u.kind]),
    [
      ['uplink', 'mqtt'],
      ['city', 'http'],
    ],
  );
  const metrics = (await c.request('GET', '/metrics')).body;
  assert.match(metrics, /kedge_sink_connected\{sink="city"\} 1/);
  assert.match(metrics, /kedge_sink_unsent_readings\{sink="uplink"\} \d+/);
});
