/**
 * The simulators' register encoding (testkit, written from the meters' conventions) and the
 * gateway's decoder are two independent implementations: every type in every word order must
 * come back as the value a client should see. A disagreement is a bug in one of them.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { decodeRegisters } from '@kedge/gateway/drivers/modbus/decode.ts';
import { encodePoint, wireValue, type SimByteOrder, type SimPointRef, type SimValue } from '@kedge/testkit/sim/registers.ts';

const ORDERS: SimByteOrder[] = ['ABCD', 'CDAB', 'BADC', 'DCBA'];
const VALUES: Array<[SimPointRef['type'], SimValue[], Partial<SimPointRef>?]> = [
  ['int16', [0, 1, -1, 12345, -32768, 32767]],
  ['uint16', [0, 1, 0x1234, 65535]],
  ['int32', [0, -1, 0x12345678, -(2 ** 31), 2 ** 31 - 1]],
  ['uint32', [0, 1, 0xdeadbeef, 2 ** 32 - 1]],
  ['float32', [0, -0.5, 123.456, 3.4e38, -1.17e-38, 49.98]],
  ['float64', [0, Math.PI, -1e300, 5e-324]],
  ['int64', [0, -1, 2 ** 53 - 1, -(2n ** 63n), 2n ** 63n - 1n]],
  ['uint64', [0, 850_000_000_000n, 2n ** 64n - 1n, 2n ** 60n + 3n]],
  ['string', ['', 'SDM630', 'СЧ-4'], { length: 5 }],
];

for (const [type, values, extra] of VALUES) {
  test(`${type}: what the simulator encodes, the gateway decodes, in every word order`, () => {
    for (const order of ORDERS) {
      const p: SimPointRef = { id: `${type}-${order}`, table: 'holding', address: 0, type, order, ...extra };
      for (const v of values) {
        const words = encodePoint(p, v);
        const decoded = decodeRegisters(p, words);
        const expected = type === 'string' ? v : wireValue(p, v);
        assert.deepEqual(decoded, expected, `${type} ${order} ${String(v)}: words ${words.map((w) => w.toString(16)).join(' ')}`);
      }
    }
  });
}

test('bit: every bit of a status word reads back as set, the others as clear', () => {
  for (let bit = 0; bit < 16; bit++) {
    const words = encodePoint({ id: 'flags', table: 'holding', address: 0, type: 'bit', order: 'ABCD', bit }, true);
    for (let other = 0; other < 16; other++) assert.equal(decodeRegisters({ id: 'flags', table: 'holding', address: 0, type: 'bit', order: 'ABCD', bit: other }, words), other === bit);
  }
});
