import { z } from 'zod';
import { strict } from '../../config/primitives.ts';
import { checkModbusDevice, modbusDeviceFields } from '../modbus/schema.ts';

export const SERIAL_PARITIES = ['none', 'even', 'odd'] as const;

/** The baud rates a serial port is opened with (RS-485 meters and sensors use these). */
export const BAUD_RATES = [1200, 2400, 4800, 9600, 14400, 19200, 38400, 57600, 115200] as const;

/**
 * Modbus RTU over a serial line (RS-485). Devices with the same `port` share one bus and must
 * agree on its settings. Parity defaults to none (8N1): the Modbus serial spec names even as
 * its default, but the meters and sensors kedge meets ship 8N1 (profiles set their own).
 */
export const modbusRtuDeviceSchema = strict({
  ...modbusDeviceFields,
  driver: z.literal('modbus-rtu'),
  port: z.string().min(1, { error: 'must be a serial device path such as /dev/ttyUSB0' }),
  baudRate: z.number().int().refine((v) => (BAUD_RATES as readonly number[]).includes(v), {
    error: `must be one of ${BAUD_RATES.join(', ')}`,
  }).default(9600),
  parity: z.enum(SERIAL_PARITIES).default('none'),
  dataBits: z.literal([7, 8], { error: 'must be 7 or 8' }).default(8),
  stopBits: z.literal([1, 2], { error: 'must be 1 or 2' }).default(1),
  /** Silence before each request; default 3.5 character times (1.75 ms above 19200 baud). */
  interFrameDelayMs: z.number().min(0).max(1000).optional(),
}).superRefine(checkModbusDevice);

export type ModbusRtuDeviceConfig = z.output<typeof modbusRtuDeviceSchema>;

/**
 * One RS-485 bus has one set of line settings: two devices disagreeing would reopen the port
 * under each other's feet. Reported on the later device's `port`, naming the first.
 */
export function checkSharedBuses(devices: ReadonlyArray<{ device: ModbusRtuDeviceConfig; index: number }>, ctx: z.core.$RefinementCtx): void {
  const buses = new Map<string, { index: number; line: string }>();
  for (const { device: d, index: i } of devices) {
    const line = `${d.baudRate} baud, parity ${d.parity}, ${d.dataBits} data bits, ${d.stopBits} stop bits`;
    const first = buses.get(d.port);
    if (!first) buses.set(d.port, { index: i, line });
    else if (first.line !== line) {
      ctx.addIssue({
        code: 'custom',
        path: [i, 'port'],
        message: `devices on one serial port share its line settings: ${d.port} is ${first.line} in devices[${first.index}] but ${line} here`,
      });
    }
  }
}
