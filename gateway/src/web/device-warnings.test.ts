import test from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@kedge/testkit/wait.ts';
import { webFixture } from './test-fixture.ts';

// The UI's side of a valid but probably wrong register map: saving and the test read say what
// looks wrong (and the logs page has it), and the device list shows a refused read as such.
const device = (port: number, points: unknown[]) => ({ id: 'added', driver: 'modbus-tcp', host: '127.0.0.1', port, unitId: 1, intervalMs: 100, points });

test('a device saved with a 4xxxx-looking address and overlapping points is accepted, and the answer and the log say why it looks wrong', async () => {
  const f = await webFixture();
  try {
    const c = await f.setup();
    const points = [
      { id: 'flow', table: 'holding', address: 0, type: 'float32', order: 'CDAB' },
      { id: 'volume', table: 'holding', address: 1, type: 'uint32' },
      { id: 'modicon', table: 'holding', address: 40001 },
    ];
    const read = await c.request('POST', '/api/devices/test-read', device(f.sim.port, points));
    assert.equal(read.statusCode, 200, read.body);
    assert.deepEqual(
      read.json().warnings.map((w: { path: string }) => w.path),
      ['points[1].address', 'points[2].address'],
    );
    // Each point names its registers in the device's numbering, with the protocol address when they differ.
    assert.deepEqual(
      read.json().points.map((p: { where: string; address: number }) => [p.where, p.address]),
      [
        ['holding 0..1', 0],
        ['holding 1..2', 1],
        ['holding 40001', 40001],
      ],
    );
    const based = await c.request('POST', '/api/devices/test-read', { ...device(f.sim.port, [{ id: 'flow', table: 'holding', address: 1, type: 'float32' }]), addressBase: 1 });
    assert.equal(based.json().points[0].where, 'holding 1..2 (protocol 0..1)');
    const saved = await c.request('PUT', '/api/devices/added', device(f.sim.port, points));
    assert.equal(saved.statusCode, 200, saved.body);
    const warnings = saved.json().warnings as Array<{ path: string; message: string }>;
    assert.deepEqual(warnings.map((w) => w.path), ['points[1].address', 'points[2].address']);
    assert.match(warnings[0]!.message, /point "volume" \(uint32, holding 1\.\.2\) overlaps point "flow" \(float32, holding 0\.\.1\) in holding 1/);
    assert.match(warnings[1]!.message, /address 40001 looks like Modicon notation 4xxxx/);
    assert.deepEqual(f.gateway.currentConfig().devices.map((d) => d.id), ['water-meter', 'added'], 'saved and applied');
    const logged = f.logRing.tail(0, 100).map((l) => l.msg);
    assert.ok(logged.some((m) => m.startsWith('config warning, device "added" points[2].address: address 40001 looks like Modicon')), logged.join('\n'));
  } finally {
    await f.close();
  }
});

test('a device that refuses one read shows polling, not failing, with the refused read in its state', async () => {
  const f = await webFixture();
  try {
    const c = await f.setup();
    // The simulator has no input register 900: exception 02 for that read, the other answers.
    const saved = await c.request(
      'PUT',
      '/api/devices/added',
      device(f.sim.port, [
        { id: 'flow', table: 'holding', address: 0, type: 'float32', order: 'CDAB' },
        { id: 'missing', table: 'input', address: 900 },
      ]),
    );
    assert.equal(saved.statusCode, 200, saved.body);
    type State = { consecutiveFailures: number; blockErrors: string[]; lastOkAt: number | null; polls: number };
    const state = await waitFor(
      async () => {
        const list = (await c.request('GET', '/api/devices')).json() as Array<{ id: string; state: State | null }>;
        const s = list.find((d) => d.id === 'added')?.state;
        return s && s.polls >= 3 ? s : undefined;
      },
      { what: 'three polls of the added device' },
    );
    assert.equal(state.consecutiveFailures, 0);
    assert.ok(state.lastOkAt !== null);
    assert.deepEqual(state.blockErrors, ['Modbus exception 2 (illegal data address) reading input 900']);
  } finally {
    await f.close();
  }
});
