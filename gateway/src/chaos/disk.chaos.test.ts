/**
 * The disk cap: with the broker unreachable, a 1 MiB log (the smallest allowed) fills and the
 * oldest unsent readings are evicted. When the broker is back, the center must be able to
 * tell every sequence: stored, or inside a range the gateway reported evicted, and the
 * gateway's own count must agree with the center's.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { startModbusSim, type SimMeter } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { simGatewayConfig } from '@kedge/testkit/sim/sim-config.ts';
import { closeAll } from '@kedge/testkit/clean-up.ts';
import { assertEverySequenceOnce, Center, GatewayUnderTest } from './harness.ts';
import { startTcpProxy } from './tcp-proxy.ts';

const MAX_BYTES = 1024 * 1024;

/** Three units of 125 registers each, one block read per unit: ~7,500 readings a second at 50 ms. */
function denseMeters(): SimMeter[] {
  return [1, 2, 3].map((unitId) => ({
    unitId,
    name: `dense ${unitId}`,
    points: Array.from({ length: 125 }, (_, i) => ({
      id: `r${i}`,
      table: 'holding' as const,
      address: i,
      type: 'uint16' as const,
      order: 'ABCD' as const,
      value: (t: number) => (Math.floor(t / 50) + i) % 65536,
    })),
  }));
}

test('a full 1 MiB log evicts the oldest unsent readings, and the center accounts for every sequence as stored or evicted', async (t) => {
  const meters = denseMeters();
  const sim = await startModbusSim({ meters });
  const center = await Center.start('chaos-disk');
  // The broker is "down" for the gateway while the proxy resets every connection; the ingest
  // stays connected directly.
  const proxy = await startTcpProxy({ targetPort: center.broker.port });
  const config = simGatewayConfig({
    gatewayId: 'gw-chaos-disk',
    simPort: sim.port,
    brokerUrl: `mqtt://127.0.0.1:${proxy.port}`,
    dataDir: '',
    intervalMs: 50,
    meters,
    log: { maxBytes: MAX_BYTES },
    uplink: { maxReadingsPerSec: 0, batchMaxReadings: 1000 },
  });
  const gw = new GatewayUnderTest('gw-chaos-disk', center.dir, config);
  t.after(() =>
    closeAll(
      () => gw.stop(),
      () => proxy.close(),
      () => center.close(),
      () => sim.close(),
    ),
  );

  await gw.start();
  await gw.waitFor(() => center.maxSeq(gw.id) > 2000, { timeoutMs: 20_000, what: 'readings flowing' });

  proxy.setMode('reset');
  // Several evictions (one commit of ~7,500 readings is about 1/5 of the cap), one warning:
  // it is rate-limited to one a minute, with counts.
  await gw.waitFor(() => gw.inspectLog().evictedTotal > 60_000, {
    timeoutMs: 40_000,
    what: 'the log to reach its cap and evict several times',
  });
  assert.equal(gw.output().match(/log size cap reached/g)?.length, 1, 'the eviction warning is rate-limited');
  // Polling stops (a reload without devices), so nothing is appended or evicted while the
  // backlog drains and the counts compared below stay put.
  gw.writeConfig({ ...config, dataDir: gw.dataDir, devices: [] });
  gw.process.kill('SIGHUP');
  await gw.waitFor(() => /config reloaded/.test(gw.output()), { what: 'the reload without devices' });

  const full = gw.inspectLog();
  assert.equal(full.integrity, 'ok');
  assert.ok(full.evictedTotal > 0, 'readings were evicted');
  assert.ok(full.usedBytes <= MAX_BYTES, `the log holds ${full.usedBytes} bytes of data, within its cap of ${MAX_BYTES}`);
  assert.ok(full.uplinkCursor < full.lastSeq, 'a backlog is waiting');

  proxy.setMode('pass');
  // Contiguously (stored or evicted): with live-first the newest readings arrive first, so
  // the highest sequence held says nothing about the backlog before it.
  await gw.waitFor(() => center.confirmed(gw.id) === full.lastSeq, { timeoutMs: 30_000, what: `the backlog up to sequence ${full.lastSeq} at the center` });
  const birth = await gw.waitFor(
    () => {
      const status = center.statusMessage(gw.id);
      return status?.state === 'online' && Number(status.evictedTotal) > 0 ? status : undefined;
    },
    { what: 'the birth message counting the eviction' },
  );

  const coverage = assertEverySequenceOnce(center.store, gw.id, full.lastSeq);
  t.diagnostic(`sequences 1..${full.lastSeq}: ${coverage.stored} stored, ${coverage.evicted} evicted in ${center.store.evictedRanges(gw.id).length} ranges`);
  assert.equal(coverage.stored + coverage.evicted, full.lastSeq);
  // The log forgets only what the center confirmed, so it may evict readings the center had
  // stored when the link broke but whose confirmation never arrived: the center counts those
  // as stored (never both), and everything else the log evicted as evicted.
  const inLogEvictions = (s: number) => full.evictions.some((e) => s >= e.first && s <= e.last);
  const storedThoughEvicted = center.store.sequences(gw.id).filter(inLogEvictions).length;
  t.diagnostic(`the log evicted ${full.evictedTotal}: ${coverage.evicted} evicted at the center, ${storedThoughEvicted} it had stored before the link broke`);
  assert.equal(coverage.evicted + storedThoughEvicted, full.evictedTotal, "the center's accounting matches the log's evictions exactly");
  assert.equal(birth.evictedTotal, full.evictedTotal, "the gateway's birth message reports the log's count");
  assert.equal(center.summary(gw.id)?.evicted, coverage.evicted);
  // The center's store confirmed the backlog; the gateway hears that confirmation a moment
  // later (under load, later than a clean stop's drain waits for a quiet far end).
  await gw.waitFor(() => gw.inspectLog().uplinkCursor === full.lastSeq, { timeoutMs: 30_000, what: `the gateway to hear the confirmation of sequence ${full.lastSeq}` });

  assert.equal((await gw.stop()).code, 0, 'a clean stop');
  const after = gw.inspectLog();
  assert.equal(after.integrity, 'ok', 'PRAGMA integrity_check');
  assert.equal(after.lastSeq, full.lastSeq, 'nothing logged after polling stopped');
  assert.equal(after.evictedTotal, full.evictedTotal, 'nothing evicted while draining');
  assert.equal(after.uplinkCursor, full.lastSeq, 'everything acknowledged');
});
