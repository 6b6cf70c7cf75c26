import type { ModbusValue } from '../../drivers/modbus/types.ts';

/** JSON has no bigint: 64-bit counters beyond 2^53 travel as decimal strings. */
export function jsonValue(v: ModbusValue | null): number | boolean | string | null {
  return typeof v === 'bigint' ? v.toString() : v;
}

/** A free-form object in an OpenAPI response (fields documented in `description`). */
export const looseObject = (description: string) => ({ type: 'object', additionalProperties: true, description }) as const;
