/**
 * Bad meters on the same gateway as a good one: garbage answers, answers too late, no answer
 * at all. The good meter must keep its pace, the bad ones must show up as bad quality (once
 * per change, not once per poll), the daemon must survive, and the log must stay complete.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import type { LogRecord } from '@kedge/cloud-sync/model.ts';
import { defaultMeters, startModbusSim } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { simGatewayConfig } from '@kedge/testkit/sim/sim-config.ts';
import { parseConfig } from '../config/load.ts';
import type { ModbusTcpDeviceConfig } from '../config/schema.ts';
import { createModbusTcpDriver } from '../drivers/modbus-tcp/index.ts';
import { closeAll } from '@kedge/testkit/clean-up.ts';
import { assertEverySequenceOnce, Center, chaosSeed, GatewayUnderTest, seededRandom } from './harness.ts';
import { startFakeDevice, type Misbehaviour } from './fake-device.ts';
import { startTcpProxy } from './tcp-proxy.ts';

const GOOD_INTERVAL_MS = 100;
// A poll of the good meter that had to wait for a bad one would leave a hole this long.
const BAD_TIMEOUT_MS = 2000;
const BAD: Misbehaviour[] = ['garbage', 'slow', 'silent'];

/** A bad device's config: two blocks' worth of points, quick retries. */
function badDevice(id: string, port: number) {
  return {
    id,
    driver: 'modbus-tcp',
    host: '127.0.0.1',
    port,
    timeoutMs: BAD_TIMEOUT_MS,
    intervalMs: 200,
    backoff: { minMs: 200, maxMs: 1000 },
    points: [
      { id: 'a', table: 'holding', address: 0, type: 'uint16' },
      { id: 'b', table: 'holding', address: 1, type: 'int32' },
    ],
  };
}

const byPoint = (records: LogRecord[]) => {
  const out = new Map<string, LogRecord[]>();
  for (const r of records) out.set(r.point, [...(out.get(r.point) ?? []), r]);
  return out;
};

test('garbage, late and silent meters beside a good one: the good one keeps its pace, the bad ones log bad quality on transitions, nothing is lost', async (t) => {
  const seed = chaosSeed();
  t.diagnostic(`chaos seed ${seed} (replay with CHAOS_SEED=${seed})`);
  const random = seededRandom(seed);
  const water = defaultMeters()[0]!;
  const sim = await startModbusSim({ meters: [water] });
  const fakes = new Map<Misbehaviour, Awaited<ReturnType<typeof startFakeDevice>>>();
  for (const b of BAD) fakes.set(b, await startFakeDevice(b, { random, slowMs: BAD_TIMEOUT_MS + 500 }));
  const center = await Center.start('chaos-device');
  const config = simGatewayConfig({
    gatewayId: 'gw-chaos-device',
    simPort: sim.port,
    brokerUrl: center.broker.url,
    dataDir: '',
    meters: [water],
    intervalMs: GOOD_INTERVAL_MS,
  });
  const good = (config.devices as Array<{ id: string }>)[0]!.id;
  config.devices = [...(config.devices as object[]), ...BAD.map((b) => badDevice(b, fakes.get(b)!.port))];
  const gw = new GatewayUnderTest('gw-chaos-device', center.dir, config);
  t.after(() =>
    closeAll(
      () => gw.stop(),
      () => center.close(),
      ...[...fakes.values()].map((f) => () => f.close()),
      () => sim.close(),
    ),
  );

  await gw.start();
  // Progress, not time: every bad device has been asked several times.
  await gw.waitFor(() => BAD.every((b) => fakes.get(b)!.requests >= 4), { timeoutMs: 40_000, what: 'four requests to each bad device' });
  assert.equal((await gw.stop()).code, 0, 'still running, and stops cleanly');
  assert.doesNotMatch(gw.output(), /"level":(50|60)/, 'no error or fatal log record');

  const log = gw.inspectLog();
  assert.equal(log.integrity, 'ok');
  await gw.waitFor(() => center.confirmed(gw.id) === log.lastSeq, { timeoutMs: 20_000, what: `the ingest to reach sequence ${log.lastSeq}` });
  assert.deepEqual(assertEverySequenceOnce(center.store, gw.id, log.lastSeq), { stored: log.lastSeq, evicted: 0 });

  const points = byPoint(center.store.readings(gw.id, 0, Number.MAX_SAFE_INTEGER));
  for (const p of water.points) {
    const readings = points.get(`${good}/${p.id}`) ?? [];
    assert.ok(readings.length >= 10, `${good}/${p.id}: ${readings.length} readings`);
    assert.deepEqual([...new Set(readings.map((r) => r.quality))], ['good'], `${good}/${p.id}: every reading good`);
    const holes = readings.slice(1).map((r, i) => r.ts - readings[i]!.ts);
    const longest = Math.max(...holes);
    assert.ok(longest < BAD_TIMEOUT_MS, `${good}/${p.id}: a ${longest} ms hole, as long as a bad device's timeout`);
  }
  for (const b of BAD) {
    for (const id of ['a', 'b']) {
      const readings = points.get(`${b}/${id}`) ?? [];
      assert.ok(readings.length >= 1, `${b}/${id}: its failure was logged`);
      for (const r of readings) assert.ok(r.quality.startsWith('bad_') && r.value === null, `${b}/${id}: ${r.quality} ${String(r.value)}`);
      // Logged on changes of quality only (the heartbeat is a minute away).
      readings.slice(1).forEach((r, i) => assert.notEqual(r.quality, readings[i]!.quality, `${b}/${id}: the same bad quality logged twice in a row`));
      if (b !== 'garbage') assert.deepEqual(readings.map((r) => r.quality), ['bad_no_response'], `${b}/${id}`);
    }
  }
});

// Each blackholed poll costs one timeout; long enough that a loaded machine still answers the
// good polls through the proxy in time.
const HALF_OPEN_TIMEOUT_MS = 1000;

test(
  'a Modbus TCP link that went half-open is reopened, so the meter is read again once the link is back',
  async (t) => {
    const water = defaultMeters()[0]!;
    const sim = await startModbusSim({ meters: [water] });
    const proxy = await startTcpProxy({ targetPort: sim.port });
    const device = parseConfig(
      JSON.stringify({
        gateway: { id: 'gw-chaos-halfopen-modbus', region: 'kuzbass', municipality: 'kemerovo' },
        uplink: { url: 'mqtt://127.0.0.1:1' },
        devices: [
          { id: 'water', driver: 'modbus-tcp', host: '127.0.0.1', port: proxy.port, unitId: 1, timeoutMs: HALF_OPEN_TIMEOUT_MS, points: [{ id: 'status', table: 'holding', address: 4 }] },
        ],
      }),
    ).devices[0] as ModbusTcpDeviceConfig;
    const driver = createModbusTcpDriver(device);
    t.after(() =>
      closeAll(
        () => driver.close(),
        () => proxy.close(),
        () => sim.close(),
      ),
    );
    assert.equal((await driver.poll(['status'])).samples[0]?.quality, 'good');
    proxy.setMode('blackhole');
    for (let i = 0; i < 5; i++) assert.equal((await driver.poll(['status'])).samples[0]?.quality, 'bad_no_response');
    proxy.setMode('pass');
    const qualities: string[] = [];
    for (let i = 0; i < 5; i++) qualities.push((await driver.poll(['status'])).samples[0]!.quality);
    assert.equal(qualities.at(-1), 'good', `after the link came back: ${qualities.join(', ')}`);
  },
);
