import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { startEmbeddedBroker } from '@kedge/cloud-sync/broker/embedded.ts';
import { decodeAllOrders } from '../drivers/modbus/decode.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { webFixture } from './test-fixture.ts';

const newDevice = (port: number, points: unknown[]) => ({ id: 'added', name: 'Добавленный', driver: 'modbus-tcp', host: '127.0.0.1', port, unitId: 1, intervalMs: 100, points });

test('a valid device change is written atomically (comments and mode kept, no temp file left) and applied at once', async () => {
  const f = await webFixture();
  try {
    const c = await f.setup();
    const res = await c.request('PUT', '/api/devices/added', newDevice(f.sim.port, [{ id: 'flow', table: 'holding', address: 0, type: 'float32', order: 'CDAB', unit: 'm3/h' }]));
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { devices: 2, warnings: [] });
    const text = readFileSync(f.configPath, 'utf8');
    assert.match(text, /^# kept comment\n/);
    assert.match(text, /id: added\n\s+name: Добавленный/);
    assert.equal(statSync(f.configPath).mode & 0o777, 0o640);
    assert.deepEqual(readdirSync(f.dir).sort(), ['data', 'kedge.yaml']);
    assert.deepEqual(f.gateway.currentConfig().devices.map((d) => d.id), ['water-meter', 'added']);
    await waitFor(() => f.gateway.status().live['added/flow']?.quality === 'good', { what: 'the added device polled' });

    const del = await c.request('DELETE', '/api/devices/added');
    assert.deepEqual(del.json(), { devices: 1 });
    assert.deepEqual(f.gateway.currentConfig().devices.map((d) => d.id), ['water-meter']);
  } finally {
    await f.close();
  }
});

test('a bad change is refused with the loader\'s field paths; the file and the running config stay untouched', async () => {
  const f = await webFixture();
  try {
    const c = await f.setup();
    const before = readFileSync(f.configPath, 'utf8');
    const running = f.gateway.currentConfig();
    const res = await c.request('PUT', '/api/devices/added', newDevice(f.sim.port, [{ id: 'x', table: 'holding', address: 70000, type: 'float23' }]));
    assert.equal(res.statusCode, 400);
    const body = res.json();
    assert.equal(body.error, 'config_invalid');
    // Where in the file it is (the system page shows the line): ui-api.test.ts checks the numbers.
    assert.equal(typeof body.issues[0].line, 'number');
    assert.deepEqual(body.issues.map(({ path, message }: { path: string; message: string }) => ({ path, message })), [
      { path: 'devices[1].points[0].type', message: 'must be one of "bool", "bit", "int16", "uint16", "int32", "uint32", "float32", "int64", "uint64", "float64", "string" (got "float23")' },
    ]);
    const yaml = await c.request('PUT', '/api/config', { text: 'gateway: [unclosed' });
    assert.equal(yaml.statusCode, 400);
    assert.equal(yaml.json().error, 'config_invalid');
    const unknownKey = await c.request('PUT', '/api/config', { text: before.replace('dataDir:', 'dataDri:') });
    assert.equal(unknownKey.json().issues[0].path, 'dataDri');
    const tlsDir = join(f.gateway.currentConfig().dataDir, 'tls');
    const missingTls = await c.request('PUT', '/api/uplink', { url: 'mqtts://broker.example.ru:8883', tls: { ca: join(tlsDir, 'missing.pem') } });
    assert.equal(missingTls.statusCode, 400);
    assert.deepEqual(missingTls.json().issues, [{ path: 'uplink.tls.ca', message: `file ${join(tlsDir, 'missing.pem')} does not exist or is not readable` }]);
    const badUrl = await c.request('PUT', '/api/uplink', { url: 'http://broker' });
    assert.deepEqual(badUrl.json().issues, [{ path: 'uplink.url', message: 'protocol must be one of mqtt:, mqtts:, ws:, wss: (got http:)', line: 11, column: 8 }]);

    assert.equal(readFileSync(f.configPath, 'utf8'), before);
    assert.equal(f.gateway.currentConfig(), running);
    assert.deepEqual(readdirSync(f.dir).sort(), ['data', 'kedge.yaml']);
  } finally {
    await f.close();
  }
});

