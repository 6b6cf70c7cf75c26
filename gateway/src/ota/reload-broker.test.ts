/**
 * startOta follows a reload to another broker (gateway/src/mqtt-connection.ts): the OTA client
 * used to keep the broker of the start until the next restart, so offers published on the
 * new broker were never seen.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { startEmbeddedBroker } from '@kedge/cloud-sync/broker/embedded.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { parseConfig } from '../config/load.ts';
import { Gateway } from '../gateway.ts';
import { otaTopic } from './agent.ts';
import { startOta } from './index.ts';
import { newKey, seededSlots, tempDir, trusted } from './testing.ts';

const ID = { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'kem-ota-move' };

test('reload with a new broker URL: the OTA agent reports on the new broker; a reload without broker change keeps its connection', async (t) => {
  const work = tempDir(t);
  const oldBroker = await startEmbeddedBroker({ port: 0 });
  t.after(() => oldBroker.close());
  const newBroker = await startEmbeddedBroker({ port: 0 });
  t.after(() => newBroker.close());
  const key = newKey();
  const dataDir = join(work, 'data');
  const slotsDir = seededSlots(work, '1.0.0');
  const configFor = (url: string, name = 'Насосная') =>
    parseConfig(
      JSON.stringify({
        gateway: { id: ID.gateway, region: ID.region, municipality: ID.municipality, name },
        dataDir,
        uplink: { url, codec: 'json', reconnectMinMs: 200, reconnectMaxMs: 1000 },
        web: { enabled: false },
        ota: { trustedKeys: trusted(key), slotsDir },
      }),
    );
  const logger = pino({ level: 'warn' }, new Writable({ write: (_c, _e, cb) => cb() }));
  const gateway = new Gateway(configFor(oldBroker.url), logger);
  gateway.start();
  t.after(() => gateway.stop());
  const ota = startOta({ config: gateway.currentConfig(), gateway, logger, restart: () => {} });
  t.after(() => ota.stop());

  // Who connected with the OTA client id, per broker: the agent's connections.
  const connects = { old: 0, new: 0 };
  oldBroker.broker.on('client', (c) => void (c.id.endsWith('-ota') && connects.old++));
  newBroker.broker.on('client', (c) => void (c.id.endsWith('-ota') && connects.new++));
  const statusOn = async (url: string) => {
    const seen: unknown[] = [];
    const watcher = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
    t.after(() => watcher.endAsync());
    watcher.on('message', (_topic, payload) => seen.push(JSON.parse(payload.toString())));
    await watcher.subscribeAsync(otaTopic(ID, 'ota/status'), { qos: 1 });
    return seen;
  };
  const onOld = await statusOn(oldBroker.url);
  await waitFor(() => onOld.length > 0, { what: 'the OTA status on the old broker' });

  // Same broker, other name: the agent keeps its connection.
  await gateway.reload(configFor(oldBroker.url, 'Насосная 2'));
  const onNew = await statusOn(newBroker.url);
  await gateway.reload(configFor(newBroker.url, 'Насосная 2'));
  await waitFor(() => onNew.length > 0, { what: 'the OTA status on the new broker' });
  assert.deepEqual(connects, { old: 1, new: 1 }, 'one connection per broker: the first reload did not reconnect');
});
