/**
 * Attacks on the command downlink, performed against two running gateways on one broker
 * (issue 13, findings 2 and 6): a command sniffed on the broker for gateway A and republished
 * to gateway B, a config meant for A replayed to B, and remote configs that try to replace the
 * trust anchors, the web settings, the identity or a secret path. Each test fails if the hole
 * reopens: the device register or the config file of the attacked box would change.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { startEmbeddedBroker, type EmbeddedBroker } from '@kedge/cloud-sync/broker/embedded.ts';
import { buildCommand, sendCommand } from '@kedge/cloud-sync/downlink/sender.ts';
import { commandTopic, responseTopic, type CommandEnvelope, type CommandResponse } from '@kedge/cloud-sync/downlink/envelope.ts';
import type { GatewayIdentity } from '@kedge/cloud-sync/topics.ts';
import { startPymodbus, type PymodbusHandle } from '@kedge/testkit/pymodbus.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { ConfigService } from '../config/config-service.ts';
import { loadConfigFile } from '../config/load.ts';
import { ModbusRTU } from '../drivers/modbus/modbus-serial.ts';
import { Gateway } from '../gateway.ts';
import { rawPublicKey } from '../ota/verify.ts';
import { startCommands, type RunningCommands } from './index.ts';

const center = generateKeyPairSync('ed25519');
const intruder = generateKeyPairSync('ed25519');
/** The release maintainers' key (ota.trustedKeys): the only key a `trust` rotation may be signed with. */
const maintainer = generateKeyPairSync('ed25519');
const center2 = generateKeyPairSync('ed25519');
const pub = (k: { publicKey: import('node:crypto').KeyObject }) => rawPublicKey(k.publicKey).toString('base64');
/** Generous: a loaded 2-core machine answers in well under a second. */
const ANSWER_TIMEOUT_MS = 15_000;

interface Box {
  identity: GatewayIdentity;
  configPath: string;
  plc: PymodbusHandle;
  reader: ModbusRTU;
  gateway: Gateway;
  commands: RunningCommands;
}

let dir: string;
let broker: EmbeddedBroker;
let center_: MqttClient;
const boxes: Box[] = [];
/** The boxes' wall clock: real time, moved forward by the replay-store test (the CLI signs with real time). */
let clockOffset = 0;
const clock = () => Date.now() + clockOffset;

function configOf(
  box: { identity: GatewayIdentity; plcPort: number; dataDir: string },
  o: { trusted?: string; otaKey?: string; web?: object; passwordFile?: string; password?: string; url?: string } = {},
): string {
  return JSON.stringify(
    {
      gateway: { id: box.identity.gateway, region: box.identity.region, municipality: box.identity.municipality },
      dataDir: box.dataDir,
      log: { flushMs: 20, synchronous: 'normal' },
      uplink: {
        url: o.url ?? broker.url,
        codec: 'json',
        topicPrefix: box.identity.prefix,
        // A twin of the same names in another deployment: its own client id, or the broker would drop the first.
        ...(box.identity.prefix === 'kedge/v1' ? {} : { clientId: `${box.identity.prefix.replaceAll('/', '_')}-${box.identity.gateway}` }),
        reconnectMinMs: 200,
        reconnectMaxMs: 1000,
        username: 'gw',
        ...(o.passwordFile ? { passwordFile: o.passwordFile } : { password: o.password ?? 'stored-broker-secret' }),
      },
      web: o.web ?? { enabled: false },
      commands: { trustedKeys: [{ id: 'center-1', publicKey: o.trusted ?? pub(center) }], maxAgeMs: 60_000 },
      ota: { trustedKeys: [{ id: 'ota-1', publicKey: o.otaKey ?? pub(maintainer) }] },
      devices: [
        { id: 'plc', driver: 'modbus-tcp', host: '127.0.0.1', port: box.plcPort, intervalMs: 200, points: [{ id: 'pump', table: 'coil', address: 0, writable: true }] },
      ],
    },
    null,
    2,
  );
}

