import type { ModbusRtuDeviceConfig } from '../../config/schema.ts';
import type { DeviceDriver } from '../driver.ts';
import { SharedLinks } from '../modbus/shared-links.ts';
import { SerialTransport } from './serial-transport.ts';

/**
 * Devices on the same serial port share one bus: one open port, one transaction at a time,
 * polled in turn with the inter-frame gap between them. Each device keeps its own timeout
 * and the scheduler's per-device backoff, so a dead slave costs the others at most its own
 * timeout per cycle.
 */
const buses = new SharedLinks<SerialTransport>();

export function createModbusRtuDriver(device: ModbusRtuDeviceConfig): DeviceDriver {
  const open = () =>
    new SerialTransport(device.port, {
      baudRate: device.baudRate,
      parity: device.parity,
      dataBits: device.dataBits,
      stopBits: device.stopBits,
      ...(device.interFrameDelayMs !== undefined ? { interFrameDelayMs: device.interFrameDelayMs } : {}),
    });
  return buses.driver(device.port, open, device);
}
