/**
 * The gateway logs a poll's readings first and tells device presence after (poll listeners, in
 * the same turn: gateway.ts). A device coming back whose first poll fills a whole batch must get
 * DBIRTH then DDATA, never DDATA encoded while it is still offline (a false DDEATH, then a
 * second DBIRTH). Against a real broker.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import type { DevicePresence, SparkplugDevices } from './devices.ts';
import { DataType } from '../../codec/sparkplug-payload.ts';
import { MemoryLog } from '../memory-log.ts';
import { TEST_UPLINK_TIMING } from '../test-timing.ts';
import { SparkplugUplink } from './sparkplug-uplink.ts';

/** Generous: the loaded 2-core CI machine; each message takes milliseconds. */
const WAIT = { timeoutMs: 60_000 };

for (const batchMaxReadings of [2, 3]) {
  test(`a device coming back whose first poll ${batchMaxReadings === 2 ? 'fills a whole batch' : 'is a short batch'} gets DBIRTH then DDATA, and no DDEATH`, async (t) => {
    const broker = await startMosquitto();
    t.after(() => broker.stop());
    const host = await mqtt.connectAsync(broker.url, { clientId: 'host-order' });
    t.after(() => host.endAsync(true));
    const got: string[] = [];
    host.on('message', (topic) => got.push(topic.split('/').slice(2).join('/')));
    await host.subscribeAsync('spBv1.0/#', { qos: 1 });

    const log = new MemoryLog();
    const presence = new Map<string, DevicePresence>([
      ['water', 'online'],
      ['river', 'online'],
    ]);
    const listeners = new Set<(d: string, p: DevicePresence, ts: number) => void>();
    const setPresence = (d: string, p: DevicePresence) => {
      presence.set(d, p);
      for (const l of listeners) l(d, p, Date.now());
    };
    const devices: SparkplugDevices = {
      presence: (d) => presence.get(d) ?? 'unknown',
      current: () => ({ value: 1, quality: 'good', ts: Date.now() }),
      pointType: () => undefined,
      scaled: () => false,
      onPresence: (l) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    };
    const up = new SparkplugUplink({
      log,
      group: 'g',
      edgeNode: 'n',
      url: broker.url,
      clientId: `kedge-n-${batchMaxReadings}`,
      metrics: [
        { point: 'water/flow', datatype: DataType.Float },
        { point: 'river/level', datatype: DataType.Int16 },
        { point: 'river/door', datatype: DataType.Boolean },
      ],
      ...TEST_UPLINK_TIMING,
      batchMaxReadings,
      batchMaxDelayMs: 0,
      liveFirst: false,
      logger: pino({ level: 'silent' }),
      devices,
    } as ConstructorParameters<typeof SparkplugUplink>[0]);
    t.after(() => up.stop());
    up.start();
    await waitFor(() => got.filter((x) => x.startsWith('DBIRTH')).length === 2, { what: 'both births', ...WAIT });

    // The river is lost: its failed poll (nulls) is logged, then the presence change, as the gateway does.
    log.append([
      { point: 'river/level', ts: Date.now(), value: null, quality: 'bad_no_response' },
      { point: 'river/door', ts: Date.now(), value: null, quality: 'bad_no_response' },
    ]);
    setPresence('river', 'offline');
    await waitFor(() => got.includes('DDEATH/n/river'), { what: 'the river death', ...WAIT });
    await waitFor(() => log.cursor('uplink') === 2, { what: 'the failed poll taken', ...WAIT });
    const mark = got.length;

    // The river returns: its first poll is logged (a whole batch when batchMaxReadings is 2), then presence says online.
    log.append([
      { point: 'river/level', ts: Date.now(), value: 5, quality: 'good' },
      { point: 'river/door', ts: Date.now(), value: true, quality: 'good' },
    ]);
    setPresence('river', 'online');
    await waitFor(() => log.cursor('uplink') === 4, { what: 'the return delivered', ...WAIT });
    // A later reading of another device: once its DDATA is here, everything before it is (one session, in order).
    log.append([{ point: 'water/flow', ts: Date.now(), value: 2, quality: 'good' }]);
    await waitFor(() => got.slice(mark).includes('DDATA/n/water'), { what: 'the later water reading', ...WAIT });
    const river = got.slice(mark).filter((x) => x.endsWith('/river'));
    assert.deepEqual(river, ['DBIRTH/n/river', 'DDATA/n/river'], `after the return: ${got.slice(mark).join(', ')}`);
  });
}
