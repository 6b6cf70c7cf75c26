import test from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from './load.ts';
import type { ModbusRtuDeviceConfig, ModbusTcpDeviceConfig } from './schema.ts';

const HEAD = `gateway: { id: gw-1, region: kuzbass, municipality: kemerovo }
uplink: { url: "mqtt://127.0.0.1:1883" }
devices:
`;

function problems(yaml: string): string[] {
  try {
    parseConfig(HEAD + yaml, 'k.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split('\n').slice(1).map((l) => l.trim());
    throw err;
  }
  assert.fail('the config was accepted');
}

test('profile: alone gives a device every point of the profile, with its line settings, UCUM units and poll classes', () => {
  const cfg = parseConfig(
    HEAD +
      `  - id: feeder
    driver: modbus-rtu
    port: /dev/ttyUSB0
    profile: sdm630
`,
  );
  const d = cfg.devices[0] as ModbusRtuDeviceConfig;
  assert.equal(d.points.length, 27);
  assert.deepEqual([d.addressBase, d.unitId, d.baudRate, d.parity, d.stopBits], [1, 1, 9600, 'none', 1]);
  const p = Object.fromEntries(d.points.map((x) => [x.id, x]));
  assert.deepEqual(
    { address: p.voltage_l1!.address, type: p.voltage_l1!.type, unit: p.voltage_l1!.unit, intervalMs: p.voltage_l1!.intervalMs, name: p.voltage_l1!.name },
    { address: 1, type: 'float32', unit: 'V', intervalMs: undefined, name: 'Phase 1 line to neutral voltage' },
  );
  assert.equal(p.total_energy!.unit, 'kW.h');
  assert.equal(p.total_energy!.intervalMs, 10_000, 'poll class normal');
  assert.equal(p.import_reactive_energy!.intervalMs, 60_000, 'poll class slow');
  assert.equal(p.frequency!.address, 71);
});

test('config points override profile points field by field, add new ones, and follow the device numbering', () => {
  const cfg = parseConfig(
    HEAD +
      `  - id: feeder
    driver: modbus-tcp
    host: 10.0.0.5
    addressBase: 0
    unitId: 7
    profile: sdm630
    points:
      - { id: frequency, intervalMs: 500, deadband: 0.01 }
      - { id: voltage_l1, name: "Ввод 1, фаза A", unit: "В" }
      - { id: serial, table: holding, address: 64512, type: uint32 }
`,
  );
  const d = cfg.devices[0] as ModbusTcpDeviceConfig;
  assert.equal(d.unitId, 7, 'the device wins over the profile');
  assert.equal(d.points.length, 28);
  assert.deepEqual(d.points.slice(0, 3).map((p) => p.id), ['frequency', 'voltage_l1', 'serial']);
  const [freq, volt] = d.points;
  assert.deepEqual([freq!.address, freq!.intervalMs, freq!.deadband, freq!.unit], [70, 500, 0.01, 'Hz'], '30071 is protocol address 70');
  assert.deepEqual([volt!.name, volt!.unit, volt!.address], ['Ввод 1, фаза A', 'V', 0]);
  assert.equal(d.points.find((p) => p.id === 'total_energy')!.address, 342);
});

test('an unknown profile is reported at the profile: line with the profiles that exist', () => {
  const out = problems(`  - id: feeder
    driver: modbus-tcp
    host: 10.0.0.5
    profile: sdm603
`);
  assert.equal(out.length, 1, out.join('\n'));
  assert.match(out[0]!, /^k\.yaml:7:14 devices\[0\]\.profile: no profile "sdm603" in .* \(known: .*sdm630/);
});

test('an override that breaks a profile point is reported at that override', () => {
  const out = problems(`  - id: feeder
    driver: modbus-tcp
    host: 10.0.0.5
    profile: sdm630
    points:
      - { id: frequency, table: coil }
`);
  assert.equal(out.length, 1, out.join('\n'));
  assert.match(out[0]!, /^k\.yaml:9:9 devices\[0\]\.points\[0\]\.type: coil points are single bits/);
});

test('point units are stored as UCUM codes, and an unknown unit names the field and a suggestion', () => {
  const cfg = parseConfig(
    HEAD +
      `  - id: heat
    driver: modbus-tcp
    host: 10.0.0.5
    points:
      - { id: t1, table: input, address: 0, unit: °C }
      - { id: e, table: input, address: 1, unit: kWh }
      - { id: turb, table: input, address: 2, unit: NTU }
`,
  );
  assert.deepEqual(cfg.devices[0]!.points.map((p) => p.unit), ['Cel', 'kW.h', '[NTU]']);
  const out = problems(`  - id: heat
    driver: modbus-tcp
    host: 10.0.0.5
    points:
      - { id: t1, table: input, address: 0, unit: Kwh }
`);
  assert.equal(out.length, 1);
  assert.match(out[0]!, /^k\.yaml:8:51 devices\[0\]\.points\[0\]\.unit: unknown unit "Kwh".*\(did you mean "kW\.h"\?\)/);
});

test('modbus-rtu devices on one port must agree on the line settings', () => {
  const out = problems(`  - { id: a, driver: modbus-rtu, port: /dev/ttyUSB0, baudRate: 9600, points: [{ id: p, table: input, address: 0 }] }
  - { id: b, driver: modbus-rtu, port: /dev/ttyUSB0, baudRate: 19200, unitId: 2, points: [{ id: p, table: input, address: 0 }] }
`);
  assert.equal(out.length, 1, out.join('\n'));
  assert.match(out[0]!, /devices\[1\]\.port: devices on one serial port share its line settings: \/dev\/ttyUSB0 is 9600 baud, parity none, 8 data bits, 1 stop bits in devices\[0\] but 19200 baud/);
});

test('modbus-rtu defaults: 9600 baud 8N1, inter-frame delay from the baud rate', () => {
  const cfg = parseConfig(HEAD + `  - { id: a, driver: modbus-rtu, port: /dev/ttyUSB0, points: [{ id: p, table: input, address: 0 }] }\n`);
  const d = cfg.devices[0] as ModbusRtuDeviceConfig;
  assert.deepEqual([d.baudRate, d.parity, d.dataBits, d.stopBits, d.interFrameDelayMs], [9600, 'none', 8, 1, undefined]);
});
