/**
 * A store error must not wedge delivery: the message is not acknowledged, and since an MQTT
 * broker delivers an unacknowledged message again only on a new connection, the ingest
 * reconnects (with a growing wait while the store keeps failing) and then stores it.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import type { Batch } from '../codec/index.ts';
import { jsonCodec } from '../codec/json.ts';
import type { GatewayIdentity } from '../topics.ts';
import { IngestConsumer, type IngestLogger } from './consumer.ts';
import { IngestStore } from './store.ts';

const DATA = 'kedge/v1/kuzbass/kemerovo/gw1/data';
const quiet: IngestLogger = { info() {}, warn() {}, error() {} };
/** Failures of the store before it works again. */
const FAILURES = 3;

test('a batch the store could not commit is delivered again after a reconnect and stored, one reconnect per failure', async (t) => {
  const broker = await startMosquitto({ persistence: true });
  t.after(() => broker.stop());
  const store = new IngestStore(':memory:');
  t.after(() => store.close());
  let failing = FAILURES;
  const attempts: number[] = [];
  // The real store, failing its first commits the way a locked or full disk does.
  const flaky = Object.create(store) as IngestStore;
  flaky.storeBatch = (id: GatewayIdentity, batch: Batch) => {
    attempts.push(batch.first);
    if (failing-- > 0) throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    return store.storeBatch(id, batch);
  };
  const errors: string[] = [];
  const consumer = new IngestConsumer({
    url: broker.url,
    clientId: `ingest-store-error-${process.pid}`,
    prefix: 'kedge/v1',
    store: flaky,
    logger: { ...quiet, error: (_o: object, msg?: string) => void errors.push(msg ?? '') },
    storeRetryMinMs: 50,
    storeRetryMaxMs: 400,
  });
  await consumer.start();
  t.after(() => consumer.stop());

  const publisher = await mqtt.connectAsync(broker.url, { clientId: `pub-${process.pid}`, reconnectPeriod: 0 });
  t.after(() => publisher.endAsync());
  const readings = Array.from({ length: 10 }, (_, i) => ({ seq: i + 1, point: 'm/p', ts: 1_700_000_000_000 + i, value: i, quality: 'good' as const }));
  await publisher.publishAsync(DATA, jsonCodec.encode({ gateway: 'gw1', first: 1, last: 10, evicted: [], readings }), { qos: 1 });

  await waitFor(() => store.sequences('gw1').length === 10, { what: 'the batch stored after the store recovered' });
  assert.equal(attempts.length, FAILURES + 1, 'delivered again once per reconnect, until it was stored');
  assert.equal(consumer.storeRetries, FAILURES);
  assert.equal(errors.filter((e) => e === 'ingest could not store a message').length, FAILURES);
  assert.equal(store.confirmed('gw1', ''), 10);
});
