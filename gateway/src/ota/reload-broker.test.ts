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
  await gateway.start();
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

test('reload that renames the box (gateway.id, then topicPrefix): offers on the new topic are taken, nothing on the old one', async (t) => {
  const work = tempDir(t);
  const b = await startEmbeddedBroker({ port: 0 });
  t.after(() => b.close());
  const dataDir = join(work, 'data');
  const slotsDir = seededSlots(work, '1.0.0');
  const key = newKey();
  const configFor = (id: string, topicPrefix = 'kedge/v1') =>
    parseConfig(
      JSON.stringify({
        gateway: { id, region: ID.region, municipality: ID.municipality, name: 'Насосная' },
        dataDir,
        uplink: { url: b.url, codec: 'json', topicPrefix, reconnectMinMs: 200, reconnectMaxMs: 1000 },
        web: { enabled: false },
        ota: { trustedKeys: trusted(key), slotsDir },
      }),
    );
  const topicOf = (id: string, prefix = 'kedge/v1') => otaTopic({ ...ID, prefix, gateway: id }, 'ota');
  const logger = pino({ level: 'warn' }, new Writable({ write: (_c, _e, cb) => cb() }));
  const gateway = new Gateway(configFor('kem-ota-a'), logger);
  await gateway.start();
  t.after(() => gateway.stop());
  const ota = startOta({ config: gateway.currentConfig(), gateway, logger, restart: () => {} });
  t.after(() => ota.stop());
  const agent = ota.agent!;

  // What the agent takes from MQTT (every offer goes through offer()), and what its clients subscribe to.
  let taken: string[] = [];
  const offer = agent.offer.bind(agent);
  agent.offer = (raw) => {
    taken.push((raw as { marker?: string }).marker ?? '?');
    return offer(raw);
  };
  let subscribed: string[] = [];
  b.broker.on('subscribe', (subs, client) => void (client.id.endsWith('-ota') && subscribed.push(...subs.map((s) => s.topic))));
  const publisher = await mqtt.connectAsync(b.url, { reconnectPeriod: 0 });
  t.after(() => publisher.endAsync());
  const put = (topic: string, marker: string, retain: boolean) => publisher.publishAsync(topic, JSON.stringify({ marker }), { qos: 1, retain });

  const renames = [
    { from: topicOf('kem-ota-a'), to: topicOf('kem-ota-b'), config: configFor('kem-ota-b'), what: 'gateway.id' },
    { from: topicOf('kem-ota-b'), to: topicOf('kem-ota-b', 'kedge/test'), config: configFor('kem-ota-b', 'kedge/test'), what: 'uplink.topicPrefix' },
  ];
  await waitFor(() => subscribed.includes(renames[0]!.from), { what: 'the agent subscribed to its first topic' });
  for (const r of renames) {
    // Retained offers on both topics before the reload; the agent, still on the old one, takes that one.
    taken = [];
    await put(r.from, `old ${r.what}`, true);
    await put(r.to, `new ${r.what}`, true);
    await waitFor(() => taken.includes(`old ${r.what}`), { what: `the agent on its old topic before the ${r.what} change` });
    taken = [];
    subscribed = [];
    await gateway.reload(r.config);
    await waitFor(() => taken.includes(`new ${r.what}`), { what: `the retained offer on the new topic after the ${r.what} change` });
    // A live offer on the old topic, then one on the new: the second arriving proves the first had its chance.
    await put(r.from, `old live ${r.what}`, false);
    await put(r.to, `new live ${r.what}`, false);
    await waitFor(() => taken.includes(`new live ${r.what}`), { what: `a live offer on the new topic after the ${r.what} change` });
    assert.deepEqual(taken, [`new ${r.what}`, `new live ${r.what}`], `after the ${r.what} change only the new topic's offers are taken`);
    assert.deepEqual(subscribed, [r.to], `after the ${r.what} change the agent subscribes to the new topic only`);
    await put(r.from, '', true);
  }
});
