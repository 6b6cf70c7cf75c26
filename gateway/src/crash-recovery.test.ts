import test from 'node:test';
import assert from 'node:assert/strict';
import { startModbusSim } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { closeAll } from '@kedge/testkit/clean-up.ts';
import { Center, GatewayUnderTest } from './chaos/harness.ts';

test('a gateway killed with SIGKILL mid-stream loses nothing: after restarts every sequence reaches the ingest exactly once', async (t) => {
  const sim = await startModbusSim();
  const center = await Center.start('crash');
  const gw = GatewayUnderTest.sim(center.dir, { gatewayId: 'gw-crash', simPort: sim.port, brokerUrl: center.broker.url, intervalMs: 100 });
  t.after(() =>
    closeAll(
      () => gw.stop(),
      () => center.close(),
      () => sim.close(),
    ),
  );
  const maxSeq = () => center.maxSeq(gw.id);
  const status = () => center.status(gw.id);

  await gw.start();
  for (let round = 1; round <= 3; round++) {
    const before = maxSeq();
    await waitFor(() => maxSeq() > before + 100, { timeoutMs: 20_000, what: `readings flowing in round ${round}` });
    await gw.kill();
    // The broker publishes the gateway's last will: the center sees it go offline.
    await waitFor(() => status() === 'offline', { timeoutMs: 20_000, what: 'the last will' });
    await gw.start();
    assert.match(gw.output(), /not closed cleanly/, 'the restarted daemon noticed the crash and checked the log');
    await waitFor(() => status() === 'online', { what: 'the birth message after restart' });
  }
  await waitFor(() => maxSeq() > 0, { what: 'data after the last restart' });
  assert.equal((await gw.stop()).code, 0, 'SIGTERM: a clean stop');

  const log = gw.inspectLog();
  assert.equal(log.integrity, 'ok');
  // Contiguously: after a restart live-first sends the newest readings ahead of the backlog.
  await waitFor(() => center.confirmed(gw.id) === log.lastSeq, { timeoutMs: 20_000, what: `the ingest to reach sequence ${log.lastSeq}` });
  const seqs = center.store.sequences(gw.id);
  assert.equal(seqs.length, log.lastSeq, 'every sequence stored once');
  assert.ok(seqs.every((s, i) => s === i + 1), 'no sequence missing');
  assert.deepEqual(center.store.gaps(gw.id), []);
  // The goodbye follows the last batch through the broker, but the ingest may store it a moment
  // after the last confirmation; its reason tells a clean goodbye from the broker's Will.
  await waitFor(() => status() === 'offline', { timeoutMs: 20_000, what: 'the retained offline status a clean stop leaves' });
  assert.equal(center.statusMessage(gw.id)?.reason, 'shutdown', 'the offline status is the goodbye of a clean stop, not the Will');
});
