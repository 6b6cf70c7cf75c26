import type { ModbusTable } from './types.ts';

/**
 * Register addresses as the engineer configured them: with `addressBase: 1` the vendor's
 * manual says "holding 101" for what the wire carries as 100, so messages give both
 * ("holding 101 (protocol 100)"); with `addressBase: 0` the two are the same and one is enough.
 */
export function describeAddresses(table: ModbusTable, protocolAddress: number, count: number, addressBase: 0 | 1): string {
  const span = (start: number) => (count > 1 ? `${start}..${start + count - 1}` : `${start}`);
  const configured = `${table} ${span(protocolAddress + addressBase)}`;
  return addressBase === 0 ? configured : `${configured} (protocol ${span(protocolAddress)})`;
}
