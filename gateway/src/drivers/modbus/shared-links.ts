import type { DeviceDriver } from '../driver.ts';
import { ModbusDevice } from './modbus-device.ts';
import { toModbusPointRef, type ModbusDeviceConfig } from './schema.ts';
import { recordTraffic, trafficRing } from './traffic.ts';
import type { ModbusTransport } from './transport.ts';
import type { ModbusPointRef, PlanOptions } from './types.ts';

export type { ModbusDeviceConfig } from './schema.ts';

/** What polling (and a test read) needs of one configured unit, whatever its link. */
export function modbusUnit(device: ModbusDeviceConfig): {
  unitId: number;
  timeoutMs: number;
  addressBase: 0 | 1;
  points: ModbusPointRef[];
  plan: PlanOptions;
} {
  return {
    unitId: device.unitId,
    addressBase: device.addressBase,
    timeoutMs: device.timeoutMs,
    points: device.points.map((p) => toModbusPointRef(device, p)),
    plan: { maxGap: device.maxGap, maxRegisters: device.maxRegisters, maxBits: device.maxBits },
  };
}

/**
 * Links (a serial port, a host:port) shared by every unit polled over them: one open link, one
 * transaction at a time. Counted, so the link closes when the last of its devices is closed.
 */
export class SharedLinks<T extends ModbusTransport> {
  private readonly links = new Map<string, { transport: T; users: number }>();

  /** The link a device already polls over, if any. */
  get(key: string): T | undefined {
    return this.links.get(key)?.transport;
  }

  /** A driver for `device` over link `key`, opened with `open` when no device uses it yet. */
  driver(key: string, open: () => T, device: ModbusDeviceConfig): DeviceDriver {
    let link = this.links.get(key);
    if (!link) {
      // Every request over the link lands in its traffic ring (the web UI's traffic view).
      link = { transport: recordTraffic(open(), trafficRing(key)), users: 0 };
      this.links.set(key, link);
    }
    link.users++;
    const shared = link;
    let released = false;
    return new ModbusDevice({
      deviceId: device.id,
      ...modbusUnit(device),
      transport: shared.transport,
      release: async () => {
        if (released) return;
        released = true;
        if (--shared.users === 0) {
          this.links.delete(key);
          await shared.transport.close();
        }
      },
    });
  }
}
