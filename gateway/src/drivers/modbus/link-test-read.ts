import type { TestReadResult } from '../definition.ts';
import { modbusUnit, type ModbusDeviceConfig } from './shared-links.ts';
import { testReadModbus } from './test-read.ts';
import type { ModbusTransport } from './transport.ts';
import { BYTE_ORDERS } from './types.ts';

/**
 * A test read of a Modbus device (TCP or RTU) over `transport`, as the driver definition hands
 * it to the web route: every point's raw registers, its value, and the four byte orders.
 */
export async function testReadOverLink(device: ModbusDeviceConfig, transport: ModbusTransport): Promise<TestReadResult> {
  const results = await testReadModbus({ ...modbusUnit(device), transport });
  return {
    orders: BYTE_ORDERS,
    points: results.map((r, i) => {
      const p = device.points[i]!;
      return { ...r, table: p.table, address: p.address, order: p.order };
    }),
  };
}
