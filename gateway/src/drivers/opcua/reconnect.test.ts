import test from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { startOpcuaSim, type OpcuaSim } from '@kedge/testkit/sim/opcua-sim.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { OpcuaDevice } from './opcua-device.ts';
import { restartablePort } from './restart-port.ts';
import { opcuaDataDir, opcuaDevice, SampleLog } from './test-support.ts';

// The failure other gateways are known for: after the server restarts, the client reconnects
// but its subscriptions are gone and values silently stop. One driver and one server for the
// file, in order: server down at start, up, restarted twice.
let dataDir: string;
let port: number;
let sim: OpcuaSim | null = null;
let driver: OpcuaDevice;
const log = new SampleLog();
const SUBSCRIBED = ['level', 'temp', 'pulses'];

test.before(async () => {
  dataDir = await opcuaDataDir('kedge-opcua-rc-');
  // Down at start and restarted: a port the kernel hands to nobody else meanwhile.
  port = await restartablePort();
  driver = new OpcuaDevice(
    opcuaDevice({
      endpointUrl: `opc.tcp://127.0.0.1:${port}`,
      publishingIntervalMs: 100,
      samplingIntervalMs: 50,
      timeoutMs: 2000,
      backoff: { minMs: 100, maxMs: 500 },
      points: [
        { id: 'level', nodeId: 'ns=1;s=Level' },
        { id: 'temp', nodeId: 'ns=1;s=WaterTemperature', publishingIntervalMs: 250 },
        { id: 'pulses', nodeId: 'ns=1;s=PulseCount', samplingIntervalMs: 100 },
        { id: 'pump', nodeId: 'ns=1;s=PumpRunning', mode: 'poll' },
      ],
    }),
    { dataDir },
  );
});

test.after(async () => {
  await driver.close();
  await sim?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const goodSince = (point: string, index: number) => log.of(point).slice(index).filter((s) => s.quality === 'good').length;

test('a server that is down at start-up gives each subscribed point one bad_comm sample, then values once it is up', async () => {
  assert.deepEqual(driver.subscribe(log.sink), SUBSCRIBED);
  await waitFor(() => SUBSCRIBED.every((p) => log.of(p).length === 1), { what: 'the outage samples' });
  for (const p of SUBSCRIBED) {
    const [s] = log.of(p);
    assert.equal(s!.quality, 'bad_comm');
    assert.equal(s!.value, null);
    assert.match(s!.error!, new RegExp(`opc\\.tcp://127\\.0\\.0\\.1:${port}`));
  }
  const poll = await driver.poll(['pump']);
  assert.equal(poll.failed, true);
  assert.equal(poll.samples[0]!.quality, 'bad_comm');

  sim = await startOpcuaSim({ port, security: 'none', tickMs: 50 });
  await waitFor(() => SUBSCRIBED.every((p) => goodSince(p, 1) >= 2), { timeoutMs: 20_000, what: 'values after the server came up' });
  // Retries while the server was down added no further bad samples.
  for (const p of SUBSCRIBED) assert.equal(log.of(p).filter((s) => s.quality !== 'good').length, 1, p);
  assert.equal(driver.sessions, 1);
});

for (const round of [1, 2]) {
  test(`server restart ${round}: the driver re-creates every subscription and monitored item and values flow again`, async () => {
    assert.ok(sim);
    const before = new Map(SUBSCRIBED.map((p) => [p, log.of(p).length]));
    const sessionsBefore = driver.sessions;
    const restartedAt = Date.now();
    await sim.restart();

    // Good samples may still arrive between the snapshot and the shutdown: wait for the outage
    // and for values stamped after the restart began.
    const freshSince = (p: string) => log.of(p).slice(before.get(p)!).filter((s) => s.quality === 'good' && s.ts >= restartedAt).length;
    await waitFor(() => SUBSCRIBED.every((p) => freshSince(p) >= 2 && log.of(p).slice(before.get(p)!).some((s) => s.quality !== 'good')), {
      timeoutMs: 20_000,
      what: 'values flowing again after the restart',
    });
    assert.equal(driver.sessions, sessionsBefore + 1, 'one new session');
    for (const p of SUBSCRIBED) {
      const since = log.of(p).slice(before.get(p)!);
      const bad = since.filter((s) => s.quality !== 'good');
      // The outage shows once per point, before the new values.
      assert.equal(bad.length, 1, `${p}: ${JSON.stringify(bad)}`);
      assert.equal(bad[0]!.quality, 'bad_comm');
      assert.equal(since.indexOf(bad[0]!) < since.findLastIndex((s) => s.quality === 'good'), true);
      const fresh = since.filter((s) => s.quality === 'good' && s.ts >= restartedAt);
      assert.ok(fresh.length >= 2, `${p}: fresh values after the restart`);
    }
    const poll = await driver.poll(['pump']);
    assert.deepEqual([poll.failed, poll.samples[0]!.value, poll.samples[0]!.quality], [false, false, 'good']);
  });
}

/**
 * A TCP relay that can go silent like a 4G link losing carrier: no reset, no FIN, bytes just
 * stop. Connections made while silent are swallowed too; after heal() only new ones work.
 */
async function startRelay(targetPort: number): Promise<{ port: number; silence(): void; heal(): void; close(): Promise<void> }> {
  let silent = false;
  const sockets = new Set<net.Socket>();
  const dead = new WeakSet<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (silent) {
      dead.add(client);
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('data', (b) => {
      if (!silent && !dead.has(client)) upstream.write(b);
    });
    upstream.on('data', (b) => {
      if (!silent && !dead.has(client)) client.write(b);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    silence() {
      silent = true;
      for (const s of sockets) dead.add(s);
    },
    heal() {
      silent = false;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test('a link that goes silent without a reset is detected by keep-alive; after it heals, subscriptions are re-created', async (t) => {
  assert.ok(sim);
  const relay = await startRelay(sim.port);
  t.after(() => relay.close());
  const viaRelay = new OpcuaDevice(
    opcuaDevice({
      id: 'far-station',
      endpointUrl: `opc.tcp://127.0.0.1:${relay.port}`,
      publishingIntervalMs: 100,
      samplingIntervalMs: 50,
      timeoutMs: 1000,
      backoff: { minMs: 100, maxMs: 500 },
      points: [{ id: 'level', nodeId: 'ns=1;s=Level' }],
    }),
    { dataDir },
  );
  t.after(() => viaRelay.close());
  const farLog = new SampleLog();
  viaRelay.subscribe(farLog.sink);
  await waitFor(() => farLog.of('level').filter((s) => s.quality === 'good').length >= 2, { timeoutMs: 20_000, what: 'values through the relay' });

  relay.silence();
  const outage = await waitFor(() => farLog.of('level').find((s) => s.quality !== 'good'), { timeoutMs: 20_000, what: 'the outage to be noticed' });
  assert.equal(outage.value, null);
  const count = farLog.of('level').length;
  relay.heal();
  await waitFor(() => farLog.of('level').slice(count).filter((s) => s.quality === 'good').length >= 3, { timeoutMs: 20_000, what: 'values after the link healed' });
  assert.equal(farLog.of('level').filter((s) => s.quality !== 'good').length, 1, 'one outage sample');
  assert.ok(viaRelay.sessions >= 2);
});
