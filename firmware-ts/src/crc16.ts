/** Modbus RTU CRC-16 (polynomial 0xA001 reflected, initial 0xFFFF), sent low byte first. */
export function crc16(data: Uint8Array): number {
  let crc = 0xffff;
  for (const byte of data) {
    crc ^= byte;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

/** True when the last two bytes of an RTU frame are the CRC of the rest. */
export function frameCrcOk(frame: Uint8Array): boolean {
  if (frame.length < 4) return false;
  const n = frame.length;
  return crc16(frame.subarray(0, n - 2)) === (frame[n - 2]! | (frame[n - 1]! << 8));
}
