/**
 * A broker's PUBACK is not custody. With the ingest away, mosquitto holds what it queues for
 * the ingest in memory until its next autosave; killing broker and gateway together loses
 * everything the broker acknowledged since. The gateway forgets data only when the center's
 * ingest confirms it after a durable commit, so after the restarts it sends the lost range
 * again and the center ends with every sequence, each the reading the log holds.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { autoCodec } from '@kedge/cloud-sync/codec/index.ts';
import { startModbusSim } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { closeAll } from '@kedge/testkit/clean-up.ts';
import { assertEverySequenceOnce, assertSameReadings, Center, GatewayUnderTest } from './harness.ts';

/** Readings the broker must hold for the absent ingest when it dies: a range worth losing. */
const QUEUED_WHEN_KILLED = 3000;

test('broker and gateway killed together while the ingest is away: the center still gets every sequence (0 missing)', async (t) => {
  const sim = await startModbusSim();
  // As the fault tests: sessions on disk, nothing dropped from queues, and an
  // autosave far away, so what is queued in memory dies with the broker.
  const center = await Center.start('chaos-broker-crash', { brokerConf: 'autosave_interval 3600\nmax_queued_messages 0' });
  const gw = GatewayUnderTest.sim(center.dir, { gatewayId: 'gw-broker-crash', simPort: sim.port, brokerUrl: center.broker.url, intervalMs: 50 });
  // What the broker accepted and routed, seen by a bystander: proof the broker acknowledged it.
  let brokerSaw = 0;
  const watch = async () => {
    const probe = await mqtt.connectAsync(center.broker.url, { clientId: `probe-${process.pid}-${Date.now()}`, reconnectPeriod: 0 });
    probe.on('message', (_topic, payload) => {
      try {
        brokerSaw = Math.max(brokerSaw, autoCodec.decode(payload).last);
      } catch {
        // not a batch
      }
    });
    probe.on('error', () => {});
    await probe.subscribeAsync('kedge/v1/+/+/gw-broker-crash/data', { qos: 0 });
    return probe;
  };
  let probe = await watch();
  t.after(() =>
    closeAll(
      () => probe.endAsync(true).catch(() => {}),
      () => gw.stop(),
      () => center.close(),
      () => sim.close(),
    ),
  );

  await gw.start();
  await gw.waitFor(() => center.confirmed(gw.id) > 500, { timeoutMs: 30_000, what: 'readings confirmed by the center' });

  await center.stopIngest();
  const heldAtCenter = center.maxSeq(gw.id);
  await gw.waitFor(() => brokerSaw > heldAtCenter + QUEUED_WHEN_KILLED, {
    timeoutMs: 60_000,
    what: `the broker to accept ${QUEUED_WHEN_KILLED} readings for the absent ingest`,
  });
  const confirmedBefore = gw.inspectLog().uplinkCursor;
  assert.ok(confirmedBefore <= heldAtCenter, `the gateway counts as delivered only what the center confirmed (${confirmedBefore} <= ${heldAtCenter})`);

  // Power cut at the center's broker and at the box at the same moment.
  process.kill(center.broker.pid, 'SIGKILL');
  await gw.kill();
  const acknowledgedByBroker = brokerSaw;
  await center.broker.restart();
  await probe.endAsync(true).catch(() => {});
  probe = await watch();
  await center.startIngest();
  // The ingest is back before the gateway: whatever the broker kept is delivered now. The
  // broker kept none of its in-memory queue: the range is lost at the broker.
  const lostAtBroker = acknowledgedByBroker - center.maxSeq(gw.id);
  t.diagnostic(`broker acknowledged up to ${acknowledgedByBroker}; the center held ${heldAtCenter}; lost with the broker: ${lostAtBroker}`);
  assert.ok(lostAtBroker > QUEUED_WHEN_KILLED / 2, 'the fault was real: the broker lost readings it had acknowledged');

  await gw.start();
  const resumed = center.maxSeq(gw.id);
  await gw.waitFor(() => center.maxSeq(gw.id) > Math.max(resumed, acknowledgedByBroker) + 200, {
    timeoutMs: 60_000,
    what: 'the lost range resent and new readings flowing',
  });
  assert.equal((await gw.stop()).code, 0, 'a clean stop');
  const log = gw.inspectLog();
  await gw.waitFor(() => center.confirmed(gw.id) === log.lastSeq, { timeoutMs: 30_000, what: `the center to confirm up to ${log.lastSeq}` });

  const coverage = assertEverySequenceOnce(center.store, gw.id, log.lastSeq);
  assert.deepEqual(coverage, { stored: log.lastSeq, evicted: 0 }, 'every sequence stored, none missing, none evicted');
  assert.equal(assertSameReadings(center.store, gw), log.lastSeq, 'each stored reading is the one the log holds');
  t.diagnostic(`sequences 1..${log.lastSeq}: ${coverage.stored} stored, ${coverage.evicted} evicted, 0 missing, 0 content mismatches`);
  assert.equal(log.integrity, 'ok');
});