async function startBox(gatewayId: string, maxEntries?: number, prefix = 'kedge/v1'): Promise<Box> {
  const identity: GatewayIdentity = { prefix, region: 'kuzbass', municipality: 'kemerovo', gateway: gatewayId };
  const plc = await startPymodbus({ image: { coils: { 0: false } } });
  const name = prefix === 'kedge/v1' ? gatewayId : `${prefix.replaceAll('/', '_')}-${gatewayId}`;
  const dataDir = join(dir, name);
  mkdirSync(dataDir, { recursive: true });
  const configPath = join(dir, `${name}.yaml`);
  writeFileSync(configPath, configOf({ identity, plcPort: plc.port, dataDir }));
  const logger = pino({ level: 'silent' });
  const gateway = new Gateway(await loadConfigFile(configPath), logger);
  await gateway.start();
  // The loglevel commands of the tests change this holder, not the (silent) logger.
  let level = 'info';
  const commands = startCommands({
    gateway,
    logger,
    configService: new ConfigService({ path: configPath, apply: (c) => gateway.reload(c), dataDir }),
    now: clock,
    logLevel: { get: () => level, set: (l) => (level = l) },
    // clockOffset stands for time that passed: on the monotonic clock of the replay store too.
    ...(maxEntries !== undefined ? { store: { maxEntries, mono: () => performance.now() + clockOffset } } : {}),
  });
  await waitFor(() => commands.downlink?.isConnected, { what: `${gatewayId} command downlink connected` });
  const reader = new ModbusRTU();
  await reader.connectTCP('127.0.0.1', { port: plc.port });
  reader.setID(1);
  const box = { identity, configPath, plc, reader, gateway, commands };
  boxes.push(box);
  return box;
}

let A: Box;
let B: Box;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kedge-cmd-attacks-'));
  broker = await startEmbeddedBroker({ port: 0 });
  [A, B] = [await startBox('gw-a'), await startBox('gw-b')];
  center_ = await mqtt.connectAsync(broker.url, { clientId: `center-attacks-${process.pid}`, clean: true, reconnectPeriod: 0 });
});

