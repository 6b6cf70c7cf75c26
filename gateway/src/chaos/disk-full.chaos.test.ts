/**
 * Disk full is a state, not a crash: the real daemon with its data folder on a small tmpfs
 * that fills up stays up, says so on /healthz (503 with the reason) and /metrics, keeps
 * polled readings in a bounded memory buffer (what it must drop is counted and reported to
 * the center as evicted), survives a SIGKILL and a restart onto the still-full disk, and
 * resumes by itself when space returns. The center ends with every sequence stored or
 * reported evicted, each stored reading the one the log holds.
 *
 * Needs root to mount the tmpfs; skipped with the reason otherwise.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { startModbusSim } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { freePort } from '@kedge/testkit/ports.ts';
import { simGatewayConfig } from '@kedge/testkit/sim/sim-config.ts';
import { mountTmpfs, tmpfsUnavailable } from '@kedge/testkit/tmpfs.ts';
import { afterEverything } from '@kedge/testkit/temp-dirs.ts';
import { closeAll } from '@kedge/testkit/clean-up.ts';
import { assertEverySequenceOnce, assertSameReadings, Center, GatewayUnderTest } from './harness.ts';

const skip = tmpfsUnavailable();
const DISK_BYTES = 24 * 1024 * 1024;
/** The smallest memory buffer the config allows: at ~600 readings/s it overflows within seconds. */
const BUFFER = 1000;

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

const metric = (body: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(body)?.[1] ?? NaN);

test('a full disk keeps the daemon up and honest, and every sequence reaches the center once space returns', { skip: skip ?? false }, async (t) => {
  const fs = mountTmpfs(DISK_BYTES, 'kedge-diskfull');
  // After the daemon's stop, however late that is registered: it writes there until then. Skipped
  // when a hook before it throws: the mount is then undone at exit (tmpfs.ts).
  afterEverything(t, () => fs.unmount());
  const sim = await startModbusSim();
  const center = await Center.start('chaos-disk-full');
  const webPort = await freePort();
  const config = simGatewayConfig({
    gatewayId: 'gw-disk-full',
    simPort: sim.port,
    brokerUrl: center.broker.url,
    dataDir: '',
    intervalMs: 50,
    log: { maxBufferedReadings: BUFFER },
    web: { host: '127.0.0.1', port: webPort },
  });
  const gw = new GatewayUnderTest('gw-disk-full', fs.dir, config);
  t.after(() =>
    closeAll(
      () => gw.stop(),
      () => center.close(),
      () => sim.close(),
    ),
  );

  await gw.start();
  await gw.waitFor(() => center.confirmed(gw.id) > 300, { timeoutMs: 30_000, what: 'readings confirmed by the center' });
  const healthy = await get(webPort, '/healthz');
  assert.equal(healthy.status, 200);
  // Both positions, on /healthz and /metrics: the broker's PUBACK and the center's confirmation.
  assert.match(JSON.parse(healthy.body).checks.log.detail, /broker acknowledged up to \d+, center confirmed up to [1-9]\d*/);
  const before = (await get(webPort, '/metrics')).body;
  assert.ok(metric(before, 'kedge_uplink_center_confirmed_seq') > 0);
  assert.ok(metric(before, 'kedge_uplink_broker_acked_seq') >= metric(before, 'kedge_uplink_center_confirmed_seq'));
  assert.equal(metric(before, 'kedge_log_write_failing'), 0);

  fs.fill();
  await gw.waitFor(() => /writes failing \(disk full/.test(gw.output()), { timeoutMs: 30_000, what: 'the log to notice the full disk' });
  const health = await gw.waitFor(
    async () => {
      const h = await get(webPort, '/healthz');
      return h.status === 503 ? h : undefined;
    },
    { what: '/healthz to answer 503' },
  );
  assert.match(JSON.parse(health.body).checks.log.detail, /writes failing since .*disk full/);
  const dropping = await gw.waitFor(
    async () => {
      const m = (await get(webPort, '/metrics')).body;
      return metric(m, 'kedge_log_dropped_readings_total') > 0 ? m : undefined;
    },
    { timeoutMs: 30_000, what: 'the memory buffer to overflow and count its drops' },
  );
  assert.equal(metric(dropping, 'kedge_log_write_failing'), 1);
  assert.ok(metric(dropping, 'kedge_log_buffered_readings') <= BUFFER, 'the memory buffer holds its bound');

  // A power cut while the disk is full, and a start onto the still-full disk: no crash loop.
  await gw.kill();
  await gw.start();
  await gw.waitFor(() => /writes failing/.test(gw.output()), { timeoutMs: 30_000, what: 'the restarted daemon to notice the full disk' });
  await gw.waitFor(
    async () => {
      const m = (await get(webPort, '/metrics')).body;
      return metric(m, 'kedge_log_dropped_readings_total') > 0 ? m : undefined;
    },
    { timeoutMs: 30_000, what: 'the restarted daemon to keep polling into its bounded buffer' },
  );
  assert.equal((await get(webPort, '/healthz')).status, 503);

  fs.free();
  await gw.waitFor(() => /writes resumed/.test(gw.output()), { timeoutMs: 60_000, what: 'writes to resume by themselves' });
  const back = center.confirmed(gw.id);
  await gw.waitFor(() => center.confirmed(gw.id) > back + 300, { timeoutMs: 60_000, what: 'readings confirmed again after the disk recovered' });
  await gw.waitFor(async () => ((await get(webPort, '/healthz')).status === 200 ? true : undefined), { what: '/healthz 200 again' });

  assert.equal((await gw.stop()).code, 0, 'a clean stop');
  const log = gw.inspectLog();
  await gw.waitFor(() => center.confirmed(gw.id) === log.lastSeq, { timeoutMs: 30_000, what: `the center to confirm up to ${log.lastSeq}` });
  const coverage = assertEverySequenceOnce(center.store, gw.id, log.lastSeq);
  assert.ok(coverage.evicted > 0, 'the readings dropped from memory are reported evicted');
  assert.equal(coverage.evicted, log.evictedTotal, "the center's evicted count is the log's");
  assert.equal(coverage.stored + coverage.evicted, log.lastSeq);
  assert.equal(assertSameReadings(center.store, gw), coverage.stored, 'each stored reading is the one the log holds');
  t.diagnostic(`sequences 1..${log.lastSeq}: ${coverage.stored} stored, ${coverage.evicted} reported evicted (dropped while the disk was full), 0 missing, 0 content mismatches`);
  assert.equal(log.integrity, 'ok');
});
