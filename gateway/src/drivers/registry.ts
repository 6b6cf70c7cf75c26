import type { DeviceConfig } from '../config/schema.ts';
import type { DeviceDriver } from './driver.ts';
import { createModbusTcpDriver } from './modbus-tcp/index.ts';

/** The one place that knows which folder implements which `driver:` of the config. */
export function createDriver(device: DeviceConfig): DeviceDriver {
  switch (device.driver) {
    case 'modbus-tcp':
      return createModbusTcpDriver(device);
  }
}
