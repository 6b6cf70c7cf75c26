/**
 * Reconnects of the MQTT session: prompt once the broker is back (the backoff is bounded by
 * reconnectMaxMs, backoff.test.ts), spread over the fleet only by the separate offset. The
 * delays are read from the status with injected random draws; nothing waits for them.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { freePort } from '@kedge/testkit/ports.ts';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { startTcpRelay } from '@kedge/testkit/tcp-relay.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { jsonCodec } from '../../codec/json.ts';
import { MemoryLog } from '../memory-log.ts';
import { Uplink, type UplinkOptions } from './uplink.ts';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const identity = { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'gw-rc' };

function uplinkFor(t: test.TestContext, url: string, extra: Partial<UplinkOptions>): Uplink {
  const log = new MemoryLog();
  const uplink = new Uplink({
    log,
    identity,
    url,
    clientId: `kedge-gw-rc-${Math.random().toString(16).slice(2)}`,
    codec: jsonCodec,
    batchMaxReadings: 50,
    batchMaxDelayMs: 20,
    inflight: 4,
    keepaliveSec: 5,
    reconnectMinMs: 1000,
    reconnectMaxMs: 8000,
    logger,
    ...extra,
  });
  t.after(() => uplink.stop());
  return uplink;
}

test('a broker that refuses: the next attempt is the floor plus this box\'s own fleet offset, drawn once', async (t) => {
  const port = await freePort(); // nothing listens there
  let draws = 0;
  const uplink = uplinkFor(t, `mqtt://127.0.0.1:${port}`, {
    reconnectSpreadMs: 20_000,
    random: () => {
      draws++;
      return 0.5;
    },
  });
  const before = Date.now();
  uplink.start();
  await waitFor(() => uplink.status().reconnects === 1, { what: 'the refused connect' });
  const wait = uplink.status().nextAttemptAt! - before;
  // reconnectDelay(0, 1000, 8000) = 1000 whatever the draw, plus 0.5 x 20 s.
  assert.ok(wait >= 11_000 && wait <= 11_000 + (Date.now() - before), `next attempt in ${wait} ms`);
  assert.equal(draws, 2, 'one draw for the offset, one for the delay');
});

test('without a fleet window the next attempt is never further away than reconnectMaxMs, and the uplink is back once the broker listens again', async (t) => {
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  const relay = await startTcpRelay(broker.port);
  t.after(() => relay.close());
  const uplink = uplinkFor(t, `mqtt://127.0.0.1:${relay.port}`, { reconnectMinMs: 50, reconnectMaxMs: 200 });
  uplink.start();
  await waitFor(() => uplink.status().state === 'online', { what: 'online' });
  relay.cut(); // the broker is gone: connects are refused
  await waitFor(() => uplink.status().reconnects >= 4, { what: 'four refused attempts' });
  const next = uplink.status().nextAttemptAt! - Date.now();
  assert.ok(next <= 200, `an attempt is never further away than reconnectMaxMs (was ${next} ms)`);
  relay.restore();
  await waitFor(() => uplink.status().state === 'online', { what: 'back online after the broker came back' });
});
