import { defineDriver } from '../definition.ts';
import type { DeviceDriver } from '../driver.ts';
import { testReadOverLink } from '../modbus/link-test-read.ts';
import { modbusDeviceFromProfile, modbusProfilePoints } from '../modbus/profile-device.ts';
import { modbusProfileDefaults } from '../modbus/schema.ts';
import { SharedLinks } from '../modbus/shared-links.ts';
import { recordTraffic, trafficRing } from '../modbus/traffic.ts';
import type { ModbusTransport } from '../modbus/transport.ts';
import { modbusWarnings } from '../modbus/warnings.ts';
import { MODBUS_EXTERNALS, modbusAddressText, modbusMessages } from '../modbus/messages.ts';
import { checkSharedBuses, modbusRtuDeviceSchema, type ModbusRtuDeviceConfig } from './schema.ts';
import { SerialTransport } from './serial-transport.ts';

export type { ModbusRtuDeviceConfig } from './schema.ts';

/**
 * Devices on the same serial port share one bus: one open port, one transaction at a time,
 * polled in turn with the inter-frame gap between them. Each device keeps its own timeout
 * and the scheduler's per-device backoff, so a dead slave costs the others at most its own
 * timeout per cycle.
 */
const buses = new SharedLinks<SerialTransport>();

const openBus = (device: ModbusRtuDeviceConfig) =>
  new SerialTransport(device.port, {
    baudRate: device.baudRate,
    parity: device.parity,
    dataBits: device.dataBits,
    stopBits: device.stopBits,
    ...(device.interFrameDelayMs !== undefined ? { interFrameDelayMs: device.interFrameDelayMs } : {}),
  });

export function createModbusRtuDriver(device: ModbusRtuDeviceConfig): DeviceDriver {
  return buses.driver(device.port, () => openBus(device), device);
}

/**
 * Runs `use` over the bus of `device` (the polling one when a device of the bus is polled,
 * else the port opened for this and closed after): the register tool reads any range through it.
 */
export async function withModbusRtuBus<R>(device: ModbusRtuDeviceConfig, use: (transport: ModbusTransport) => Promise<R>): Promise<R> {
  const shared = buses.get(device.port);
  const transport = shared ?? recordTraffic(openBus(device), trafficRing(device.port));
  try {
    return await use(transport);
  } finally {
    if (!shared) await transport.close();
  }
}

/**
 * A test read over the device's bus: between the polls of the bus's other units when the port
 * is polled (one transaction at a time), else on the port opened for it and closed after.
 */
export async function testReadModbusRtu(device: ModbusRtuDeviceConfig) {
  const shared = buses.get(device.port);
  const transport = shared ?? openBus(device);
  try {
    return await testReadOverLink(device, transport);
  } finally {
    if (!shared) await transport.close();
  }
}

/** Modbus RTU as the registry lists it (drivers/registry.ts). */
export const modbusRtu = defineDriver({
  kind: 'modbus-rtu',
  schema: modbusRtuDeviceSchema,
  create: (device) => createModbusRtuDriver(device),
  describe: (d) => `${d.port} unit ${d.unitId}`,
  describeText: (d) => modbusAddressText(d.port, d.unitId),
  form: async () => (await import('./form.ts')).modbusRtuForm(),
  testRead: testReadModbusRtu,
  checkDevices: checkSharedBuses,
  profilePoints: modbusProfilePoints,
  profileDefaults: (protocol) => ({
    ...modbusProfileDefaults(protocol),
    baudRate: protocol.baudRate,
    parity: protocol.parity,
    dataBits: protocol.dataBits,
    stopBits: protocol.stopBits,
  }),
  deviceFromProfile: (profile, lang) => {
    const p = profile.protocol;
    const line = { driver: 'modbus-rtu', port: '/dev/ttyUSB0', baudRate: p.baudRate ?? 9600, parity: p.parity ?? 'none', dataBits: p.dataBits ?? 8, stopBits: p.stopBits ?? 1 };
    return modbusDeviceFromProfile(profile, lang, line);
  },
  profileTransport: 'rtu',
  // The serial port and unit typed stay; the profile brings the line settings.
  profileKeeps: ['port', 'unitId'],
  tools: ['registers', 'traffic'],
  modbusLink: { key: (d) => d.port, use: withModbusRtuBus },
  warnings: modbusWarnings,
  messages: modbusMessages,
  externals: MODBUS_EXTERNALS,
});
