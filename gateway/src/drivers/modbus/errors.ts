import type { Quality } from '@kedge/cloud-sync/model.ts';

const EXCEPTION_NAMES: Record<number, string> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

export interface ClassifiedError {
  quality: Quality;
  message: string;
  /** Whether the link should be dropped and reopened before the next request. */
  resetLink: boolean;
  /** The Modbus exception code, when the device answered with one. */
  exception?: number;
}

/** Exception 02: the unit has no such register; splitting the read finds which point asks for it. */
export const ILLEGAL_DATA_ADDRESS = 2;

/** Maps what modbus-serial (or a socket) threw to a reading quality and a field-readable reason. */
export function classifyModbusError(err: unknown): ClassifiedError {
  const e = err as { modbusCode?: number; errno?: string; code?: string; message?: string; name?: string };
  if (typeof e?.modbusCode === 'number') {
    const name = EXCEPTION_NAMES[e.modbusCode] ?? 'unknown exception';
    // Exception 11 is a TCP gateway saying the slave behind it is silent: a timeout really.
    return {
      quality: e.modbusCode === 11 ? 'bad_no_response' : 'bad_device_error',
      message: `Modbus exception ${e.modbusCode} (${name})`,
      resetLink: false,
      exception: e.modbusCode,
    };
  }
  const code = e?.errno ?? e?.code;
  if (code === 'ETIMEDOUT' || e?.name === 'TransactionTimedOutError' || /timed out/i.test(e?.message ?? '')) {
    return { quality: 'bad_no_response', message: 'no response (timeout)', resetLink: false };
  }
  if (/CRC|length error|Data length|unexpected/i.test(e?.message ?? '')) {
    return { quality: 'bad_comm', message: `bad frame: ${e?.message}`, resetLink: true };
  }
  return { quality: 'bad_comm', message: `${code ? `${code}: ` : ''}${e?.message ?? String(err)}`, resetLink: true };
}
