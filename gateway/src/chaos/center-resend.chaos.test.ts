/**
 * The center can ask a gateway for a range it is missing: here the center loses a range it
 * had already confirmed (a restore from an older backup), its gap report names the range,
 * and a signed `resend` command makes the real daemon send it again from its log. The center
 * ends with every sequence, each the reading the log holds.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { buildCommand, sendCommand } from '@kedge/cloud-sync/downlink/sender.ts';
import { startModbusSim } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { simGatewayConfig } from '@kedge/testkit/sim/sim-config.ts';
import { rawPublicKey } from '../ota/verify.ts';
import { closeAll } from '@kedge/testkit/clean-up.ts';
import { assertEverySequenceOnce, assertSameReadings, Center, GatewayUnderTest } from './harness.ts';

test('a range the center lost after confirming it comes back with a signed resend command (0 missing at the end)', async (t) => {
  const sim = await startModbusSim();
  const center = await Center.start('chaos-resend');
  const key = generateKeyPairSync('ed25519');
  const config = {
    ...simGatewayConfig({ gatewayId: 'gw-resend', simPort: sim.port, brokerUrl: center.broker.url, dataDir: '', intervalMs: 100 }),
    commands: { trustedKeys: [{ id: 'center-1', publicKey: rawPublicKey(key.publicKey).toString('base64') }], maxAgeMs: 60_000 },
  };
  const gw = new GatewayUnderTest('gw-resend', center.dir, config);
  const client = await mqtt.connectAsync(center.broker.url, { clientId: `center-cmd-${process.pid}`, reconnectPeriod: 0 });
  t.after(() =>
    closeAll(
      () => client.endAsync(),
      () => gw.stop(),
      () => center.close(),
      () => sim.close(),
    ),
  );

  await gw.start();
  await gw.waitFor(() => center.confirmed(gw.id) > 1000, { timeoutMs: 30_000, what: 'readings confirmed by the center' });
  // The center loses 200..599 after having confirmed them (the gateway keeps confirmed
  // readings for log.retainAckedMs, an hour by default).
  const db = new Database(join(center.dir, 'center.db'));
  const lost = db.prepare('DELETE FROM readings WHERE gateway = ? AND seq BETWEEN 200 AND 599').run(gw.id).changes;
  db.close();
  assert.equal(lost, 400);
  assert.deepEqual(center.store.gaps(gw.id), [{ first: 200, last: 599 }], 'the gap report names the lost range');

  const identity = { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: gw.id };
  const epoch = gw.inspectLog().epoch;
  const command = buildCommand({
    kind: 'resend',
    target: identity,
    args: { first: 200, last: 599, epoch },
    keyId: 'center-1',
    sign: (bytes) => sign(null, bytes, key.privateKey),
  });
  const answer = await sendCommand(client, identity, 'resend', command, 20_000);
  assert.equal(answer.ok, true, JSON.stringify(answer.error));
  assert.deepEqual(answer.result, { epoch, resent: { first: 200, last: 599 }, evicted: [], notHeld: [], beyondLog: null });
  await gw.waitFor(() => center.store.gaps(gw.id).length === 0, { timeoutMs: 30_000, what: 'the lost range back at the center' }).catch((err: Error) => {
    throw new Error(`${err.message}\n--- gaps at the center ---\n${JSON.stringify(center.store.gaps(gw.id))}`, { cause: err });
  });

  assert.equal((await gw.stop()).code, 0);
  const log = gw.inspectLog();
  await gw.waitFor(() => center.confirmed(gw.id) === log.lastSeq, { timeoutMs: 30_000, what: `the center to confirm up to ${log.lastSeq}` });
  const coverage = assertEverySequenceOnce(center.store, gw.id, log.lastSeq);
  assert.deepEqual(coverage, { stored: log.lastSeq, evicted: 0 });
  assert.equal(assertSameReadings(center.store, gw), log.lastSeq);
  t.diagnostic(`sequences 1..${log.lastSeq}: all stored after the resend, 0 missing, 0 content mismatches`);
});
