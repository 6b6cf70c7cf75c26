/**
 * The uplink page's API: every uplink listed with its kind, state and settings (secrets as the
 * "unchanged" marker), each sink's own form, and the save of one entry by name through the
 * config store (same schema, same secret handling as every web change).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { SINKS } from '@kedge/cloud-sync/north/registry.ts';
import { tapeSink } from '@kedge/cloud-sync/north/fixtures/tape/index.ts';
import type { SinkDefinition } from '@kedge/cloud-sync/north/sink.ts';
import { loadConfigFile } from '../config/load.ts';
import { SECRET_MARKER } from '../config/secret-fields.ts';
import { sinkForms } from './routes/uplink-forms.ts';
import { webFixture, type Client, type Fixture } from './test-fixture.ts';

const SCADA_PASSWORD = 'scada-secret-5d1e';
const CITY_HEADER_KEY = 'city-api-key-93b0';

interface Listed {
  name: string;
  kind: string;
  primary: boolean;
  status: { state: string } | null;
  settings: Record<string, unknown> | null;
}

type Entry = Record<string, unknown>;

/** A box with three uplinks: the center (mqtt), a SCADA host (sparkplug) and the city's HTTP receiver. */
async function threeUplinks(t: test.TestContext): Promise<{ f: Fixture; c: Client }> {
  const f = await webFixture();
  t.after(() => f.close());
  const c = await f.setup();
  const doc = parse(readFileSync(f.configPath, 'utf8')) as Record<string, unknown>;
  const legacy = doc.uplink as Entry;
  delete doc.uplink;
  doc.uplinks = [
    { name: 'uplink', kind: 'mqtt', ...legacy },
    { name: 'scada', kind: 'sparkplug', url: 'mqtt://127.0.0.1:1', username: 'edge', password: SCADA_PASSWORD, sparkplug: { primaryHostId: 'scada-1' } },
    { name: 'city', kind: 'http', url: 'http://127.0.0.1:1/batches', headers: { 'X-Api-Key': CITY_HEADER_KEY }, batchMaxDelayMs: 0 },
  ];
  writeFileSync(f.configPath, stringify(doc));
  await f.gateway.reload(await loadConfigFile(f.configPath));
  return { f, c };
}

const fileUplinks = (f: Fixture) => (parse(readFileSync(f.configPath, 'utf8')) as { uplinks: Entry[] }).uplinks;

async function list(c: Client): Promise<Listed[]> {
  const r = await c.request('GET', '/api/uplinks');
  assert.equal(r.statusCode, 200, r.body);
  assert.ok(!r.body.includes(SCADA_PASSWORD) && !r.body.includes(CITY_HEADER_KEY), 'no stored secret in the list');
  return r.json() as Listed[];
}

test('GET /api/uplinks lists all three uplinks with kind, state and settings, secrets as the unchanged marker', async (t) => {
  const { c } = await threeUplinks(t);
  const all = await list(c);
  assert.deepEqual(
    all.map((u) => [u.name, u.kind, u.primary]),
    [
      ['uplink', 'mqtt', true],
      ['scada', 'sparkplug', false],
      ['city', 'http', false],
    ],
  );
  for (const u of all) assert.equal(typeof u.status?.state, 'string', `${u.name} has a live state`);
  const scada = all[1]!.settings!;
  assert.equal(scada.password, SECRET_MARKER);
  assert.equal(scada.username, 'edge');
  assert.deepEqual(scada.sparkplug, { primaryHostId: 'scada-1' });
  assert.deepEqual(all[2]!.settings!.headers, { 'X-Api-Key': SECRET_MARKER });
});

test('saving a secondary uplink changes that uplink only and keeps its stored password', async (t) => {
  const { f, c } = await threeUplinks(t);
  const before = fileUplinks(f);
  const scada = (await list(c)).find((u) => u.name === 'scada')!.settings!;
  const saved = await c.request('PUT', '/api/uplinks/scada', { ...scada, batchMaxDelayMs: 250 });
  assert.equal(saved.statusCode, 200, saved.body);
  const after = fileUplinks(f);
  assert.equal(after[1]!.password, SCADA_PASSWORD, 'the marker put the stored password back');
  assert.deepEqual(after[1], { ...before[1], batchMaxDelayMs: 250 });
  assert.deepEqual([after[0], after[2]], [before[0], before[2]], 'the other uplinks are untouched');
  const running = f.gateway.currentConfig().uplinks.find((u) => u.name === 'scada')!;
  assert.equal(running.batchMaxDelayMs, 250, 'applied');
});

test('every uplink saved as listed round-trips: the file is unchanged', async (t) => {
  const { f, c } = await threeUplinks(t);
  const before = fileUplinks(f);
  for (const u of await list(c)) {
    const r = await c.request('PUT', `/api/uplinks/${u.name}`, u.settings);
    assert.equal(r.statusCode, 200, `${u.name}: ${r.body}`);
  }
  assert.deepEqual(fileUplinks(f), before);
  assert.deepEqual(
    (await list(c)).map((u) => u.settings),
    before.map((e) => ({ ...e, ...(e.password ? { password: SECRET_MARKER } : {}), ...(e.headers ? { headers: { 'X-Api-Key': SECRET_MARKER } } : {}) })),
  );
});

