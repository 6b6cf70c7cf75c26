import test from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfigFile, parseConfig } from './load.ts';
import type { ModbusTcpDeviceConfig } from './schema.ts';
import { protocolAddress, toModbusPointRef } from '../drivers/modbus/schema.ts';

const casesDir = fileURLToPath(new URL('./testcases/', import.meta.url));

const HEADER = `gateway:
  id: gw1
  region: kuzbass
  municipality: kemerovo
uplink:
  url: mqtt://broker.local
`;

function rejection(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the config to be rejected');
}

async function asyncRejection(p: Promise<unknown>): Promise<ConfigError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the config to be rejected');
}

const device = (cfg: { devices: unknown[] }, i: number) => cfg.devices[i] as ModbusTcpDeviceConfig;

test('a complete valid config loads with defaults applied', async () => {
  const cfg = await loadConfigFile(join(casesDir, 'valid.yaml'));

  assert.equal(cfg.gateway.name, 'Котельная №7, ул. Кирова');
  assert.deepEqual(cfg.log, {
    maxBytes: 512 * 1024 * 1024,
    flushMs: 250,
    flushRows: 1000,
    synchronous: 'full',
    retainAckedMs: 3_600_000,
    maxBufferedReadings: 100_000,
  });
  assert.equal(cfg.uplink.topicPrefix, 'kedge/v1');
  assert.equal(cfg.uplink.codec, 'compact');
  assert.equal(cfg.uplink.batchMaxReadings, 2000);
  assert.equal(cfg.uplink.inflight, 8);
  assert.equal(cfg.uplink.keepaliveSec, 30);
  assert.equal(cfg.uplink.tls?.rejectUnauthorized, true);

  const meter = device(cfg, 0);
  assert.equal(meter.port, 502);
  assert.equal(meter.enabled, true);
  assert.equal(meter.timeoutMs, 1000);
  assert.equal(meter.maxRegisters, 125);
  assert.deepEqual(meter.backoff, { minMs: 1000, maxMs: 60_000 });
  const [temp, energy, , , pumpRun, statusWord] = meter.points;
  assert.equal(temp?.order, 'CDAB');
  assert.equal(energy?.order, 'ABCD');
  assert.equal(energy?.scale, 0.001);
  assert.equal(temp?.heartbeatMs, 60_000);
  assert.equal(temp?.writable, false);
  assert.equal(pumpRun?.type, 'bool', 'coil points default to bool');
  assert.equal(statusWord?.type, 'uint16', 'holding points default to uint16');
  assert.equal(device(cfg, 1).enabled, false);
  assert.equal(device(cfg, 1).addressBase, 0);
});

test('a config without log section gets the default 256 MiB log and an empty device list', () => {
  const cfg = parseConfig(HEADER);
  assert.equal(cfg.log.maxBytes, 256 * 1024 * 1024);
  assert.equal(cfg.log.flushRows, 1000);
  assert.equal(cfg.dataDir, './data', 'no baseDir means paths stay as written');
  assert.deepEqual(cfg.devices, []);
});

test('maxBytes accepts byte counts and binary or decimal units and always yields bytes', () => {
  const cases: Array<[string, number]> = [
    ['512MiB', 512 * 2 ** 20],
    ['"1 GiB"', 2 ** 30],
    ['300MB', 300_000_000],
    ['2048KiB', 2 * 2 ** 20],
    ['5000000 B', 5_000_000],
    ['2097152', 2_097_152],
  ];
  for (const [text, bytes] of cases) {
    assert.equal(parseConfig(`${HEADER}log:\n  maxBytes: ${text}\n`).log.maxBytes, bytes, text);
  }
});

test('1-based addresses from vendor documentation become 0-based protocol addresses', async () => {
  const cfg = await loadConfigFile(join(casesDir, 'valid.yaml'));
  const meter = device(cfg, 0);
  const [temp, energy, alarm, serial, , statusWord] = meter.points;
  assert.equal(meter.addressBase, 1);
  assert.equal(protocolAddress(meter, temp!), 40000);
  assert.equal(protocolAddress(meter, energy!), 0);
  assert.equal(protocolAddress(meter, statusWord!), 65535, 'the last register is addressable with addressBase 1');
  assert.deepEqual(toModbusPointRef(meter, alarm!), {
    id: 'pump-alarm',
    table: 'holding',
    address: 99,
    type: 'bit',
    order: 'ABCD',
    bit: 3,
  });
  assert.equal(toModbusPointRef(meter, serial!).length, 8);
  assert.equal(protocolAddress(device(cfg, 1), device(cfg, 1).points[0]!), 0);
});

test('relative dataDir, passwordFile and tls paths are resolved against the config file folder', async () => {
  const cfg = await loadConfigFile(join(casesDir, 'valid.yaml'));
  assert.equal(cfg.dataDir, resolve(casesDir, 'var/kedge'));
  assert.equal(cfg.uplink.passwordFile, resolve(casesDir, 'secrets/mqtt.pass'));
  assert.equal(cfg.uplink.tls?.ca, resolve(casesDir, 'secrets/ca.pem'));
  assert.equal(cfg.secretsDir, resolve(casesDir, 'secrets'));
});

/**
 * Every other file in testcases/ is a broken config. Its leading comments say what must be
 * reported: `# expect: <line> <path>` (path `-` for a file-level problem) and optionally
 * `# expect-text: <substring of the message>`.
 */
const badCases = readdirSync(casesDir)
  .filter((f) => f.endsWith('.yaml') && f !== 'valid.yaml')
  .sort();

