import type { ModbusTcpDeviceConfig } from '../../config/schema.ts';
import { toModbusPointRef } from '../../config/schema.ts';
import type { DeviceDriver } from '../driver.ts';
import { ModbusDevice } from '../modbus/modbus-device.ts';
import { TcpTransport } from './tcp-transport.ts';

interface Shared {
  transport: TcpTransport;
  users: number;
}

/**
 * Devices on the same host:port share one connection: behind a Modbus TCP gateway sit many
 * unit ids on one serial line, and most such gateways accept a single client connection.
 */
const links = new Map<string, Shared>();

export function createModbusTcpDriver(device: ModbusTcpDeviceConfig): DeviceDriver {
  const key = `${device.host}:${device.port}`;
  let shared = links.get(key);
  if (!shared) {
    shared = { transport: new TcpTransport(device.host, device.port, Math.max(device.timeoutMs, 1000)), users: 0 };
    links.set(key, shared);
  }
  shared.users++;
  const link = shared;
  let released = false;
  return new ModbusDevice({
    deviceId: device.id,
    unitId: device.unitId,
    timeoutMs: device.timeoutMs,
    points: device.points.map((p) => toModbusPointRef(device, p)),
    plan: { maxGap: device.maxGap, maxRegisters: device.maxRegisters, maxBits: device.maxBits },
    transport: link.transport,
    release: async () => {
      if (released) return;
      released = true;
      if (--link.users === 0) {
        links.delete(key);
        await link.transport.close();
      }
    },
  });
}