test('a bad value gets the schema message naming the uplink and the field; nothing is written', async (t) => {
  const { f, c } = await threeUplinks(t);
  const text = readFileSync(f.configPath, 'utf8');
  const city = (await list(c)).find((u) => u.name === 'city')!.settings!;
  const r = await c.request('PUT', '/api/uplinks/city', { ...city, batchMaxDelayMs: 999_999 });
  assert.equal(r.statusCode, 400, r.body);
  const body = r.json() as { error: string; issues: Array<{ path: string; message: string }> };
  assert.equal(body.error, 'config_invalid');
  const issue = body.issues.find((i) => i.path.includes('batchMaxDelayMs'));
  assert.ok(issue, r.body);
  assert.match(issue.path, /uplinks.*(city|\[2\])/);
  assert.match(issue.message, /60000|60 000/);
  assert.equal(readFileSync(f.configPath, 'utf8'), text);
});

test('the stored password does not follow a secondary uplink to another broker', async (t) => {
  const { f, c } = await threeUplinks(t);
  const text = readFileSync(f.configPath, 'utf8');
  const scada = (await list(c)).find((u) => u.name === 'scada')!.settings!;
  const r = await c.request('PUT', '/api/uplinks/scada', { ...scada, url: 'mqtt://attacker.example:1883' });
  assert.equal(r.statusCode, 400, r.body);
  assert.match(r.body, /password/);
  assert.equal(readFileSync(f.configPath, 'utf8'), text);
});

test('renaming an uplink onto another one is refused; a new name adds an uplink', async (t) => {
  const { f, c } = await threeUplinks(t);
  const city = (await list(c)).find((u) => u.name === 'city')!.settings!;
  const taken = await c.request('PUT', '/api/uplinks/city', { ...city, name: 'scada' });
  assert.equal(taken.statusCode, 409, taken.body);
  const added = await c.request('PUT', '/api/uplinks/city-2', { kind: 'http', name: 'city-2', url: 'http://127.0.0.1:2/batches' });
  assert.equal(added.statusCode, 200, added.body);
  assert.deepEqual(
    fileUplinks(f).map((u) => u.name),
    ['uplink', 'scada', 'city', 'city-2'],
  );
});

test('with the single uplink: section the page edits it in place, its password kept', async (t) => {
  const f = await webFixture();
  t.after(() => f.close());
  const c = await f.setup();
  const doc = parse(readFileSync(f.configPath, 'utf8')) as { uplink: Entry };
  doc.uplink.password = SCADA_PASSWORD;
  doc.uplink.username = 'box';
  writeFileSync(f.configPath, stringify(doc));
  await f.gateway.reload(await loadConfigFile(f.configPath));
  const [u] = await list(c);
  assert.equal(u!.settings!.password, SECRET_MARKER);
  const r = await c.request('PUT', '/api/uplinks/uplink', { ...u!.settings, clientId: 'edited' });
  assert.equal(r.statusCode, 200, r.body);
  const written = parse(readFileSync(f.configPath, 'utf8')) as { uplink: Entry; uplinks?: unknown };
  assert.equal(written.uplinks, undefined);
  assert.equal(written.uplink.clientId, 'edited');
  assert.equal(written.uplink.password, SCADA_PASSWORD);
  assert.equal(written.uplink.kind, undefined, 'the section has no kind or name');

  // Renamed, it becomes the one entry of a list (not a second uplink to the same broker); the
  // marker names no stored secret there, so the password must be typed.
  const marker = await c.request('PUT', '/api/uplinks/uplink', { ...u!.settings, name: 'center' });
  assert.equal(marker.statusCode, 400, marker.body);
  assert.match(marker.body, /type the value/);
  const renamed = await c.request('PUT', '/api/uplinks/uplink', { ...u!.settings, name: 'center', password: SCADA_PASSWORD });
  assert.equal(renamed.statusCode, 200, renamed.body);
  const file = parse(readFileSync(f.configPath, 'utf8')) as { uplink?: unknown; uplinks: Entry[] };
  assert.equal(file.uplink, undefined);
  assert.deepEqual(
    file.uplinks.map((e) => [e.name, e.kind, e.password]),
    [['center', 'mqtt', SCADA_PASSWORD]],
  );
});

test('GET /api/uplinks/forms serves each sink form with the limits of its schema', async (t) => {
  const f = await webFixture();
  t.after(() => f.close());
  const c = await f.setup();
  const r = await c.request('GET', '/api/uplinks/forms');
  assert.equal(r.statusCode, 200, r.body);
  const forms = r.json() as Array<{ kind: string; label: { ru: string; en: string }; fields: Array<{ key: string; label: { ru: string }; max?: number; options?: unknown[]; secretMarker?: string }> }>;
  assert.deepEqual(
    forms.map((x) => x.kind),
    SINKS.map((s) => s.kind),
  );
  const mqtt = forms.find((x) => x.kind === 'mqtt')!;
  const field = (k: string) => mqtt.fields.find((x) => x.key === k)!;
  assert.equal(field('url').label.ru, 'Адрес брокера');
  assert.equal(field('batchMaxDelayMs').max, 60_000);
  assert.deepEqual(field('codec').options, ['compact', 'json', 'compact-v2']);
  assert.equal(field('password').secretMarker, SECRET_MARKER);
});

test('a sink folder that exports a form (the tape fixture) is served with no other change', async () => {
  const forms = await sinkForms([...SINKS, tapeSink] as readonly SinkDefinition[]);
  const tape = forms.find((x) => x.kind === 'tape');
  assert.ok(tape);
  assert.equal(tape.fields.find((x) => x.key === 'tape')?.required, true);
});
