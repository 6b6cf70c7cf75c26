/**
 * The web attacks on a secondary uplink's stored credentials, through the real API of a running
 * gateway (security review after issue 19): the text GET /api/config shows, sent back with a
 * named non-primary uplink pointed at the attacker's broker, must not take the stored password
 * along; an HTTP sink's token file must not become an OPC UA device's password file.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadConfigFile } from '../config/load.ts';
import { SECRET_MARKER } from '../config/secret-fields.ts';
import { webFixture } from './test-fixture.ts';

const SCADA_PASSWORD = 'scada-password-51c2e0';
// Not the primary's URL (the fixture's mqtt://127.0.0.1:1): the text replace must hit this uplink only.
const STORED_SCADA = 'mqtt://127.0.0.1:2';
const ATTACKER = 'mqtt://203.0.113.7:1883';

type Issues = { issues: Array<{ path: string; message: string }> };

test('a named secondary uplink moved to another broker with its password as the marker is refused; the token file is not lent to a device', async (t) => {
  const f = await webFixture();
  t.after(() => f.close());
  const c = await f.setup();
  const secrets = join(f.gateway.currentConfig().dataDir, 'secrets');
  mkdirSync(secrets, { recursive: true });
  const tokenFile = join(secrets, 'city.token');
  writeFileSync(tokenFile, 'city-bearer-token\n', { mode: 0o600 });
  const doc = parse(readFileSync(f.configPath, 'utf8')) as Record<string, unknown>;
  const legacy = doc.uplink as Record<string, unknown>;
  delete doc.uplink;
  doc.uplinks = [
    { name: 'uplink', kind: 'mqtt', ...legacy },
    { name: 'scada', kind: 'sparkplug', url: STORED_SCADA, username: 'gw', password: SCADA_PASSWORD },
    // Nobody listens there: the sink only has to be configured.
    { name: 'city', kind: 'http', url: 'http://127.0.0.1:1/kedge', tokenFile },
  ];
  writeFileSync(f.configPath, stringify(doc));
  await f.gateway.reload(await loadConfigFile(f.configPath));
  const before = readFileSync(f.configPath, 'utf8');

  const shown = (await c.request('GET', '/api/config')).json() as { text: string };
  assert.ok(!shown.text.includes(SCADA_PASSWORD));
  assert.ok(shown.text.includes(SECRET_MARKER));
  const moved = await c.request('PUT', '/api/config', { text: shown.text.replace(STORED_SCADA, ATTACKER) });
  assert.equal(moved.statusCode, 400, moved.body);
  assert.deepEqual(
    (moved.json() as Issues).issues.map((i) => [i.path, i.message]),
    [['uplinks[1].password', 'the stored credentials are only sent to the stored broker (mqtt://127.0.0.1:2), not to mqtt://203.0.113.7:1883: type the password']],
  );
  assert.equal(readFileSync(f.configPath, 'utf8'), before, 'nothing written');
  assert.equal((f.gateway.currentConfig().uplinks[1] as { url: string }).url, STORED_SCADA, 'nothing applied');

  // The HTTP sink's token file offered to an OPC UA device as its password file.
  const device = { id: 'thief', driver: 'opcua', enabled: false, endpointUrl: 'opc.tcp://203.0.113.9:4840', auth: { username: 'kedge', passwordFile: tokenFile }, points: [{ id: 'level', nodeId: 'ns=1;s=Level' }] };
  const lent = await c.request('POST', '/api/devices', device);
  assert.equal(lent.statusCode, 400, `${lent.statusCode} ${lent.body} ${readFileSync(f.configPath, 'utf8')}`);
  assert.match(lent.body, /holds uplink city's bearer token: it is not given to device thief as its password/);
  assert.equal(readFileSync(f.configPath, 'utf8'), before, 'nothing written');

  // Typed for the new broker: the engineer's own decision.
  const typed = await c.request('PUT', '/api/config', { text: shown.text.replace(STORED_SCADA, ATTACKER).replace(new RegExp(`(password: )["']?${SECRET_MARKER.replace(/[()]/g, '\\$&')}["']?`), '$1typed-for-the-new-host') });
  assert.equal(typed.statusCode, 200, typed.body);
  assert.equal((f.gateway.currentConfig().uplinks[1] as { password?: string }).password, 'typed-for-the-new-host');
});
