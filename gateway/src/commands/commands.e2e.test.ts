import test from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import mqtt, { type MqttClient } from 'mqtt';
import { pino, type Logger } from 'pino';
import { buildCommand, sendCommand } from '@kedge/cloud-sync/downlink/sender.ts';
import { COMMAND_KINDS, type CommandEnvelope, type CommandResponse } from '@kedge/cloud-sync/downlink/envelope.ts';
import type { GatewayIdentity } from '@kedge/cloud-sync/topics.ts';
import { startModbusTap, type ModbusTap } from '@kedge/testkit/modbus-tap.ts';
import { startMosquitto, type MosquittoHandle } from '@kedge/testkit/mosquitto.ts';
import { startPymodbus, type PymodbusHandle } from '@kedge/testkit/pymodbus.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { ConfigService } from '../config/config-service.ts';
import { loadConfigFile } from '../config/load.ts';
import { ModbusRTU } from '../drivers/modbus/modbus-serial.ts';
import { Gateway } from '../gateway.ts';
import { rawPublicKey } from '../ota/verify.ts';
import { startCommands, type RunningCommands } from './index.ts';

const identity: GatewayIdentity = { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'gw-cmd' };
const center = generateKeyPairSync('ed25519');
const intruder = generateKeyPairSync('ed25519');

let dir: string;
let configPath: string;
let server: PymodbusHandle;
let tap: ModbusTap;
let broker: MosquittoHandle;
let gateway: Gateway;
let logger: Logger;
let commands: RunningCommands;
let centerClient: MqttClient;
let reader: ModbusRTU;
const statusMessages: string[] = [];

function configText(points: unknown[]): string {
  // JSON is YAML.
  return JSON.stringify(
    {
      gateway: { id: identity.gateway, region: identity.region, municipality: identity.municipality },
      dataDir: join(dir, 'data'),
      log: { flushMs: 20, synchronous: 'normal' },
      uplink: { url: broker.url, codec: 'json', reconnectMinMs: 200, reconnectMaxMs: 1000 },
      web: { enabled: false },
      commands: { trustedKeys: [{ id: 'center-1', publicKey: rawPublicKey(center.publicKey).toString('base64') }], maxAgeMs: 60_000 },
      devices: [{ id: 'plc', driver: 'modbus-tcp', host: '127.0.0.1', port: tap.port, intervalMs: 200, points }],
    },
    null,
    2,
  );
}

const POINTS = [
  { id: 'setpoint', table: 'holding', address: 10, type: 'uint16', scale: 0.1, writable: true },
  { id: 'energy', table: 'holding', address: 20, type: 'uint16' },
];

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kedge-cmd-e2e-'));
  server = await startPymodbus({ image: { holding: { 10: 100, 20: 555 } } });
  tap = await startModbusTap({ port: server.port });
  broker = await startMosquitto();
  configPath = join(dir, 'kedge.yaml');
  writeFileSync(configPath, configText(POINTS));
  logger = pino({ level: 'info' }, process.env.KEDGE_TEST_LOG ? process.stderr : new Writable({ write: (_c, _e, cb) => cb() }));
  gateway = new Gateway(await loadConfigFile(configPath), logger);
  await gateway.start();
  const configService = new ConfigService({ path: configPath, apply: (c) => gateway.reload(c), dataDir: gateway.currentConfig().dataDir });
  commands = startCommands({ gateway, logger, configService });
  centerClient = await mqtt.connectAsync(broker.url, { clientId: `center-cmd-e2e-${process.pid}`, clean: true });
  // Listening before subscribing: the retained birth can arrive in the same read as the SUBACK,
  // and mqtt.js emits it before the subscribe's promise continuation could attach a listener.
  centerClient.on('message', (topic, payload) => {
    if (topic.endsWith('/status')) statusMessages.push(payload.toString());
  });
  await centerClient.subscribeAsync(`kedge/v1/kuzbass/kemerovo/gw-cmd/status`, { qos: 1 });
  await waitFor(() => commands.downlink?.isConnected, { what: 'command downlink connected' });
  await waitFor(() => statusMessages.length > 0, { what: 'gateway birth' });
  reader = new ModbusRTU();
  await reader.connectTCP('127.0.0.1', { port: server.port });
  reader.setID(1);
});

