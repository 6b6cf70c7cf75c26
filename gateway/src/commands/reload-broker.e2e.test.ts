/**
 * A reload that moves the box to another broker moves the command downlink with it: before the
 * one MQTT connection factory (gateway/src/mqtt-connection.ts) the downlink kept listening on
 * the old broker until the next restart, and the center's commands on the new one went unheard.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { buildCommand, sendCommand } from '@kedge/cloud-sync/downlink/sender.ts';
import type { GatewayIdentity } from '@kedge/cloud-sync/topics.ts';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { ConfigService } from '../config/config-service.ts';
import { loadConfigFile } from '../config/load.ts';
import { Gateway } from '../gateway.ts';
import { rawPublicKey } from '../ota/verify.ts';
import { ConfigStore } from '../config/config-store.ts';
import { startCommands } from './index.ts';

const identity: GatewayIdentity = { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'gw-move' };
const center = generateKeyPairSync('ed25519');
/** A command's round trip on a loaded machine; generous, the answer normally takes milliseconds. */
const ANSWER_TIMEOUT_MS = 20_000;

test('reload with a new broker URL: the downlink answers a command on the new broker, no longer on the old one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-cmd-move-'));
  const oldBroker = await startMosquitto();
  const newBroker = await startMosquitto();
  const configPath = join(dir, 'kedge.yaml');
  const configText = (url: string) =>
    JSON.stringify({
      gateway: { id: identity.gateway, region: identity.region, municipality: identity.municipality },
      dataDir: join(dir, 'data'),
      log: { flushMs: 20, synchronous: 'normal' },
      uplink: { url, codec: 'json', reconnectMinMs: 200, reconnectMaxMs: 1000 },
      web: { enabled: false },
      commands: { trustedKeys: [{ id: 'center-1', publicKey: rawPublicKey(center.publicKey).toString('base64') }], maxAgeMs: 60_000 },
      devices: [],
    });
  writeFileSync(configPath, configText(oldBroker.url));
  const logger = pino({ level: 'info' }, process.env.KEDGE_TEST_LOG ? process.stderr : new Writable({ write: (_c, _e, cb) => cb() }));
  const gateway = new Gateway(await loadConfigFile(configPath), logger);
  await gateway.start();
  const service = new ConfigService({ path: configPath, apply: (c) => gateway.reload(c), dataDir: join(dir, 'data') });
  const commands = startCommands({ gateway, logger, configService: service });
  const oldCenter = await mqtt.connectAsync(oldBroker.url, { clientId: `center-old-${process.pid}`, clean: true });
  const newCenter = await mqtt.connectAsync(newBroker.url, { clientId: `center-new-${process.pid}`, clean: true });
  const rebirth = () =>
    buildCommand({ kind: 'rebirth', target: identity, args: {}, keyId: 'center-1', sign: (bytes) => sign(null, bytes, center.privateKey) });
  try {
    await waitFor(() => commands.downlink?.isConnected, { what: 'command downlink connected to the old broker' });
    const before = await sendCommand(oldCenter, identity, 'rebirth', rebirth(), ANSWER_TIMEOUT_MS);
    assert.equal(before.ok, true, JSON.stringify(before.error));
    const oldDownlink = commands.downlink;

    // The engineer moves the box to the new broker (the UI's uplink page does this edit).
    await new ConfigStore(service).edit((doc) => doc.setIn(['uplink', 'url'], newBroker.url), { source: 'web', actor: 'admin', what: 'PUT /api/uplink' });
    await waitFor(() => commands.downlink !== oldDownlink && commands.downlink?.isConnected, { what: 'command downlink connected to the new broker' });

    const after = await sendCommand(newCenter, identity, 'rebirth', rebirth(), ANSWER_TIMEOUT_MS);
    assert.equal(after.ok, true, JSON.stringify(after.error));
    // The old connection is closed, not left listening next to the new one.
    assert.equal(oldDownlink?.isConnected, false);
  } finally {
    await oldCenter.endAsync();
    await newCenter.endAsync();
    await commands.stop();
    await gateway.stop();
    await oldBroker.stop();
    await newBroker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
