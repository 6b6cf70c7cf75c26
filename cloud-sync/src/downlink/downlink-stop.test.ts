/**
 * The downlink stops whether or not its broker is still there. A command's answer goes at
 * QoS 1, and mqtt.js's graceful end waits for its PUBACK: with the broker gone that never
 * comes, and a shutdown behind it runs into the daemon's grace (exit 1, the rest of the
 * gateway never stopped). The command was executed, and its answer is journaled nowhere for
 * a resend, so an answer the stop gives up on is logged with its command id and counted.
 * The brokers here hold the gateway's answers back on purpose, so one is in flight exactly
 * when the test says.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import type { AuthorizePublishHandler } from 'aedes';
import { startEmbeddedBroker } from '../broker/embedded.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { Downlink, RESPONSE_FLUSH_MS } from './downlink.ts';
import { commandTopic, responseTopic, type CommandResponse } from './envelope.ts';
import type { GatewayIdentity } from '../topics.ts';

const IDENTITY: GatewayIdentity = { prefix: 'kedge', region: 'kuzbass', municipality: 'kem', gateway: 'kem-01' };
const CLIENT_ID = 'kem-01-cmd';
/** A stop that has not ended by then hangs (it takes RESPONSE_FLUSH_MS at most). */
const HANG_LIMIT_MS = RESPONSE_FLUSH_MS + 20_000;

interface Logged {
  level: string;
  obj: Record<string, unknown>;
  msg: string;
}

/** A broker that, while `hold` is on, takes the gateway's answers but acknowledges none. */
async function holdingBroker(t: test.TestContext) {
  const held: Array<() => void> = [];
  const ctl = { hold: true, held, release: () => held.splice(0).forEach((go) => go()) };
  const authorizePublish: AuthorizePublishHandler = (client, packet, cb) => {
    if (ctl.hold && client?.id === CLIENT_ID && packet.topic.endsWith('/response')) held.push(() => cb(null));
    else cb(null);
  };
  const b = await startEmbeddedBroker({ port: 0, aedes: { authorizePublish } });
  t.after(() => b.close());
  return { b, ctl };
}

async function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not end within ${HANG_LIMIT_MS} ms`)), HANG_LIMIT_MS);
  });
  try {
    return await Promise.race([p, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** A downlink on `url` that has executed one command and whose answer the broker holds. */
async function downlinkWithAnswerInFlight(t: test.TestContext, url: string, held: unknown[], o: { responseFlushMs?: number } = {}) {
  const logs: Logged[] = [];
  const log = (level: string) => (obj: Record<string, unknown>, msg: string) => void logs.push({ level, obj, msg });
  const executed: string[] = [];
  const downlink = new Downlink({
    identity: IDENTITY,
    url,
    clientId: CLIENT_ID,
    reconnectMs: 1000,
    logger: { info: log('info'), warn: log('warn'), error: log('error'), debug: log('debug') } as never,
    handle: async (kind, payload): Promise<CommandResponse> => {
      const { id } = JSON.parse(payload.toString()) as { id: string };
      executed.push(id);
      return { id, ok: true, result: { kind } };
    },
    ...o,
  });
  t.after(() => downlink.stop());
  downlink.start();
  await waitFor(() => logs.some((l) => l.msg === 'command downlink subscribed'), { what: 'the downlink subscribed' });
  const center = await mqtt.connectAsync(url, { clientId: 'center' });
  t.after(() => center.endAsync(true));
  await center.publishAsync(commandTopic(IDENTITY, 'rebirth'), JSON.stringify({ id: 'cmd-42' }), { qos: 1 });
  await waitFor(() => held.length > 0, { what: 'the answer held by the broker' });
  assert.deepEqual(executed, ['cmd-42']);
  return { downlink, logs, center };
}

const dropWarnings = (logs: Logged[]) => logs.filter((l) => l.level === 'warn' && l.msg.startsWith('command response dropped'));

test('the downlink stops when its broker went away with an answer unacknowledged, and says which answer was lost', async (t) => {
  const { b, ctl } = await holdingBroker(t);
  const { downlink, logs } = await downlinkWithAnswerInFlight(t, b.url, ctl.held);
  await b.close();
  await within(downlink.stop(), 'downlink.stop() after the broker went away');
  assert.equal(downlink.droppedResponses, 1);
  assert.deepEqual(
    dropWarnings(logs).map((l) => l.obj),
    [{ id: 'cmd-42', kind: 'rebirth', dropped: 1 }],
  );
});

test('a broker that stays connected but never acknowledges holds the stop only for RESPONSE_FLUSH_MS, then loses the connection', async (t) => {
  const { b, ctl } = await holdingBroker(t);
  const { downlink, logs } = await downlinkWithAnswerInFlight(t, b.url, ctl.held);
  const gone = new Promise<void>((resolve) => b.broker.on('clientDisconnect', (c) => void (c.id === CLIENT_ID && resolve())));
  await within(downlink.stop(), 'downlink.stop() with a silent broker');
  await within(gone, 'the broker seeing the downlink disconnect');
  assert.equal(downlink.droppedResponses, 1);
  assert.equal(dropWarnings(logs).length, 1);
});

test('while the broker answers, the stop waits for the answer in flight and reports nothing dropped', async (t) => {
  const { b, ctl } = await holdingBroker(t);
  // Far beyond anything this test waits for: the wait can only end by the acknowledgement.
  const { downlink, logs, center } = await downlinkWithAnswerInFlight(t, b.url, ctl.held, { responseFlushMs: HANG_LIMIT_MS * 10 });
  const answers: string[] = [];
  center.on('message', (_topic, payload) => answers.push(payload.toString()));
  await center.subscribeAsync(responseTopic(IDENTITY, '+'), { qos: 1 });
  const seen: string[] = [];
  b.broker.on('clientDisconnect', (c) => void (c.id === CLIENT_ID && seen.push('disconnect')));
  const stopping = downlink.stop();
  // A whole MQTT session of another client after the stop began: a stop that did not wait
  // would have ended the downlink's connection meanwhile.
  const other = await mqtt.connectAsync(b.url, { clientId: 'witness' });
  await other.subscribeAsync('witness/#', { qos: 1 });
  await other.endAsync();
  assert.equal(seen.length, 0, 'the downlink is still connected while its answer waits');
  seen.push('acknowledged');
  ctl.hold = false;
  ctl.release();
  await within(stopping, 'downlink.stop()');
  await waitFor(() => seen.includes('disconnect'), { what: 'the broker seeing the downlink disconnect' });
  assert.deepEqual(seen, ['acknowledged', 'disconnect']);
  assert.equal(downlink.droppedResponses, 0);
  assert.deepEqual(dropWarnings(logs), []);
  await waitFor(() => answers.length > 0, { what: 'the answer reaching the center' });
  assert.equal((JSON.parse(answers[0]!) as CommandResponse).id, 'cmd-42');
});