test.after(async () => {
  try {
    await center_?.endAsync();
    for (const b of boxes) {
      b.reader.close(() => {});
      await b.commands.stop();
      await b.gateway.stop();
    }
  } finally {
    for (const b of boxes) await b.plc.stop();
    await broker?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

const signed = (kind: string, to: GatewayIdentity, args: Record<string, unknown>, key = center.privateKey, keyId = 'center-1'): CommandEnvelope =>
  buildCommand({ kind, target: to, args, keyId, sign: (b) => sign(null, b, key), ts: clock() });

const send = (to: GatewayIdentity, kind: string, env: CommandEnvelope | Record<string, unknown>) => sendCommand(center_, to, kind, env, ANSWER_TIMEOUT_MS);

const pumpOn = async (box: Box) => (await box.reader.readCoils(0, 1)).data[0];

/** The attacker: a plain broker client that records every command and can publish raw bytes. */
async function sniffer(): Promise<{ client: MqttClient; captured: Map<string, Buffer> }> {
  const client = await mqtt.connectAsync(broker.url, { clientId: `sniffer-${process.pid}`, clean: true, reconnectPeriod: 0 });
  const captured = new Map<string, Buffer>();
  client.on('message', (topic, payload) => captured.set(topic, Buffer.from(payload)));
  await client.subscribeAsync('kedge/v1/+/+/+/cmd/+', { qos: 1 });
  return { client, captured };
}

/** Publishes raw bytes on a command topic and waits for the gateway's answer to them. */
async function replay(client: MqttClient, to: GatewayIdentity, kind: string, payload: Buffer): Promise<CommandResponse> {
  const id = (JSON.parse(payload.toString()) as { id: string }).id;
  const rTopic = responseTopic(to, kind);
  const answer = new Promise<CommandResponse>((resolve) => {
    const on = (topic: string, p: Buffer) => {
      if (topic !== rTopic) return;
      const r = JSON.parse(p.toString()) as CommandResponse;
      if (r.id === id) {
        client.off('message', on);
        resolve(r);
      }
    };
    client.on('message', on);
  });
  await client.subscribeAsync(rTopic, { qos: 1 });
  await client.publishAsync(commandTopic(to, kind), payload, { qos: 1 });
  return answer;
}

test('finding 2: a write sniffed for gateway A and republished to gateway B is refused with wrong_target; B\'s pump does not move', async (t) => {
  const attacker = await sniffer();
  t.after(() => attacker.client.endAsync());
  const env = signed('write', A.identity, { device: 'plc', point: 'pump', value: true });
  const forA = await send(A.identity, 'write', env);
  assert.equal(forA.ok, true, JSON.stringify(forA.error));
  assert.equal(await pumpOn(A), true);
  const sniffed = await waitFor(() => attacker.captured.get(commandTopic(A.identity, 'write')), { what: 'the sniffed command' });

  const onB = await replay(attacker.client, B.identity, 'write', sniffed);
  assert.equal(onB.ok, false);
  assert.equal(onB.error?.code, 'wrong_target');
  assert.match(onB.error!.message, /signed for gateway kedge\/v1\/kuzbass\/kemerovo\/gw-a, this is kedge\/v1\/kuzbass\/kemerovo\/gw-b/);

  // Rewriting the target to B breaks the signature: the target is inside the signed bytes.
  const rewritten = { ...(JSON.parse(sniffed.toString()) as CommandEnvelope), target: { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'gw-b' } };
  const forged = await replay(attacker.client, B.identity, 'write', Buffer.from(JSON.stringify(rewritten)));
  assert.equal(forged.error?.code, 'bad_signature');

  // A command in the old form (no target) is refused too, not executed anywhere.
  const { target: _t, ...untargeted } = JSON.parse(sniffed.toString()) as CommandEnvelope;
  const old = await replay(attacker.client, B.identity, 'write', Buffer.from(JSON.stringify({ ...untargeted, id: 'old-form' })));
  assert.equal(old.error?.code, 'bad_request');
  assert.match(old.error!.message, /command needs target/);

  assert.equal(await pumpOn(B), false, 'B\'s pump never switched');
});

test('topic prefix: a write sniffed for gw-a under kedge/v1 and republished to the gw-a of another deployment (kedge-test/v1) on the same broker is refused; rewriting the prefix breaks the signature', async (t) => {
  // Same region, municipality and gateway id, same center key: only the prefix tells them apart.
  const twin = await startBox('gw-a', undefined, 'kedge-test/v1');
  const attacker = await sniffer();
  t.after(() => attacker.client.endAsync());
  const forA = await send(A.identity, 'write', signed('write', A.identity, { device: 'plc', point: 'pump', value: true }));
  assert.equal(forA.ok, true, JSON.stringify(forA.error));
  const sniffed = await waitFor(() => attacker.captured.get(commandTopic(A.identity, 'write')), { what: 'the sniffed command' });

  const onTwin = await replay(attacker.client, twin.identity, 'write', sniffed);
  assert.equal(onTwin.error?.code, 'wrong_target', JSON.stringify(onTwin));
  assert.match(onTwin.error!.message, /signed for gateway kedge\/v1\/kuzbass\/kemerovo\/gw-a, this is kedge-test\/v1\/kuzbass\/kemerovo\/gw-a/);

  const env = JSON.parse(sniffed.toString()) as CommandEnvelope;
  const rewritten = { ...env, target: { ...env.target, prefix: 'kedge-test/v1' } };
  const forged = await replay(attacker.client, twin.identity, 'write', Buffer.from(JSON.stringify(rewritten)));
  assert.equal(forged.error?.code, 'bad_signature');
  // The old target without a prefix is refused before any key is tried.
  const { prefix: _p, ...unprefixed } = env.target;
  const old = await replay(attacker.client, twin.identity, 'write', Buffer.from(JSON.stringify({ ...env, id: 'no-prefix', target: unprefixed })));
  assert.equal(old.error?.code, 'bad_request');
  assert.match(old.error!.message, /target \{prefix, region, municipality, gateway\}/);

  assert.equal(await pumpOn(twin), false, "the twin's pump never switched");
  // The twin does act on a command signed for it, so the refusals above are about the prefix.
  const own = await send(twin.identity, 'write', signed('write', twin.identity, { device: 'plc', point: 'pump', value: true }));
  assert.equal(own.ok, true, JSON.stringify(own.error));
  assert.equal(await pumpOn(twin), true);
});

test('finding 2: a config command for A replayed to B is refused, and B\'s config file stays as it was', async (t) => {
  const attacker = await sniffer();
  t.after(() => attacker.client.endAsync());
  const before = readFileSync(B.configPath, 'utf8');
  const yamlA = readFileSync(A.configPath, 'utf8');
  const r = await send(A.identity, 'config', signed('config', A.identity, { yaml: yamlA }));
  assert.equal(r.ok, true, JSON.stringify(r.error));
  const sniffed = await waitFor(() => attacker.captured.get(commandTopic(A.identity, 'config')), { what: 'the sniffed config' });
  const onB = await replay(attacker.client, B.identity, 'config', sniffed);
  assert.equal(onB.error?.code, 'wrong_target');
  assert.equal(readFileSync(B.configPath, 'utf8'), before);
  assert.equal(B.gateway.currentConfig().gateway.id, 'gw-b');
});

test('finding 6: a remote config that replaces commands.trustedKeys is refused naming the section; the real key keeps working, the intruder\'s does not', async () => {
  const before = readFileSync(B.configPath, 'utf8');
  const dataDir = join(dir, 'gw-b');
  const evil = configOf({ identity: B.identity, plcPort: B.plc.port, dataDir }, { trusted: pub(intruder) });
  const r = await send(B.identity, 'config', signed('config', B.identity, { yaml: evil }));
  assert.equal(r.ok, false);
  assert.equal(r.error?.code, 'protected_section');
  assert.match(r.error!.message, /changes protected settings: commands\. commands: a remote config may not change the command trust anchors/);
  assert.deepEqual((r.error!.details as Array<{ path: string }>).map((d) => d.path), ['commands']);
  assert.equal(readFileSync(B.configPath, 'utf8'), before);

  const intruderWrite = await send(B.identity, 'write', signed('write', B.identity, { device: 'plc', point: 'pump', value: true }, intruder.privateKey));
  assert.equal(intruderWrite.error?.code, 'bad_signature');
  assert.equal(await pumpOn(B), false);
  const realWrite = await send(B.identity, 'write', signed('write', B.identity, { device: 'plc', point: 'pump', value: true }));
  assert.equal(realWrite.ok, true, JSON.stringify(realWrite.error));
  assert.equal(await pumpOn(B), true);
  await send(B.identity, 'write', signed('write', B.identity, { device: 'plc', point: 'pump', value: false }));
});

test('finding 6: remote configs touching ota, web, the identity or a secret path are refused with each field named', async () => {
  const before = readFileSync(B.configPath, 'utf8');
  const base = { identity: B.identity, plcPort: B.plc.port, dataDir: join(dir, 'gw-b') };
  // Inside the data folder's secrets directory, so that only the protection can refuse it.
  const otherSecret = join(dir, 'gw-b', 'secrets', 'other-password');
  mkdirSync(join(dir, 'gw-b', 'secrets'), { recursive: true });
  writeFileSync(otherSecret, 'not the broker password\n', { mode: 0o600 });
  const cases: Array<[string, string, string[]]> = [
    ['ota.trustedKeys swapped', configOf(base, { otaKey: pub(intruder) }), ['ota']],
    ['web turned on', configOf(base, { web: { enabled: true, host: '0.0.0.0' } }), ['web']],
    ['another gateway id', configOf({ ...base, identity: { ...B.identity, gateway: 'gw-a' } }), ['gateway.id']],
    ['uplink.passwordFile pointed at another file', configOf(base, { passwordFile: otherSecret }), ['uplink.passwordFile']],
    ['the data folder moved', configOf({ ...base, dataDir: join(dir, 'elsewhere') }), ['dataDir']],
    ['the stored broker password sent to another broker', configOf(base, { url: 'mqtt://203.0.113.7:1883' }), ['uplink.url']],
    ['the stored broker password sent to the same host and port in another scheme', configOf(base, { url: broker.url.replace(/^mqtt:/, 'ws:') }), ['uplink.url']],
  ];
  for (const [what, yaml, paths] of cases) {
    const r = await send(B.identity, 'config', signed('config', B.identity, { yaml }));
    assert.equal(r.error?.code, 'protected_section', what);
    assert.deepEqual((r.error!.details as Array<{ path: string }>).map((d) => d.path), paths, what);
    for (const p of paths) assert.match(r.error!.message, new RegExp(`changes protected settings: .*${p.replace('.', '\\.')}`), what);
  }
  assert.equal(readFileSync(B.configPath, 'utf8'), before);
  // A new broker with its own credentials, or only a device setting changed: accepted, the protection is narrow.
  const moved = configOf(base, { url: broker.url.replace('127.0.0.1', 'localhost'), password: 'new-broker-secret' });
  const protectedOnly = await send(B.identity, 'config', signed('config', B.identity, { yaml: moved }));
  assert.equal(protectedOnly.ok, true, JSON.stringify(protectedOnly.error));
  const ok = await send(B.identity, 'config', signed('config', B.identity, { yaml: before.replace('"intervalMs": 200', '"intervalMs": 300') }));
  assert.equal(ok.ok, true, JSON.stringify(ok.error));
});

test('finding 6: keys rotate only by a maintainer-signed trust command (kedge-cmd trust), never by the center key they replace', async (t) => {
  const attacker = await sniffer();
  t.after(() => attacker.client.endAsync());
  const rotation = { section: 'commands', trustedKeys: [{ id: 'center-2', publicKey: pub(center2) }] };
  const byCenter = await send(B.identity, 'trust', signed('trust', B.identity, rotation));
  assert.equal(byCenter.error?.code, 'untrusted_key');
  assert.match(byCenter.error!.message, /key "center-1", which is not in ota\.trustedKeys \(the maintainer keys\)/);
  const forged = await send(B.identity, 'trust', signed('trust', B.identity, rotation, intruder.privateKey, 'ota-1'));
  assert.equal(forged.error?.code, 'bad_signature');
  // A genuine rotation for A does not rotate B.
  const forA = signed('trust', A.identity, { section: 'commands', trustedKeys: [{ id: 'center-1', publicKey: pub(center) }] }, maintainer.privateKey, 'ota-1');
  assert.equal((await send(A.identity, 'trust', forA)).ok, true);
  const sniffed = await waitFor(() => attacker.captured.get(commandTopic(A.identity, 'trust')), { what: 'the sniffed rotation' });
  assert.equal((await replay(attacker.client, B.identity, 'trust', sniffed)).error?.code, 'wrong_target');

  // The maintainers rotate B's center key (as kedge-cmd trust signs it: scripts/src/cmd/cli.test.ts).
  const rotated = await send(B.identity, 'trust', signed('trust', B.identity, rotation, maintainer.privateKey, 'ota-1'));
  assert.equal(rotated.ok, true, JSON.stringify(rotated.error));
  assert.deepEqual(rotated.result, { section: 'commands', keys: ['center-2'] });
  assert.deepEqual(B.gateway.currentConfig().commands?.trustedKeys.map((k) => k.id), ['center-2']);
  assert.deepEqual((await loadConfigFile(B.configPath)).commands?.trustedKeys.map((k) => k.id), ['center-2'], 'stored in the file');

  const old = await send(B.identity, 'write', signed('write', B.identity, { device: 'plc', point: 'pump', value: true }));
  assert.equal(old.error?.code, 'untrusted_key');
  assert.equal(await pumpOn(B), false);
  const fresh = await send(B.identity, 'write', signed('write', B.identity, { device: 'plc', point: 'pump', value: true }, center2.privateKey, 'center-2'));
  assert.equal(fresh.ok, true, JSON.stringify(fresh.error));
  assert.equal(await pumpOn(B), true);

  // Back to the first key, for the tests after this one.
  const back = await send(B.identity, 'trust', signed('trust', B.identity, { section: 'commands', trustedKeys: [{ id: 'center-1', publicKey: pub(center) }] }, maintainer.privateKey, 'ota-1'));
  assert.equal(back.ok, true, JSON.stringify(back.error));
  await send(B.identity, 'write', signed('write', B.identity, { device: 'plc', point: 'pump', value: false }));
  assert.equal(await pumpOn(B), false);
});

test('finding 2: the replay store is bounded and forgets an id only once its command is stale', async () => {
  // A fresh box with room for 4 answers, so that earlier tests' answers do not count.
  const C = await startBox('gw-c', 4);
  const envs = Array.from({ length: 5 }, (_, i) => signed('loglevel', C.identity, { level: i % 2 ? 'debug' : 'info' }));
  for (const env of envs.slice(0, 4)) assert.equal((await send(C.identity, 'loglevel', env)).ok, true);
  const full = await send(C.identity, 'loglevel', envs[4]!);
  assert.equal(full.error?.code, 'overloaded', 'a fifth id inside the window is refused rather than evicting one that could be replayed');
  // A repeat of a remembered id is still answered from the store.
  assert.equal((await send(C.identity, 'loglevel', envs[0]!)).repeated, true);

  clockOffset += 60_000 + 30_000 + 1; // past maxAgeMs + maxClockSkewMs: the first four are stale now
  const later = signed('loglevel', C.identity, { level: 'info' });
  assert.equal((await send(C.identity, 'loglevel', later)).ok, true, 'room made by forgetting a stale id');
  // Replaying the first four: each is answered from the store or refused as stale, none acts again.
  const replies = [];
  for (const env of envs.slice(0, 4)) replies.push(await send(C.identity, 'loglevel', env));
  for (const r of replies) assert.ok(r.repeated === true || r.error?.code === 'stale', JSON.stringify(r));
  assert.equal(replies.filter((r) => r.error?.code === 'stale').length, 1, 'exactly the one forgotten id, and it is outside the window');
});
