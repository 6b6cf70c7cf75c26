import test from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { MemoryLog } from '../memory-log.ts';
import { startTcpRelay } from '@kedge/testkit/tcp-relay.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { jsonCodec } from '../../codec/json.ts';
import { TEST_UPLINK_TIMING } from '../test-timing.ts';
import { Uplink } from './uplink.ts';

const identity = { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'gw-will' };

test('the kedge uplink last will carries no timestamp (it is published at death, not at connect); birth and clean goodbye do', async (t) => {
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  const relay = await startTcpRelay(broker.port);
  t.after(() => relay.close());
  const log = new MemoryLog();
  const statuses: Array<Record<string, unknown>> = [];
  const center = await mqtt.connectAsync(broker.url, { clientId: 'center-will' });
  t.after(() => center.endAsync(true));
  center.on('message', (_topic, payload) => statuses.push(JSON.parse(payload.toString('utf8')) as Record<string, unknown>));
  await center.subscribeAsync('kedge/v1/kuzbass/kemerovo/gw-will/status', { qos: 1 });

  const uplink = new Uplink({
    log,
    identity,
    url: `mqtt://127.0.0.1:${relay.port}`,
    clientId: 'kedge-gw-will',
    codec: jsonCodec,
    ...TEST_UPLINK_TIMING,
    logger: pino({ level: 'silent' }),
  });
  t.after(() => uplink.stop());
  uplink.start();
  await waitFor(() => statuses.some((s) => s.state === 'online'), { what: 'the birth' });
  relay.cut();
  const will = await waitFor(() => statuses.find((s) => s.state === 'offline'), { what: 'the last will', timeoutMs: 20_000 });
  assert.equal(will.reason, 'connection lost');
  assert.equal('ts' in will, false, `the Will has no ts: ${JSON.stringify(will)}`);
  assert.equal(typeof statuses.find((s) => s.state === 'online')!.ts, 'number', 'the birth is stamped when sent');

  relay.restore();
  await waitFor(() => statuses.filter((s) => s.state === 'online').length === 2, { what: 'the second birth', timeoutMs: 20_000 });
  await uplink.stop();
  const bye = await waitFor(() => statuses.find((s) => s.state === 'offline' && s.reason === 'shutdown'), { what: 'the goodbye' });
  assert.equal(typeof bye.ts, 'number', 'a clean goodbye is sent when it happens and keeps its ts');
});
