/**
 * The agent's MQTT client ends whether or not its broker is still there. Its status reports
 * go at QoS 1, and mqtt.js's graceful end waits for the PUBACK of every report in flight: with
 * the broker gone it never comes, and with nothing else alive the promise just stays pending
 * (node:test: "Promise resolution is still pending but the event loop has already resolved";
 * the daemon: a reload that never reaches the new broker, a shutdown that runs into its grace).
 * The brokers here hold the agent's reports back on purpose, so a report is in flight exactly
 * when the test says.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import type { AuthorizePublishHandler } from 'aedes';
import { startEmbeddedBroker, type EmbeddedBroker } from '@kedge/cloud-sync/broker/embedded.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { otaTopic, STATUS_FLUSH_MS } from './agent.ts';
import { newKey, seededSlots, tempDir, TEST_IDENTITY, testAgent, watchStatus } from './testing.ts';

const KEY = newKey();
const CLIENT_ID = 'kem-01-ota';
/** A stop or a move that has not ended by then hangs (it takes STATUS_FLUSH_MS at most). */
const HANG_LIMIT_MS = STATUS_FLUSH_MS + 20_000;

/** A broker that, while `hold` is on, takes the agent's status reports but answers none (no PUBACK). */
async function holdingBroker(t: test.TestContext) {
  const held: Array<() => void> = [];
  const ctl = { hold: false, held, release: () => held.splice(0).forEach((go) => go()) };
  const authorizePublish: AuthorizePublishHandler = (client, packet, cb) => {
    if (ctl.hold && client?.id === CLIENT_ID && packet.topic === otaTopic(TEST_IDENTITY, 'ota/status')) held.push(() => cb(null));
    else cb(null);
  };
  const b = await startEmbeddedBroker({ port: 0, aedes: { authorizePublish } });
  t.after(() => b.close());
  return { b, ctl };
}

/** `p`, or a failure naming `what` once it has not settled within HANG_LIMIT_MS (the timer keeps the file alive to say so). */
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

/** An agent connected to `b`, with one status report sent and held there without a PUBACK. */
async function agentWithReportInFlight(t: test.TestContext, b: EmbeddedBroker, ctl: { hold: boolean; held: unknown[] }, o: { statusFlushMs?: number } = {}) {
  const work = tempDir(t);
  const agent = testAgent(t, work, seededSlots(work), KEY, { mqtt: { url: b.url, clientId: CLIENT_ID }, ...o });
  const reported = await watchStatus(t, b.url);
  agent.start();
  await waitFor(() => reported.length > 0, { what: 'the first status of the agent' });
  ctl.hold = true;
  agent.refresh();
  await waitFor(() => ctl.held.length > 0, { what: 'the status report held by the broker' });
  return { agent, reported };
}

test('the agent stops when its broker went away with a status report unacknowledged', async (t) => {
  const { b, ctl } = await holdingBroker(t);
  const { agent } = await agentWithReportInFlight(t, b, ctl);
  await b.close();
  await within(agent.stop(), 'agent.stop() after the broker went away');
});

test('a move to another broker is not held by the old one going away with a report unacknowledged', async (t) => {
  const { b: oldBroker, ctl } = await holdingBroker(t);
  const { b: newBroker } = await holdingBroker(t);
  const { agent } = await agentWithReportInFlight(t, oldBroker, ctl);
  const onNew = await watchStatus(t, newBroker.url);
  await oldBroker.close();
  await within(agent.reconnect({ url: newBroker.url, clientId: CLIENT_ID }), 'the move to the new broker');
  await waitFor(() => onNew.length > 0, { what: 'the agent reporting on the new broker' });
});

test('a broker that stays connected but never acknowledges holds the stop only for STATUS_FLUSH_MS, then loses the connection', async (t) => {
  const { b, ctl } = await holdingBroker(t);
  const { agent } = await agentWithReportInFlight(t, b, ctl);
  const gone = new Promise<void>((resolve) => b.broker.on('clientDisconnect', (c) => void (c.id === CLIENT_ID && resolve())));
  await within(agent.stop(), 'agent.stop() with a silent broker');
  await within(gone, 'the broker seeing the agent disconnect');
});

test('while the broker answers, the stop waits for the report in flight to be acknowledged before it ends the connection', async (t) => {
  const { b, ctl } = await holdingBroker(t);
  // Far beyond anything this test waits for: the wait can only end by the acknowledgement.
  const { agent } = await agentWithReportInFlight(t, b, ctl, { statusFlushMs: HANG_LIMIT_MS * 10 });
  const seen: string[] = [];
  b.broker.on('clientDisconnect', (c) => void (c.id === CLIENT_ID && seen.push('disconnect')));
  const stopping = agent.stop();
  // A whole MQTT session of another client (connect, subscribe, answers) after the stop began:
  // a stop that did not wait would have ended the agent's connection meanwhile.
  await watchStatus(t, b.url);
  assert.equal(seen.length, 0, 'the agent is still connected while its report waits');
  seen.push('acknowledged');
  ctl.hold = false;
  ctl.release();
  await within(stopping, 'agent.stop()');
  await waitFor(() => seen.includes('disconnect'), { what: 'the broker seeing the agent disconnect' });
  assert.deepEqual(seen, ['acknowledged', 'disconnect']);
});
