import type { ModbusRTU } from './modbus-serial.ts';
import type { ModbusTable } from './types.ts';

/** Reads `count` registers (numbers 0..65535) or bits (booleans) of `table`: FC 3, 4, 1 or 2. */
export async function readTable(client: ModbusRTU, table: ModbusTable, address: number, count: number): Promise<number[] | boolean[]> {
  switch (table) {
    case 'holding':
      return (await client.readHoldingRegisters(address, count)).data;
    case 'input':
      return (await client.readInputRegisters(address, count)).data;
    // Bits come back padded to whole bytes.
    case 'coil':
      return (await client.readCoils(address, count)).data.slice(0, count);
    case 'discrete':
      return (await client.readDiscreteInputs(address, count)).data.slice(0, count);
  }
}

/**
 * The write function codes, picked by table and size: coils FC 5 (one) / FC 15 (several),
 * holding registers FC 6 (one) / FC 16 (several). Many meters accept only FC 16 for their
 * 32-bit registers and some PLCs only FC 6 for single ones, so one value per request is
 * always sent with the single-item code.
 */
export async function writeTable(client: ModbusRTU, table: ModbusTable, address: number, values: readonly number[] | readonly boolean[]): Promise<void> {
  if (values.length === 0) throw new RangeError('nothing to write');
  switch (table) {
    case 'coil': {
      const bits = (values as readonly (boolean | number)[]).map((v) => v === true || v === 1);
      if (bits.length === 1) await client.writeCoil(address, bits[0]!);
      else await client.writeCoils(address, bits);
      return;
    }
    case 'holding': {
      const words = values as readonly number[];
      if (words.length === 1) await client.writeRegister(address, words[0]!);
      else await client.writeRegisters(address, [...words]);
      return;
    }
    default:
      throw new RangeError(`${table} ${table === 'input' ? 'registers' : 'inputs'} are read-only in Modbus`);
  }
}

/** Reads one holding register, changes it and writes it back (FC 3 then FC 6); the caller holds the link. */
export async function modifyRegister(client: ModbusRTU, address: number, modify: (register: number) => number): Promise<void> {
  const [current] = (await client.readHoldingRegisters(address, 1)).data;
  await client.writeRegister(address, modify(current!));
}
