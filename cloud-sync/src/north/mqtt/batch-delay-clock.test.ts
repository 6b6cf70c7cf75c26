import test from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { MemoryLog } from '../memory-log.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { startEmbeddedBroker } from '../../broker/embedded.ts';
import { jsonCodec } from '../../codec/json.ts';
import { Uplink } from './uplink.ts';

const YEAR = 365 * 86_400_000;
/** Far above the batch delay, far below a year: a short batch stuck on the wall clock would miss it. */
const DELIVERY_LIMIT_MS = 30_000;

test('a short batch waiting for company when the wall clock goes back a year still leaves after batchMaxDelayMs', async (t) => {
  const broker = await startEmbeddedBroker({ port: 0 });
  t.after(() => broker.close());
  const log = new MemoryLog();
  t.after(() => log.close());
  const uplink = new Uplink({
    log,
    identity: { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'gw-batch-clock' },
    url: broker.url,
    clientId: 'kedge-gw-batch-clock',
    codec: jsonCodec,
    batchMaxReadings: 100,
    batchMaxDelayMs: 1000,
    inflight: 4,
    keepaliveSec: 5,
    reconnectMinMs: 100,
    reconnectMaxMs: 500,
    logger: pino({ level: 'silent' }),
  });
  t.after(() => uplink.stop());
  const realNow = Date.now;
  t.after(() => {
    Date.now = realNow;
  });
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));

  uplink.start();
  await waitFor(() => uplink.status().state === 'online', { what: 'online' });
  log.append([{ point: 'm/flow', ts: Date.now(), value: 1, quality: 'good' }]);
  log.flush();
  // The append wakes the pump on the next turns of the loop: it sees a short batch and waits.
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  Date.now = () => realNow() - YEAR;

  await waitFor(() => log.cursor('uplink') === 1, { timeoutMs: DELIVERY_LIMIT_MS, intervalMs: 50, what: 'the short batch to leave' });
  assert.deepEqual(warnings.filter((w) => w === 'TimeoutOverflowWarning'), [], 'no year-long delay reached setTimeout');
});
