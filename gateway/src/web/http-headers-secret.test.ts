/**
 * An HTTP sink's extra `headers` carry a receiver's API key: GET /api/config shows the
 * secret marker in their place (never the key), and a config sent back with the marker keeps
 * the stored key, which the sink goes on sending to its receiver (checked at a real server).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, parseDocument, stringify } from 'yaml';
import { startTestServer } from '@kedge/cloud-sync/north/http/test-server.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { loadConfigFile } from '../config/load.ts';
import { redactConfigText, redactObject, restoreSecrets, SECRET_MARKER } from '../config/secret-fields.ts';
import { webFixture } from './test-fixture.ts';

const API_KEY = 'receiver-api-key-7f3a91';
const OTHER_KEY = 'second-receiver-key-22c0';

test('GET /api/config hides HTTP header values; the marker sent back keeps the stored key, which still reaches the receiver', async (t) => {
  const http = await startTestServer();
  t.after(() => http.kill());
  const f = await webFixture();
  t.after(() => f.close());
  const c = await f.setup();
  const doc = parse(readFileSync(f.configPath, 'utf8')) as Record<string, unknown>;
  const legacy = doc.uplink as Record<string, unknown>;
  delete doc.uplink;
  doc.uplinks = [
    { name: 'uplink', kind: 'mqtt', ...legacy },
    { name: 'city', kind: 'http', url: http.url, batchMaxDelayMs: 0, liveFirst: false, headers: { 'X-Api-Key': API_KEY } },
  ];
  writeFileSync(f.configPath, stringify(doc));
  await f.gateway.reload(await loadConfigFile(f.configPath));

  const shown = (await c.request('GET', '/api/config')).json() as { text: string };
  assert.ok(!shown.text.includes(API_KEY), 'the API key never leaves the box');
  const shownHeaders = (parse(shown.text) as { uplinks: Array<{ headers?: Record<string, string> }> }).uplinks[1]!.headers;
  assert.deepEqual(shownHeaders, { 'X-Api-Key': SECRET_MARKER });

  // The UI saves the text it was shown, with one unrelated change.
  const saved = await c.request('PUT', '/api/config', { text: shown.text.replace('batchMaxDelayMs: 0', 'batchMaxDelayMs: 1') });
  assert.equal(saved.statusCode, 200, saved.body);
  const written = parse(readFileSync(f.configPath, 'utf8')) as { uplinks: Array<{ headers?: Record<string, string>; batchMaxDelayMs?: number }> };
  assert.deepEqual(written.uplinks[1]!.headers, { 'X-Api-Key': API_KEY }, 'the stored key kept, not the marker');
  assert.equal(written.uplinks[1]!.batchMaxDelayMs, 1);

  const sent = http.seen.length;
  await waitFor(() => http.seen.slice(sent).some((r) => r.method === 'POST'), { timeoutMs: 30_000, what: 'a POST after the save' });
  for (const r of http.seen.slice(sent)) assert.equal(r.headers['x-api-key'], API_KEY, 'the receiver gets the real key, never the marker');

  // The attack: the marker kept, the sink pointed at another receiver. Refused, the field named.
  const evil = await startTestServer();
  t.after(() => evil.kill());
  const again = (await c.request('GET', '/api/config')).json() as { text: string };
  const moved = await c.request('PUT', '/api/config', { text: again.text.replace(http.url, evil.url) });
  assert.equal(moved.statusCode, 400, moved.body);
  assert.deepEqual(
    (moved.json() as { issues: Array<{ path: string; message: string }> }).issues.map((i) => i.path),
    ['uplinks[1].headers.X-Api-Key'],
  );
  assert.match(moved.body, /only sent to the stored receiver .*: type the value/);
  assert.ok(!readFileSync(f.configPath, 'utf8').includes(evil.url), 'nothing written');
  // Typed by the engineer: accepted, the new receiver gets what was typed.
  const typed = await c.request('PUT', '/api/config', { text: again.text.replace(http.url, evil.url).replace(`'${SECRET_MARKER}'`, 'typed-key').replace(`"${SECRET_MARKER}"`, 'typed-key') });
  assert.equal(typed.statusCode, 200, typed.body);
  await waitFor(() => evil.seen.some((r) => r.method === 'POST'), { timeoutMs: 30_000, what: 'a POST to the new receiver' });
  assert.ok(evil.seen.every((r) => r.headers['x-api-key'] === 'typed-key'), 'never the stored key');
});

test('header values are secrets in every form the API redacts: parsed objects, text that does not parse, reordered uplinks', () => {
  assert.deepEqual(redactObject({ kind: 'http', headers: { 'X-Api-Key': API_KEY, 'X-Tenant': 'kemerovo' } }), {
    kind: 'http',
    headers: { 'X-Api-Key': SECRET_MARKER, 'X-Tenant': SECRET_MARKER },
  });
  const broken = `uplinks:\n  - name: city\n    headers:\n      X-Api-Key: ${API_KEY}\n    url: [unclosed\n  - name: other\n    headers: { X-Api-Key: ${OTHER_KEY} }\n`;
  const masked = redactConfigText(broken);
  assert.ok(!masked.includes(API_KEY) && !masked.includes(OTHER_KEY), masked);
  assert.match(masked, /url: \[unclosed/, 'the rest stays readable, to be repaired');

  // Two HTTP uplinks swapped in the UI: each marker takes the key of its own uplink (by name), not of the position.
  const stored = stringify({ uplinks: [{ name: 'a', headers: { 'X-Api-Key': API_KEY } }, { name: 'b', headers: { 'X-Api-Key': OTHER_KEY } }] });
  const next = parseDocument(stringify({ uplinks: [{ name: 'b', headers: { 'X-Api-Key': SECRET_MARKER } }, { name: 'a', headers: { 'X-Api-Key': SECRET_MARKER } }] }));
  const { issues } = restoreSecrets(next, stored);
  assert.deepEqual(issues, []);
  assert.deepEqual(next.toJS(), { uplinks: [{ name: 'b', headers: { 'X-Api-Key': OTHER_KEY } }, { name: 'a', headers: { 'X-Api-Key': API_KEY } }] });
  // A marker for a header the stored file does not have cannot be resolved: named, not sent on.
  const unknown = parseDocument(stringify({ uplinks: [{ name: 'a', headers: { 'X-New': SECRET_MARKER } }] }));
  assert.match(restoreSecrets(unknown, stored).issues[0]!.path, /uplinks\[name=a\]\.headers\.X-New/);
});
