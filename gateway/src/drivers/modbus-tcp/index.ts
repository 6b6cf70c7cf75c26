import { defineDriver } from '../definition.ts';
import type { DeviceDriver } from '../driver.ts';
import { testReadOverLink } from '../modbus/link-test-read.ts';
import { modbusDeviceFromProfile, modbusProfilePoints } from '../modbus/profile-device.ts';
import { modbusProfileDefaults } from '../modbus/schema.ts';
import { modbusUnit, SharedLinks } from '../modbus/shared-links.ts';
import { testReadModbus, type TestReadPoint } from '../modbus/test-read.ts';
import { recordTraffic, trafficRing } from '../modbus/traffic.ts';
import type { ModbusTransport } from '../modbus/transport.ts';
import { modbusWarnings } from '../modbus/warnings.ts';
import { MODBUS_EXTERNALS, modbusAddressText, modbusMessages } from '../modbus/messages.ts';
import { modbusTcpDeviceSchema, type ModbusTcpDeviceConfig } from './schema.ts';
import { TcpTransport } from './tcp-transport.ts';

export type { ModbusTcpDeviceConfig } from './schema.ts';

/**
 * Devices on the same host:port share one connection: behind a Modbus TCP gateway sit many
 * unit ids on one serial line, and most such gateways accept a single client connection.
 */
const links = new SharedLinks<TcpTransport>();

const linkKey = (device: ModbusTcpDeviceConfig) => `${device.host}:${device.port}`;
const openLink = (device: ModbusTcpDeviceConfig) => new TcpTransport(device.host, device.port, Math.max(device.timeoutMs, 1000));

export function createModbusTcpDriver(device: ModbusTcpDeviceConfig): DeviceDriver {
  return links.driver(linkKey(device), () => openLink(device), device);
}

/**
 * Reads every point of a (possibly unsaved) device once, keeping the raw registers, for the
 * web UI's test read. Shares the polling connection when the device's host:port is already
 * polled: many TCP-to-RTU gateways accept a single client.
 */
export async function testReadModbusTcp(device: ModbusTcpDeviceConfig): Promise<TestReadPoint[]> {
  return onTestLink(device, (transport) => testReadModbus({ ...modbusUnit(device), transport }));
}

/** The polling connection when the device's host:port is polled, else one of its own, closed after (not in the traffic view). */
async function onTestLink<R>(device: ModbusTcpDeviceConfig, use: (transport: ModbusTransport) => Promise<R>): Promise<R> {
  const shared = links.get(linkKey(device));
  const transport = shared ?? openLink(device);
  try {
    return await use(transport);
  } finally {
    if (!shared) await transport.close();
  }
}

/**
 * Runs `use` over the link of `device` (the polling connection when there is one, else a
 * connection of its own, closed after): the register tool reads any range through it.
 */
export async function withModbusTcpLink<R>(device: ModbusTcpDeviceConfig, use: (transport: ModbusTransport) => Promise<R>): Promise<R> {
  const shared = links.get(linkKey(device));
  const transport = shared ?? recordTraffic(openLink(device), trafficRing(linkKey(device)));
  try {
    return await use(transport);
  } finally {
    if (!shared) await transport.close();
  }
}

/** Modbus TCP as the registry lists it (drivers/registry.ts). */
export const modbusTcp = defineDriver({
  kind: 'modbus-tcp',
  schema: modbusTcpDeviceSchema,
  create: (device) => createModbusTcpDriver(device),
  describe: (d) => `${d.host}:${d.port} unit ${d.unitId}`,
  describeText: (d) => modbusAddressText(`${d.host}:${d.port}`, d.unitId),
  form: async () => (await import('./form.ts')).modbusTcpForm(),
  testRead: (device) => onTestLink(device, (transport) => testReadOverLink(device, transport)),
  profileDefaults: modbusProfileDefaults,
  profilePoints: modbusProfilePoints,
  // An RS-485 profile via a serial-to-Ethernet gateway, or a TCP device's own.
  deviceFromProfile: (profile, lang) => modbusDeviceFromProfile(profile, lang, { driver: 'modbus-tcp', host: '', port: 502 }),
  profileTransport: 'tcp',
  profileKeeps: ['host', 'port', 'unitId'],
  tools: ['registers', 'traffic'],
  modbusLink: { key: linkKey, use: withModbusTcpLink },
  warnings: modbusWarnings,
  messages: modbusMessages,
  externals: MODBUS_EXTERNALS,
});
