import { statSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { startEmbeddedBroker } from '@kedge/cloud-sync/broker/embedded.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { OtaAgent, otaTopic } from './agent.ts';
import { readState } from './slots.ts';
import { signOffer } from './offer.ts';
import { fakeBundle, newKey, seededSlots, served, signedOffer, tempDir, TEST_IDENTITY, testAgent, trusted, watchStatus } from './testing.ts';
import { parsePrivateKey } from './verify.ts';

const KEY = newKey();
const ID = TEST_IDENTITY;
const SELF = { region: ID.region, municipality: ID.municipality, gateway: ID.gateway };
const quiet = { info() {}, warn() {} };

async function broker(t: test.TestContext) {
  const b = await startEmbeddedBroker({ port: 0 });
  t.after(() => b.close());
  return b;
}

async function publishRetained(url: string, msgs: Array<[string, unknown]>) {
  const c = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
  for (const [topic, payload] of msgs) await c.publishAsync(topic, JSON.stringify(payload), { qos: 1, retain: true });
  await c.endAsync();
}

/** Slots running 1.0.0, and a served 1.1.0 bundle offered retained on the broker at `url`, signed for this gateway. */
async function retainedOffer(t: test.TestContext, work: string, url: string): Promise<{ slots: string; path: string }> {
  const slots = seededSlots(work, '1.0.0');
  const { path } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  const server = await served(t, path);
  await publishRetained(url, [[otaTopic(ID, 'ota'), signedOffer(KEY, path, server.url, '1.1.0', { target: SELF })]]);
  return { slots, path };
}

test('a retained MQTT offer on the ota downlink makes the agent download, verify and install, then ask for a restart', async (t) => {
  const work = tempDir(t);
  const b = await broker(t);
  // Retained before the gateway connects: a box that was offline still gets it.
  const { slots, path } = await retainedOffer(t, work, b.url);

  let restartedFor: string | null = null;
  const agent = testAgent(t, work, slots, KEY, { mqtt: { url: b.url, clientId: 'kem-01-ota' }, onInstalled: (v) => (restartedFor = v) });
  const reported = await watchStatus(t, b.url);
  agent.start();

  await waitFor(() => restartedFor, { what: 'the agent to install 1.1.0' });
  assert.equal(restartedFor, '1.1.0');
  assert.deepEqual({ link: readState(slots)!.pending?.slot, version: readState(slots)!.pending?.version }, { link: 'b', version: '1.1.0' });
  await waitFor(() => reported.some((r) => r.state === 'installed'), { what: 'the installed status upstream' });
  const states = [...new Set(reported.map((r) => r.state))];
  assert.deepEqual(states, ['idle', 'checking', 'downloading', 'verifying', 'extracting', 'switching', 'installed']);
  assert.deepEqual(agent.otaStatus().progress, { received: statSync(path).size, total: statSync(path).size });
});

test('after a reload moved the box to another broker (reconnect), the offer retained there is taken', async (t) => {
  const work = tempDir(t);
  const oldBroker = await broker(t);
  const newBroker = await broker(t);
  const { slots } = await retainedOffer(t, work, newBroker.url);
  let restartedFor: string | null = null;
  const agent = testAgent(t, work, slots, KEY, { mqtt: { url: oldBroker.url, clientId: 'kem-01-ota' }, onInstalled: (v) => (restartedFor = v) });
  // Connected to the old broker: its retained status says so.
  const onOld = await watchStatus(t, oldBroker.url);
  agent.start();
  await waitFor(() => onOld.length > 0, { what: 'the agent connected to the old broker' });
  assert.equal(restartedFor, null);

  await agent.reconnect({ url: newBroker.url, clientId: 'kem-01-ota', keepaliveSec: 30 });
  await waitFor(() => restartedFor, { what: 'the agent to take the offer on the new broker' });
  assert.equal(restartedFor, '1.1.0');
});

test('an invalid offer is refused with the field named, and reported upstream as failed', async (t) => {
  const work = tempDir(t);
  const agent = new OtaAgent({ identity: ID, slotsDir: seededSlots(work), incomingDir: join(work, 'in'), trustedKeys: trusted(KEY), logger: quiet, onInstalled: () => {} });
  await assert.rejects(agent.offer({ version: 'latest', url: 'http://x/b', sha256: 'abc', size: 1 }), /invalid OTA offer: version: must be a semantic version such as 1\.4\.2; sha256: must be 64 lowercase hex digits/);
  assert.equal(agent.otaStatus().state, 'failed');
  const running = signOffer({ version: '1.0.0', url: 'http://x/b', sha256: 'a'.repeat(64), size: 1 }, KEY.id, parsePrivateKey(KEY.privateKeyPem));
  assert.deepEqual(await agent.offer(running), { started: false, message: 'version 1.0.0 is already installed' });
});
