import assert from 'node:assert/strict';
import test from 'node:test';
import { parseDocument } from 'yaml';
import { endpointOf, redactConfigText, redactObject, redactUrl, restoreSecrets, SECRET_MARKER, URL_SECRET_MARKER } from './secret-fields.ts';

const FILE = `# comment kept
uplink:
  url: mqtt://gw:url-secret-1@broker.example:1883
  password: uplink-secret-2
devices:
  - id: a
    auth: { username: op, password: dev-a-secret }
  - id: b
    auth: { username: op, password: dev-b-secret }
`;

test('every inline secret is replaced by the marker, comments and layout kept', () => {
  const shown = redactConfigText(FILE);
  for (const s of ['url-secret-1', 'uplink-secret-2', 'dev-a-secret', 'dev-b-secret']) assert.ok(!shown.includes(s), s);
  assert.match(shown, /^# comment kept\n/);
  assert.match(shown, new RegExp(`url: mqtt://gw:${URL_SECRET_MARKER}@broker.example:1883`));
  assert.equal(shown.split(SECRET_MARKER).length - 1, 3);
  assert.deepEqual(redactObject({ auth: { password: 'x', username: 'u' }, points: [{ password: '' }] }), {
    auth: { password: SECRET_MARKER, username: 'u' },
    points: [{ password: '' }],
  });
});

test('a file that is not valid YAML is still shown for repair, its secrets masked', () => {
  const broken = `${FILE}devices: [unclosed\n`;
  const shown = redactConfigText(broken);
  for (const s of ['url-secret-1', 'uplink-secret-2', 'dev-a-secret', 'dev-b-secret']) assert.ok(!shown.includes(s), s);
  assert.ok(shown.includes('devices: [unclosed'));
});

test('the marker restores the stored value of the same field, matched by id, not by position', () => {
  // Devices swapped in the editor: each marker still gets its own device's password.
  const edited = redactConfigText(FILE).replace(/ {2}- id: a\n.*\n {2}- id: b\n.*\n/, (m) => {
    const [a1, a2, b1, b2] = m.trimEnd().split('\n');
    return `${[b1, b2, a1, a2].join('\n')}\n`;
  });
  const doc = parseDocument(edited);
  const { issues, restored } = restoreSecrets(doc, FILE);
  assert.deepEqual(issues, []);
  assert.deepEqual(restored.sort(), ['devices[id=a].auth.password', 'devices[id=b].auth.password', 'uplink.password', 'uplink.url']);
  const back = doc.toJS() as { uplink: { url: string; password: string }; devices: Array<{ id: string; auth: { password: string } }> };
  assert.equal(back.uplink.url, 'mqtt://gw:url-secret-1@broker.example:1883');
  assert.equal(back.uplink.password, 'uplink-secret-2');
  assert.deepEqual(back.devices.map((d) => [d.id, d.auth.password]), [['b', 'dev-b-secret'], ['a', 'dev-a-secret']]);
});

test('a marker with nothing stored behind it is an issue naming the field', () => {
  const doc = parseDocument(`uplink:\n  url: mqtt://gw:${URL_SECRET_MARKER}@other:1883\ndevices:\n  - id: c\n    auth: { password: "${SECRET_MARKER}" }\n`);
  assert.deepEqual(
    restoreSecrets(doc, 'uplink:\n  url: mqtt://other:1883\n').issues.map((i) => i.path),
    ['uplink.url', 'devices[id=c].auth.password'],
  );
});

test('a broker URL keeps its user and loses its password (GET /api/uplink)', () => {
  assert.equal(redactUrl('mqtt://gw:p%40ss@broker.example:1883'), `mqtt://gw:${URL_SECRET_MARKER}@broker.example:1883`);
  assert.equal(redactUrl('wss://gw:pw@broker.example/mqtt'), `wss://gw:${URL_SECRET_MARKER}@broker.example/mqtt`);
  assert.equal(redactUrl('mqtts://broker.example:8883'), 'mqtts://broker.example:8883');
});

test('broker endpoints compare scheme, host and port with default ports filled in', () => {
  assert.equal(endpointOf('mqtt://Broker.Example'), 'mqtt://broker.example:1883');
  assert.equal(endpointOf('mqtts://broker.example/'), 'mqtts://broker.example:8883');
  assert.equal(endpointOf('wss://gw:pw@broker.example/mqtt'), 'wss://broker.example:443');
});