test('every bad test case declares its expectation', () => {
  assert.ok(badCases.length >= 10);
  for (const file of badCases) {
    assert.match(readFileSync(join(casesDir, file), 'utf8'), /^# expect: \d+ \S+/, file);
  }
});

for (const file of badCases) {
  const text = readFileSync(join(casesDir, file), 'utf8');
  const expect = /^# expect: (\d+) (\S+)/m.exec(text);
  if (!expect) continue;
  const line = Number(expect[1]);
  const path = expect[2] === '-' ? '' : expect[2]!;
  const texts = [...text.matchAll(/^# expect-text: (.+)$/gm)].map((m) => m[1]!);
  const what = file.replace(/\.yaml$/, '').replaceAll('-', ' ');

  test(`a config with ${what} is rejected naming ${path || 'the file'} at line ${line}`, async () => {
    const source = join(casesDir, file);
    const err = await asyncRejection(loadConfigFile(source));
    const issue = err.issues.find((i) => i.path === path && i.line === line);
    assert.ok(issue, `no issue at ${path} line ${line}; got:\n${err.message}`);
    const prefix = `  ${source}:${line}:${issue.column} ${path ? `${path}: ` : ''}`;
    assert.ok(err.message.split('\n').includes(prefix + issue.message), `message lacks "${prefix}...":\n${err.message}`);
    assert.match(err.message, /^Invalid config .+: \d+ problems?\n/);
    for (const t of texts) assert.ok(issue.message.includes(t), `"${issue.message}" lacks "${t}"`);
  });
}

test('the error message starts with the source and the number of problems', () => {
  const err = rejection(() =>
    parseConfig('gateway:\n  id: Bad Id\n  region: r\nuplink:\n  url: http://x\n', 'site.yaml'),
  );
  const lines = err.message.split('\n');
  assert.equal(lines[0], 'Invalid config site.yaml: 3 problems');
  assert.deepEqual(
    err.issues.map((i) => [i.path, i.line]),
    [
      ['gateway.municipality', 1],
      ['gateway.id', 2],
      ['uplink.url', 5],
    ],
  );
  assert.match(lines[1]!, /^ {2}site\.yaml:1:1 gateway\.municipality: /);
});

test('an empty or comment-only file is rejected with a clear message', () => {
  for (const text of ['', '   \n', '# nothing here yet\n']) {
    const err = rejection(() => parseConfig(text, 'empty.yaml'));
    assert.match(err.message, /empty\.yaml the file is empty/);
  }
});

test('a top level that is not a mapping is rejected', () => {
  const list = rejection(() => parseConfig('- gateway\n- uplink\n', 'list.yaml'));
  assert.match(list.message, /list\.yaml:1:1 the top level must be a mapping .* a list/);
  const scalar = rejection(() => parseConfig('kedge\n', 'scalar.yaml'));
  assert.match(scalar.message, /must be a mapping/);
});

test('a missing config file is a ConfigError naming the path', async () => {
  const missing = join(casesDir, 'does-not-exist.yaml');
  const err = await asyncRejection(loadConfigFile(missing));
  assert.match(err.message, /not found/);
  assert.ok(err.message.includes(missing));
});

test('an unresolved YAML alias is reported instead of thrown as a raw error', () => {
  const err = rejection(() => parseConfig(`${HEADER}dataDir: *nowhere\n`));
  assert.match(err.message, /alias/i);
});

test('a string point needs length and the end register is checked against the table', () => {
  const cfg = (point: string) => `${HEADER}devices:
  - id: meter
    driver: modbus-tcp
    host: 10.0.0.5
    addressBase: 1
    points:
      - id: serial
        table: holding
${point}`;
  const missing = rejection(() => parseConfig(cfg('        address: 1\n        type: string\n')));
  assert.equal(missing.issues[0]?.path, 'devices[0].points[0].length');

  const tooLong = rejection(() => parseConfig(cfg('        address: 65530\n        type: string\n        length: 8\n')));
  assert.equal(tooLong.issues[0]?.path, 'devices[0].points[0].address');
  assert.match(tooLong.issues[0]!.message, /end at 65537/);

  const fits = parseConfig(cfg('        address: 65529\n        type: string\n        length: 8\n'));
  assert.equal(device(fits, 0).points[0]?.length, 8);
});

test('bool points live only in coil and discrete tables, bit points only in registers', () => {
  const cfg = (point: string) => `${HEADER}devices:
  - id: plc
    driver: modbus-tcp
    host: 10.0.0.5
    points:
      - id: p
        address: 4
${point}`;
  const boolInHolding = rejection(() => parseConfig(cfg('        table: holding\n        type: bool\n')));
  assert.equal(boolInHolding.issues[0]?.path, 'devices[0].points[0].type');

  const bitOnCoil = rejection(() => parseConfig(cfg('        table: coil\n        bit: 2\n')));
  assert.equal(bitOnCoil.issues[0]?.path, 'devices[0].points[0].bit');

  const bitWithoutTypeBit = rejection(() => parseConfig(cfg('        table: holding\n        bit: 2\n')));
  assert.match(bitWithoutTypeBit.issues[0]!.message, /only used with type bit/);
});

test('min/max pairs and tls client certificates are checked together', () => {
  const reconnect = rejection(() =>
    parseConfig(`${HEADER}  reconnectMinMs: 5000\n  reconnectMaxMs: 1000\n`),
  );
  assert.equal(reconnect.issues[0]?.path, 'uplink.reconnectMaxMs');
  assert.equal(reconnect.issues[0]?.line, 8);

  const keyOnly = rejection(() => parseConfig(`${HEADER}  tls:\n    key: client.key\n`));
  assert.equal(keyOnly.issues[0]?.path, 'uplink.tls.cert');
});