test.after(async () => {
  try {
    reader?.close(() => {});
    await centerClient?.endAsync();
    await commands?.stop();
    await gateway?.stop();
  } finally {
    await broker?.stop();
    await tap?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

const signer = (key: KeyObject) => (bytes: Buffer) => sign(null, bytes, key);

function command(kind: string, args: Record<string, unknown>, o: { key?: KeyObject; keyId?: string; ts?: number; expiresAt?: number } = {}): CommandEnvelope {
  return buildCommand({
    kind,
    target: identity,
    args,
    keyId: o.keyId ?? 'center-1',
    sign: signer(o.key ?? center.privateKey),
    ...(o.ts !== undefined ? { ts: o.ts } : {}),
    ...(o.expiresAt !== undefined ? { expiresAt: o.expiresAt } : {}),
  });
}

const send = (kind: string, envelope: CommandEnvelope | Record<string, unknown>): Promise<CommandResponse> =>
  sendCommand(centerClient, identity, kind, envelope, 10_000);

const holding = async (address: number) => (await reader.readHoldingRegisters(address, 1)).data[0];
const writesAt = (address: number) => tap.requests.filter((r) => r.functionCode === 6 && r.address === address).length;

test('a signed write is executed: the device register changes (scale reversed) and the answer says ok', async () => {
  const env = command('write', { device: 'plc', point: 'setpoint', value: 21.5 });
  const r = await send('write', env);
  assert.equal(r.ok, true, JSON.stringify(r.error));
  assert.equal(r.id, env.id);
  assert.deepEqual({ ...(r.result as object), ts: 0 }, { device: 'plc', point: 'setpoint', value: 21.5, ts: 0 });
  assert.equal(await holding(10), 215);
});

test('a repeated command id gets the same answer again and is not executed twice', async () => {
  const env = command('write', { device: 'plc', point: 'setpoint', value: 30 });
  const before = writesAt(10);
  const first = await send('write', env);
  assert.equal(first.ok, true);
  await reader.writeRegister(10, 1); // someone else changes the register meanwhile
  const second = await send('write', env);
  assert.deepEqual(second, { ...first, repeated: true });
  assert.equal(writesAt(10) - before, 1, 'exactly one FC 6 reached the device');
  assert.equal(await holding(10), 1, 'the repeat did not write 300 again');
});

test('a point not marked writable is refused with not_writable and the device is untouched', async () => {
  const r = await send('write', command('write', { device: 'plc', point: 'energy', value: 1 }));
  assert.equal(r.ok, false);
  assert.equal(r.error?.code, 'not_writable');
  assert.match(r.error!.message, /plc\/energy is not writable/);
  assert.equal(await holding(20), 555);
});

test('unsigned, untrusted-key, wrongly signed, tampered, stale, future and expired commands are refused with their own code', async () => {
  const before = writesAt(10);
  const args = { device: 'plc', point: 'setpoint', value: 99 };
  const { signature: _s, ...unsigned } = command('write', args);
  const tampered = { ...command('write', args), value: 100 };
  const cases: Array<[string, CommandEnvelope | Record<string, unknown>, string, RegExp]> = [
    ['unsigned', unsigned, 'unsigned', /command is not signed/],
    ['unknown key id', command('write', args, { key: intruder.privateKey, keyId: 'intruder' }), 'untrusted_key', /key "intruder", which is not in commands\.trustedKeys \(trusted: center-1\)/],
    ['trusted key id, other key', command('write', args, { key: intruder.privateKey }), 'bad_signature', /does not verify with trusted key "center-1"/],
    ['tampered after signing', tampered, 'bad_signature', /does not verify/],
    ['stale', command('write', args, { ts: Date.now() - 120_000 }), 'stale', /more than commands\.maxAgeMs 60000/],
    ['future', command('write', args, { ts: Date.now() + 600_000 }), 'future', /in the future/],
    ['expired', command('write', args, { expiresAt: Date.now() - 1000 }), 'expired', /command expired at/],
  ];
  for (const [what, env, code, message] of cases) {
    const r = await send('write', env);
    assert.equal(r.ok, false, what);
    assert.equal(r.error?.code, code, what);
    assert.match(r.error!.message, message, what);
  }
  // A write signed for `write` does not verify when replayed on another kind's topic.
  const moved = await send('loglevel', command('write', { level: 'debug' }));
  assert.equal(moved.error?.code, 'bad_signature');
  assert.equal(writesAt(10), before, 'nothing reached the device');
});

test('a config command is validated, stored atomically and applied', async () => {
  const yaml = configText([...POINTS, { id: 'extra', table: 'holding', address: 30 }]);
  const r = await send('config', command('config', { yaml }));
  assert.equal(r.ok, true, JSON.stringify(r.error));
  assert.deepEqual(r.result, { devices: 1 });
  assert.equal(readFileSync(configPath, 'utf8'), yaml);
  assert.deepEqual(gateway.currentConfig().devices[0]!.points.map((p) => p.id), ['setpoint', 'energy', 'extra']);
});

test('a bad config is refused with the field paths, and neither the file nor the running config change', async () => {
  const before = readFileSync(configPath, 'utf8');
  const running = gateway.currentConfig();
  const bad = configText([{ id: 'x', table: 'holdnig', address: 1 }]);
  const r = await send('config', command('config', { yaml: bad }));
  assert.equal(r.ok, false);
  assert.equal(r.error?.code, 'invalid_config');
  const paths = (r.error!.details as Array<{ path: string }>).map((i) => i.path);
  assert.ok(paths.includes('devices[0].points[0].table'), `paths: ${paths.join(', ')}`);
  assert.equal(readFileSync(configPath, 'utf8'), before);
  assert.equal(gateway.currentConfig(), running);
});

test('rebirth re-sends the retained birth message', async () => {
  const before = statusMessages.length;
  const r = await send('rebirth', command('rebirth', {}));
  assert.deepEqual(r.result, { sent: true });
  const birth = JSON.parse(await waitFor(() => statusMessages[before], { what: 'a new birth message' })) as { state: string; points: Array<{ point: string }> };
  assert.equal(birth.state, 'online');
  assert.ok(birth.points.some((p) => p.point === 'plc/setpoint'));
});

test('loglevel changes the level, and with durationMs it reverts by itself', async () => {
  const r = await send('loglevel', command('loglevel', { level: 'debug' }));
  assert.equal(r.ok, true);
  assert.deepEqual(r.result, { level: 'debug', previous: 'info' });
  assert.equal(logger.level, 'debug');
  const timed = await send('loglevel', command('loglevel', { level: 'trace', durationMs: 300 }));
  assert.equal((timed.result as { previous: string }).previous, 'debug');
  assert.equal(logger.level, 'trace');
  await waitFor(() => logger.level === 'debug', { what: 'level back to debug' });
  const bad = await send('loglevel', command('loglevel', { level: 'loud' }));
  assert.equal(bad.error?.code, 'bad_request');
  assert.match(bad.error!.message, /level must be one of fatal, error, warn, info, debug, trace, silent \(got "loud"\)/);
});

test('an unknown kind and a broken message get clear errors', async () => {
  const r = await send('reboot', command('reboot', {}));
  assert.equal(r.error?.code, 'unknown_kind');
  assert.equal(r.error!.message, `unknown command kind "reboot" (known: ${COMMAND_KINDS.join(', ')})`);
  await centerClient.subscribeAsync('kedge/v1/kuzbass/kemerovo/gw-cmd/cmd/write/response', { qos: 1 });
  const answer = new Promise<CommandResponse>((resolve) =>
    centerClient.once('message', (_t, p) => resolve(JSON.parse(p.toString()) as CommandResponse)),
  );
  await centerClient.publishAsync('kedge/v1/kuzbass/kemerovo/gw-cmd/cmd/write', 'not json', { qos: 1 });
  const broken = await answer;
  assert.equal(broken.id, null);
  assert.equal(broken.error?.code, 'bad_request');
});
