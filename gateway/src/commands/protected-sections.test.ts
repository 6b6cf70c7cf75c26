/**
 * Stored credentials stay with the server they were stored for, whatever a remote `config`
 * changes around them (security review of issue 13, finding 6): the broker's behind its scheme
 * and certificate check, an OPC UA device's behind its endpoint and securityMode. The configs
 * are parsed by the real loader, as the executor does before it compares them.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../config/load.ts';
import { SECRET_MARKER } from '../config/secret-fields.ts';
import { protectedChanges } from './protected-sections.ts';

const EXAMPLE = readFileSync(fileURLToPath(new URL('../drivers/opcua/example.yaml', import.meta.url)), 'utf8');
const parse = (text: string) => parseConfig(text, 'kedge.yaml', '/tmp');
const withBroker = (text: string, uplink: string) => text.replace('url: mqtts://ingest.example.ru:8883', uplink);
const STORED = 'url: mqtts://ingest.example.ru:8883\n  username: gw\n  passwordFile: /etc/kedge/broker.password';
const current = parse(withBroker(EXAMPLE, STORED));
const paths = (next: string) => protectedChanges(current, parse(next)).map((c) => c.path);

test('the broker password file kept while the scheme drops TLS, or the certificate check is turned off, is refused', () => {
  assert.deepEqual(paths(withBroker(EXAMPLE, STORED.replace('mqtts:', 'mqtt:'))), ['uplink.url']);
  assert.deepEqual(paths(withBroker(EXAMPLE, `${STORED}\n  tls: { rejectUnauthorized: false }`)), ['uplink.tls.rejectUnauthorized']);
  // With new credentials it is the center's own business.
  assert.deepEqual(paths(withBroker(EXAMPLE, 'url: mqtt://ingest.example.ru:8883\n  username: gw\n  password: typed-anew\n  tls: { rejectUnauthorized: false }')), []);
});

test("an OPC UA device moved to another endpoint or a weaker securityMode with its stored credentials is refused; with new ones it is not", () => {
  const stored = withBroker(EXAMPLE, STORED);
  const moved = stored.replace('opc.tcp://10.20.0.15:4840', 'opc.tcp://203.0.113.9:4840');
  assert.deepEqual(paths(moved), ['devices[0].endpointUrl']);
  const weaker = stored.replace('securityMode: SignAndEncrypt', 'securityMode: Sign');
  assert.deepEqual(paths(weaker), ['devices[0].endpointUrl']);
  // The "unchanged" marker is the stored password too (ConfigStore fills it in).
  const marker = moved.replace('passwordFile: /etc/kedge/opcua-river-station.password', `password: "${SECRET_MARKER}"`);
  assert.deepEqual(paths(marker), ['devices[0].endpointUrl']);
  assert.deepEqual(paths(moved.replace('passwordFile: /etc/kedge/opcua-river-station.password', 'password: typed-anew')), []);
  assert.deepEqual(paths(stored.replace('timeoutMs: 5000', 'timeoutMs: 9000')), [], 'other device settings stay free');
});

test("one device's credential file handed to another device is refused", () => {
  const second = `${withBroker(EXAMPLE, STORED)}
  - id: intruder-station
    driver: opcua
    endpointUrl: opc.tcp://203.0.113.9:4840
    auth: { username: kedge, passwordFile: /etc/kedge/opcua-river-station.password }
    points: [{ id: x, nodeId: ns=1;s=X }]
`;
  assert.deepEqual(paths(second), ['devices[1].auth.passwordFile']);
});