test('test read returns the raw registers and the value in all four byte orders, the configured one matching', async () => {
  const f = await webFixture();
  try {
    const c = await f.setup();
    const res = await c.request(
      'POST',
      '/api/devices/test-read',
      newDevice(f.sim.port, [
        { id: 'flow', table: 'holding', address: 0, type: 'float32', order: 'CDAB', unit: 'm3/h' },
        { id: 'volume', table: 'holding', address: 2, type: 'uint32', scale: 0.001 },
        { id: 'missing', table: 'input', address: 900, type: 'uint16' },
      ]),
    );
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual(body.orders, ['ABCD', 'CDAB', 'BADC', 'DCBA']);
    const [flow, volume, missing] = body.points;
    assert.equal(flow.raw.length, 2);
    const expected = decodeAllOrders({ id: 'flow', table: 'holding', address: 0, type: 'float32', order: 'CDAB' }, flow.raw);
    // The simulated flow moves with time: an order whose bits make a NaN travels as JSON null.
    assert.deepEqual(flow.orders, JSON.parse(JSON.stringify(expected)));
    assert.equal(flow.value, expected.CDAB);
    assert.ok(flow.value > 5 && flow.value < 19, `flow ${flow.value} within the simulator's range`);
    assert.equal(volume.scaled, Number((volume.value * 0.001).toPrecision(15)));
    assert.equal(missing.quality, 'bad_device_error');
    assert.equal(missing.raw, null);
    assert.match(missing.error, /Modbus exception 2 \(illegal data address\)/);

    const bad = await c.request('POST', '/api/devices/test-read', newDevice(f.sim.port, [{ id: 'x', table: 'holding', type: 'uint16' }]));
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(bad.json().issues, [{ path: 'points[0].address', message: 'required field is missing' }]);
  } finally {
    await f.close();
  }
});

test('test read of an OPC UA device, by its driver: each node read once and scaled, no byte orders, a wrong node named', async () => {
  const { startOpcuaSim } = await import('@kedge/testkit/sim/opcua-sim.ts');
  const sim = await startOpcuaSim({ security: 'none', variables: [{ name: 'Level', dataType: 'Double', value: () => 312.5 }] });
  const f = await webFixture();
  try {
    const c = await f.setup();
    const res = await c.request('POST', '/api/devices/test-read', {
      id: 'river',
      driver: 'opcua',
      endpointUrl: sim.endpointUrl,
      points: [
        { id: 'level', nodeId: sim.nodeId('Level'), scale: 0.01, unit: 'm' },
        { id: 'ghost', nodeId: 'ns=1;s=NoSuchNode' },
      ],
    });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual(body.orders, []);
    const [level, ghost] = body.points;
    assert.deepEqual([level.point, level.where, level.value, level.scaled, level.unit, level.quality, level.raw], ['level', sim.nodeId('Level'), 312.5, 3.125, 'm', 'good', null]);
    assert.equal(ghost.quality, 'bad_config');
    assert.match(ghost.error, /NodeIdUnknown/);
  } finally {
    await f.close();
    await sim.stop();
  }
});

test('uplink: certificates are stored 0600, a test connection reports success or the error, saving reconnects', async () => {
  const broker = await startEmbeddedBroker({ port: 0 });
  const f = await webFixture();
  try {
    const c = await f.setup();
    const notPem = await c.request('POST', '/api/uplink/tls/ca', { pem: 'hello' });
    assert.equal(notPem.statusCode, 400);
    assert.equal(notPem.json().error, 'bad_certificate');
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const up = await c.request('POST', '/api/uplink/tls/ca', { pem });
    const path = up.json().path;
    assert.equal(path, join(f.dir, 'data', 'tls', 'ca.pem'));
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(readFileSync(path, 'utf8'), pem);

    const ok = await c.request('POST', '/api/uplink/test', { url: broker.url });
    assert.equal(ok.json().ok, true);
    assert.equal(ok.json().error, null);
    const refused = await c.request('POST', '/api/uplink/test', { url: 'mqtt://127.0.0.1:1' });
    assert.equal(refused.json().ok, false);
    assert.match(refused.json().error, /ECONNREFUSED|closed/);

    const saved = await c.request('PUT', '/api/uplink', { url: broker.url, clientId: 'web-test-box' });
    assert.equal(saved.statusCode, 200, saved.body);
    await waitFor(() => f.gateway.status().uplink?.state === 'online', { what: 'uplink online after the change' });
    const got = (await c.request('GET', '/api/uplink')).json();
    assert.equal(got.url, broker.url);
    assert.equal(got.clientId, 'web-test-box');
    assert.equal(got.hasPassword, false);
  } finally {
    await f.close();
    await broker.close();
  }
});
