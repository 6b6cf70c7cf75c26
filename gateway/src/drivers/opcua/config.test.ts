import test from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfigFile, parseConfig } from '../../config/load.ts';
import type { OpcuaDeviceConfig } from './schema.ts';

const HEADER = `gateway:
  id: gw1
  region: kuzbass
  municipality: kemerovo
uplink:
  url: mqtt://broker.local
devices:
`;

function problems(yaml: string): string[] {
  try {
    parseConfig(HEADER + yaml, 'kedge.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message.split('\n').slice(1).map((l) => l.trim());
  }
  assert.fail('expected the config to be rejected');
}

test('an invalid OPC UA node id fails at load with its file position and field path', () => {
  const lines = problems(`  - id: station
    driver: opcua
    endpointUrl: opc.tcp://10.0.0.5:4840
    points:
      - id: level
        nodeId: ns=2;s=Level
      - id: temp
        nodeId: ns=two;s=Temp
`);
  assert.deepEqual(lines, [
    'kedge.yaml:15:17 devices[0].points[1].nodeId: "ns=two;s=Temp" is not an OPC UA node id: expected e.g. "ns=2;s=Line1.Flow", "ns=3;i=1001" or "i=2258" (find ids with drivers/opcua/browse.ts)',
  ]);
});

test('an opcua device gets defaults: subscribe mode, no security, anonymous, and its deadband split for server and pipeline', () => {
  const cfg = parseConfig(`${HEADER}  - id: station
    driver: opcua
    endpointUrl: opc.tcp://10.0.0.5:4840
    auth: anonymous
    points:
      - { id: level, nodeId: "ns=2;s=Level", deadband: 0.5 }
      - { id: temp, nodeId: "ns=2;i=1001", deadband: { type: percent, value: 2 } }
      - { id: pump, nodeId: "ns=2;s=Pump", mode: poll, intervalMs: 5000, writable: true }
`);
  const d = cfg.devices[0] as OpcuaDeviceConfig;
  assert.equal(d.securityMode, 'None');
  assert.equal(d.securityPolicy, undefined);
  assert.deepEqual(d.auth, {});
  assert.deepEqual([d.timeoutMs, d.intervalMs, d.samplingIntervalMs, d.publishingIntervalMs], [5000, 1000, 1000, 1000]);
  const [level, temp, pump] = d.points;
  assert.deepEqual([level!.mode, level!.deadband, level!.deadbandFilter], ['subscribe', 0.5, { type: 'absolute', value: 0.5 }]);
  assert.deepEqual([temp!.deadband, temp!.deadbandFilter], [0, { type: 'percent', value: 2 }]);
  assert.deepEqual([pump!.mode, pump!.intervalMs, pump!.deadbandFilter, pump!.writable], ['poll', 5000, null, true]);
});

test('opcua settings that cannot work are refused with the reason', () => {
  const lines = problems(`  - id: station
    driver: opcua
    endpointUrl: http://10.0.0.5:4840
    securityMode: None
    securityPolicy: Basic256Sha256
    auth: { username: operator }
    points:
      - { id: a, nodeId: "ns=2;s=A", mode: poll, deadband: { type: percent, value: 1 } }
      - { id: b, nodeId: "ns=2;s=B", intervalMs: 500 }
      - { id: c, nodeId: "ns=2;s=C", deadband: { type: percent, value: 150 } }
      - { id: a, nodeId: "ns=2;s=D" }
`);
  assert.deepEqual(lines, [
    'kedge.yaml:10:18 devices[0].endpointUrl: must be an opc.tcp:// URL, e.g. opc.tcp://10.0.0.5:4840',
    'kedge.yaml:12:21 devices[0].securityPolicy: securityPolicy Basic256Sha256 needs securityMode Sign or SignAndEncrypt (securityMode is None)',
    'kedge.yaml:13:11 devices[0].auth.password: password or passwordFile is required with username',
    'kedge.yaml:15:60 devices[0].points[0].deadband: a percent deadband is evaluated by the server on monitored items: use mode subscribe, or an absolute deadband',
    'kedge.yaml:16:50 devices[0].points[1].intervalMs: intervalMs applies to poll-mode points; subscribed points use samplingIntervalMs and publishingIntervalMs',
    "kedge.yaml:17:48 devices[0].points[2].deadband: a percent deadband is 0..100 % of the node's EURange (got 150)",
    'kedge.yaml:18:15 devices[0].points[3].id: duplicate point id "a" (also points[0])',
  ]);
});

test('the example config beside the driver is valid', async () => {
  const cfg = await loadConfigFile(fileURLToPath(new URL('./example.yaml', import.meta.url)));
  const d = cfg.devices[0] as OpcuaDeviceConfig;
  assert.equal(d.driver, 'opcua');
  assert.deepEqual(d.points.map((p) => p.mode), ['subscribe', 'subscribe', 'subscribe', 'subscribe', 'poll']);
});

test('OPC UA point units are normalised to UCUM like Modbus ones, and an unknown unit names its field', () => {
  const base = (unit: string) =>
    JSON.stringify({
      gateway: { id: 'gw-ucum', region: 'kuzbass', municipality: 'kemerovo' },
      uplink: { url: 'mqtt://127.0.0.1:1' },
      devices: [{ id: 'river', driver: 'opcua', endpointUrl: 'opc.tcp://127.0.0.1:4840', points: [{ id: 't', nodeId: 'ns=1;s=Temp', unit }] }],
    });
  const cfg = parseConfig(base('°C'));
  assert.equal((cfg.devices[0] as { points: Array<{ unit?: string }> }).points[0]!.unit, 'Cel');
  assert.throws(() => parseConfig(base('furlongs')), /devices\[0\]\.points\[0\]\.unit/);
});
