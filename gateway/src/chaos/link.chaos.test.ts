/**
 * A flaky uplink: a half-open link (a TCP proxy that swallows everything without closing,
 * as a 4G modem that lost its carrier) mid-stream and while idle, and broker restarts. After
 * each, the center must hold every sequence once. One broker for the file, one gateway per test.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startModbusSim, type ModbusSim } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { closeAll } from '@kedge/testkit/clean-up.ts';
import { assertEverySequenceOnce, Center, GatewayUnderTest } from './harness.ts';
import { startTcpProxy } from './tcp-proxy.ts';

let center: Center;
let sim: ModbusSim;

before(async () => {
  sim = await startModbusSim();
  center = await Center.start('chaos-link');
});

after(() =>
  closeAll(
    () => center?.close(),
    () => sim?.close(),
  ),
);

// Reconnects wait at least 1 s, so a test can let the link pass again before the next attempt
// (an attempt swallowed by the blackhole waits out mqtt.js's 15 s connect timeout).
const FAST_DETECTION = { keepaliveSec: 5, ackTimeoutMs: 3000, reconnectMinMs: 1000, reconnectMaxMs: 2000 };

/** A gateway on the simulated meters with a quick dead-link detection. */
function gatewayVia(id: string, brokerUrl: string): GatewayUnderTest {
  return GatewayUnderTest.sim(center.dir, { gatewayId: id, simPort: sim.port, brokerUrl, intervalMs: 100, uplink: FAST_DETECTION });
}

/** Output of the current run from `from` on. */
const since = (gw: GatewayUnderTest, from: number) => gw.output().slice(from);
const count = (text: string, re: RegExp) => text.match(new RegExp(re.source, 'g'))?.length ?? 0;

async function stopAndCheck(gw: GatewayUnderTest): Promise<void> {
  assert.equal((await gw.stop()).code, 0, 'a clean stop');
  const log = gw.inspectLog();
  assert.equal(log.integrity, 'ok');
  await gw.waitFor(() => center.confirmed(gw.id) === log.lastSeq, { timeoutMs: 20_000, what: `the ingest to reach sequence ${log.lastSeq}` });
  assert.deepEqual(assertEverySequenceOnce(center.store, gw.id, log.lastSeq), { stored: log.lastSeq, evicted: 0 });
}

test('a slow uplink keeps its connection; a half-open one mid-stream is detected by the ack timeout, the uplink reconnects once the link passes and every sequence arrives once', async (t) => {
  const proxy = await startTcpProxy({ targetPort: center.broker.port });
  const gw = gatewayVia('gw-chaos-halfopen', `mqtt://127.0.0.1:${proxy.port}`);
  t.after(() =>
    closeAll(
      () => gw.stop(),
      () => proxy.close(),
    ),
  );
  await gw.start();
  await gw.waitFor(() => center.maxSeq(gw.id) > 200, { timeoutMs: 20_000, what: 'readings flowing' });
  // A slow link (satellite, congested 2G) is not a dead one: acknowledgements come late, in time.
  proxy.setMode('delay', 500);
  const slow = center.maxSeq(gw.id);
  await gw.waitFor(() => center.maxSeq(gw.id) > slow + 200, { timeoutMs: 20_000, what: 'readings over the slow link' });
  proxy.setMode('pass');
  assert.doesNotMatch(gw.output(), /no PUBACK in time|uplink disconnected/, 'a slow link kept its connection');

  const from = gw.output().length;
  const accepted = proxy.accepted;
  proxy.setMode('blackhole');
  await gw.waitFor(() => /no PUBACK in time: reconnecting/.test(since(gw, from)), { timeoutMs: 20_000, what: 'the ack timeout to notice the dead link' });
  proxy.setMode('pass');
  await gw.waitFor(() => /uplink connected/.test(since(gw, from)), { timeoutMs: 30_000, what: 'the uplink to reconnect' });
  assert.ok(proxy.accepted > accepted, 'the uplink opened a new connection through the proxy');
  const resumed = center.maxSeq(gw.id);
  await gw.waitFor(() => center.maxSeq(gw.id) > resumed + 100, { timeoutMs: 20_000, what: 'readings flowing after the reconnect' });

  await stopAndCheck(gw);
});

test('a half-open uplink with nothing in flight is detected by keepalive, and the gateway comes back online', async (t) => {
  const proxy = await startTcpProxy({ targetPort: center.broker.port });
  // No devices, no readings: no PUBACK is ever awaited, so the ack timeout cannot help.
  const gw = new GatewayUnderTest('gw-chaos-idle', center.dir, {
    gateway: { id: 'gw-chaos-idle', region: 'kuzbass', municipality: 'kemerovo' },
    uplink: { url: `mqtt://127.0.0.1:${proxy.port}`, ...FAST_DETECTION },
    web: { enabled: false },
  });
  t.after(() =>
    closeAll(
      () => gw.stop(),
      () => proxy.close(),
    ),
  );
  await gw.start();
  await gw.waitFor(() => center.status(gw.id) === 'online', { what: 'the birth message' });

  const from = gw.output().length;
  proxy.setMode('blackhole');
  await gw.waitFor(() => /Keepalive timeout/.test(since(gw, from)), { timeoutMs: 30_000, what: 'keepalive to notice the dead link' });
  proxy.setMode('pass');
  await gw.waitFor(() => /uplink connected/.test(since(gw, from)), { timeoutMs: 30_000, what: 'the uplink to reconnect' });
  assert.equal(count(since(gw, from), /no PUBACK in time/), 0, 'nothing was in flight: keepalive noticed');
  await gw.waitFor(() => center.status(gw.id) === 'online', { what: 'the birth message after the reconnect' });
  assert.equal((await gw.stop()).code, 0);
  assert.equal(gw.inspectLog().integrity, 'ok');
});

test('the broker stopped and restarted twice, once mid-stream and once while the backlog drains: every sequence arrives once', async (t) => {
  const gw = gatewayVia('gw-chaos-restart', center.broker.url);
  t.after(() => gw.stop());
  await gw.start();
  const connects = () => count(gw.output(), /uplink connected/);
  await gw.waitFor(() => center.maxSeq(gw.id) > 200, { timeoutMs: 20_000, what: 'readings flowing' });
  for (let round = 1; round <= 2; round++) {
    const before = connects();
    await center.broker.restart();
    // Reconnected means it is flushing what piled up while the broker was away; the next
    // restart hits that flush.
    await gw.waitFor(() => connects() > before, { timeoutMs: 20_000, what: `the uplink back after restart ${round}` });
  }
  await stopAndCheck(gw);
});
