/**
 * kedge-cmd against a running gateway: the CLI signs, sends and prints the answer, and exits
 * 0 only on ok. The gateway's own command tests (gateway/src/commands) sign their commands
 * directly; this is where the tooling meets them (scripts depends on the gateway, never the
 * other way round).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import ModbusSerial from 'modbus-serial';
import type { CommandResponse } from '@kedge/cloud-sync/downlink/envelope.ts';
import { ConfigService } from '@kedge/gateway/config/config-service.ts';
import { loadConfigFile } from '@kedge/gateway/config/load.ts';
import { Gateway } from '@kedge/gateway/gateway.ts';
import { startCommands, type RunningCommands } from '@kedge/gateway/commands/index.ts';
import { rawPublicKey } from '@kedge/gateway/ota/verify.ts';
import { startMosquitto, type MosquittoHandle } from '@kedge/testkit/mosquitto.ts';
import { startPymodbus, type PymodbusHandle } from '@kedge/testkit/pymodbus.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { tsEntry } from '@kedge/testkit/entry.ts';

// CommonJS typed with `export default`: under NodeNext the default import is the module
// object and the client class is its `default` (also set at runtime).
const ModbusRTU = ModbusSerial.default;
const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));
/** A CLI run loads tsx and connects to the broker: generous for a loaded 2-core machine. */
const CLI_TIMEOUT_MS = 60_000;

const center = generateKeyPairSync('ed25519');
const maintainer = generateKeyPairSync('ed25519');
const center2 = generateKeyPairSync('ed25519');
const pub = (k: { publicKey: KeyObject }) => rawPublicKey(k.publicKey).toString('base64');

let dir: string;
let configPath: string;
let server: PymodbusHandle;
let broker: MosquittoHandle;
let gateway: Gateway;
let commands: RunningCommands;
let reader: InstanceType<typeof ModbusRTU>;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kedge-cmd-cli-'));
  server = await startPymodbus({ image: { holding: { 10: 100 } } });
  broker = await startMosquitto();
  configPath = join(dir, 'kedge.yaml');
  // JSON is YAML.
  writeFileSync(
    configPath,
    JSON.stringify({
      gateway: { id: 'gw-cli', region: 'kuzbass', municipality: 'kemerovo' },
      dataDir: join(dir, 'data'),
      log: { flushMs: 20, synchronous: 'normal' },
      uplink: { url: broker.url, codec: 'json', reconnectMinMs: 200, reconnectMaxMs: 1000 },
      web: { enabled: false },
      commands: { trustedKeys: [{ id: 'center-1', publicKey: pub(center) }], maxAgeMs: 60_000 },
      ota: { trustedKeys: [{ id: 'ota-1', publicKey: pub(maintainer) }] },
      devices: [
        { id: 'plc', driver: 'modbus-tcp', host: '127.0.0.1', port: server.port, intervalMs: 200, points: [{ id: 'setpoint', table: 'holding', address: 10, type: 'uint16', scale: 0.1, writable: true }] },
      ],
    }),
  );
  const logger = pino({ level: 'silent' });
  gateway = new Gateway(await loadConfigFile(configPath), logger);
  await gateway.start();
  const configService = new ConfigService({ path: configPath, apply: (c) => gateway.reload(c), dataDir: gateway.currentConfig().dataDir });
  commands = startCommands({ gateway, logger, configService });
  await waitFor(() => commands.downlink?.isConnected, { what: 'command downlink connected' });
  reader = new ModbusRTU();
  await reader.connectTCP('127.0.0.1', { port: server.port });
  reader.setID(1);
});

test.after(async () => {
  try {
    reader?.close(() => {});
    await commands?.stop();
    await gateway?.stop();
  } finally {
    await broker?.stop();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

function keyFile(name: string, key: KeyObject): string {
  const path = join(dir, `${name}.pem`);
  writeFileSync(path, key.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  return path;
}

function kedgeCmd(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...tsEntry(CLI), ...args, '--url', broker.url], { timeout: CLI_TIMEOUT_MS }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('kedge-cmd write signs, sends and prints the answer (exit 0 on ok): the register changes, scale reversed', async () => {
  const out = await kedgeCmd(['write', 'plc', 'setpoint', '4.2', '--to', 'kuzbass/kemerovo/gw-cli', '--key', keyFile('center', center.privateKey), '--key-id', 'center-1']);
  assert.equal(out.code, 0, out.stdout + out.stderr);
  assert.equal((JSON.parse(out.stdout) as CommandResponse).ok, true);
  assert.equal((await reader.readHoldingRegisters(10, 1)).data[0], 42);
});

test('kedge-cmd exits non-zero and prints the refusal when the gateway does not trust its key', async () => {
  const out = await kedgeCmd(['write', 'plc', 'setpoint', '9.9', '--to', 'kuzbass/kemerovo/gw-cli', '--key', keyFile('intruder', generateKeyPairSync('ed25519').privateKey), '--key-id', 'center-1']);
  assert.notEqual(out.code, 0, out.stdout + out.stderr);
  assert.equal((JSON.parse(out.stdout) as CommandResponse).error?.code, 'bad_signature');
  assert.equal((await reader.readHoldingRegisters(10, 1)).data[0], 42, 'the register is untouched');
});

test('kedge-cmd trust, signed with a maintainer key, rotates the center key in the running config and the file', async () => {
  const out = await kedgeCmd(['trust', 'commands', '--trusted', `center-2=${pub(center2)}`, '--to', 'kuzbass/kemerovo/gw-cli', '--key', keyFile('maintainer', maintainer.privateKey), '--key-id', 'ota-1']);
  assert.equal(out.code, 0, out.stdout + out.stderr);
  assert.deepEqual((JSON.parse(out.stdout) as CommandResponse).result, { section: 'commands', keys: ['center-2'] });
  assert.deepEqual(gateway.currentConfig().commands?.trustedKeys.map((k) => k.id), ['center-2']);
  assert.deepEqual((await loadConfigFile(configPath)).commands?.trustedKeys.map((k) => k.id), ['center-2'], 'stored in the file');
});
