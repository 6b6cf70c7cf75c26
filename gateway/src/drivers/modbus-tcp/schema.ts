import { z } from 'zod';
import { int, strict } from '../../config/primitives.ts';
import { checkModbusDevice, modbusDeviceFields } from '../modbus/schema.ts';

/** Modbus TCP: a meter with Ethernet, or a TCP-to-RS-485 gateway with many units behind it. */
export const modbusTcpDeviceSchema = strict({
  ...modbusDeviceFields,
  driver: z.literal('modbus-tcp'),
  host: z.string().min(1, { error: 'must not be empty' }),
  port: int(1, 65535).default(502),
}).superRefine(checkModbusDevice);

export type ModbusTcpDeviceConfig = z.output<typeof modbusTcpDeviceSchema>;
