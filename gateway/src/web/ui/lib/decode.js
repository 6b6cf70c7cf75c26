// Every plausible reading of raw Modbus words, as a register tool shows them side by side.

const ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'];

/** Bytes of `words` (big-endian per word) rearranged in one of the four orders. */
function bytesInOrder(words, order) {
  const bytes = words.flatMap((w) => [(w >> 8) & 0xff, w & 0xff]);
  const swapWords = order === 'CDAB' || order === 'DCBA';
  const swapBytes = order === 'BADC' || order === 'DCBA';
  let pairs = [];
  for (let i = 0; i < bytes.length; i += 2) pairs.push([bytes[i], bytes[i + 1]]);
  if (swapBytes) pairs = pairs.map(([a, b]) => [b, a]);
  if (swapWords) pairs.reverse();
  return pairs.flat();
}

function view(words, order) {
  return new DataView(Uint8Array.from(bytesInOrder(words, order)).buffer);
}

/** Decodings of one register. */
export function single(w) {
  return {
    hex: `0x${w.toString(16).padStart(4, '0')}`,
    bin: w.toString(2).padStart(16, '0').replace(/(.{4})(?=.)/g, '$1 '),
    uint16: w,
    int16: w >= 0x8000 ? w - 0x10000 : w,
    ascii: [w >> 8, w & 0xff].map((c) => (c >= 32 && c < 127 ? String.fromCharCode(c) : '·')).join(''),
  };
}

/** 32-bit decodings of words[i], words[i+1] in every order. */
export function pair(words) {
  return Object.fromEntries(ORDERS.map((o) => {
    const v = view(words, o);
    return [o, { uint32: v.getUint32(0), int32: v.getInt32(0), float32: v.getFloat32(0) }];
  }));
}

/** 64-bit decodings of four words in every order. */
export function quad(words) {
  return Object.fromEntries(ORDERS.map((o) => {
    const v = view(words, o);
    return [o, { uint64: v.getBigUint64(0).toString(), int64: v.getBigInt64(0).toString(), float64: v.getFloat64(0) }];
  }));
}

export { ORDERS };
