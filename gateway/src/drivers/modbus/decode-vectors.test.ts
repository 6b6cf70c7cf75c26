/**
 * Explicit vectors at the edges of each numeric type, in every byte order and at an offset
 * (issue 20 review, finding L5): the short decode path for 1- and 2-register numbers must
 * keep -0, ±Infinity, NaN and the integer extremes exactly as the bytes say.
 *
 * The orders, as the README defines them for a value whose big-endian bytes are A B C D:
 * ABCD = registers [AB, CD], CDAB = [CD, AB], BADC = [BA, DC], DCBA = [DC, BA]; for 64-bit
 * values the same rule over four registers (CDAB reverses the register order).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { decodeAllOrders, decodeRegisters, encodeRegisters } from './decode.ts';
import { BYTE_ORDERS, type ByteOrder, type ModbusDataType, type ModbusPointRef, type ModbusValue } from './types.ts';

/** Registers holding the big-endian `bytes` in `order` (the definition above, written out). */
function registersIn(order: ByteOrder, bytes: number[]): number[] {
  const words: Array<[number, number]> = [];
  for (let i = 0; i < bytes.length; i += 2) words.push([bytes[i]!, bytes[i + 1]!]);
  const ordered = order === 'CDAB' || order === 'DCBA' ? [...words].reverse() : words;
  const swapped = order === 'BADC' || order === 'DCBA' ? ordered.map(([hi, lo]) => [lo, hi] as [number, number]) : ordered;
  return swapped.map(([hi, lo]) => (hi << 8) | lo);
}

const point = (type: ModbusDataType, order: ByteOrder): ModbusPointRef => ({ id: `v/${type}`, table: 'holding', address: 0, type, order });

const VECTORS: Array<[ModbusDataType, string, number[], ModbusValue]> = [
  ['float32', '-0', [0x80, 0, 0, 0], -0],
  ['float32', '+0', [0, 0, 0, 0], 0],
  ['float32', '+Infinity', [0x7f, 0x80, 0, 0], Infinity],
  ['float32', '-Infinity', [0xff, 0x80, 0, 0], -Infinity],
  ['float32', 'quiet NaN', [0x7f, 0xc0, 0, 0], NaN],
  ['float32', 'NaN with payload', [0xff, 0x80, 0, 1], NaN],
  ['float32', '1.0', [0x3f, 0x80, 0, 0], 1],
  ['float32', 'smallest subnormal', [0, 0, 0, 1], 2 ** -149],
  ['int32', 'min', [0x80, 0, 0, 0], -2147483648],
  ['int32', 'max', [0x7f, 0xff, 0xff, 0xff], 2147483647],
  ['int32', '-1', [0xff, 0xff, 0xff, 0xff], -1],
  ['uint32', 'max', [0xff, 0xff, 0xff, 0xff], 4294967295],
  ['uint32', 'high bit', [0x80, 0, 0, 0], 2147483648],
  ['int16', 'min', [0x80, 0], -32768],
  ['int16', 'max', [0x7f, 0xff], 32767],
  ['uint16', 'max', [0xff, 0xff], 65535],
  ['float64', '-0', [0x80, 0, 0, 0, 0, 0, 0, 0], -0],
  ['float64', '+Infinity', [0x7f, 0xf0, 0, 0, 0, 0, 0, 0], Infinity],
  ['float64', '-Infinity', [0xff, 0xf0, 0, 0, 0, 0, 0, 0], -Infinity],
  ['float64', 'NaN', [0x7f, 0xf8, 0, 0, 0, 0, 0, 0], NaN],
  ['int64', 'min (a bigint)', [0x80, 0, 0, 0, 0, 0, 0, 0], -(2n ** 63n)],
  ['int64', 'max safe (a number)', [0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], Number.MAX_SAFE_INTEGER],
  ['uint64', 'max (a bigint)', [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 2n ** 64n - 1n],
];

test('the orders as registers: -0 of a float32 written out for each', () => {
  // Literal, so the helper above is itself checked against the definition.
  assert.deepEqual(registersIn('ABCD', [0x80, 0, 0, 0]), [0x8000, 0x0000]);
  assert.deepEqual(registersIn('CDAB', [0x80, 0, 0, 0]), [0x0000, 0x8000]);
  assert.deepEqual(registersIn('BADC', [0x80, 0, 0, 0]), [0x0080, 0x0000]);
  assert.deepEqual(registersIn('DCBA', [0x80, 0, 0, 0]), [0x0000, 0x0080]);
  for (const [order, regs] of [['ABCD', [0x8000, 0]], ['CDAB', [0, 0x8000]], ['BADC', [0x0080, 0]], ['DCBA', [0, 0x0080]]] as const) {
    assert.equal(decodeRegisters(point('float32', order), regs), -0, order);
  }
});

for (const [type, name, bytes, expected] of VECTORS) {
  test(`${type} ${name}: decoded exactly in every byte order, at offset 0 and 3, and by decodeAllOrders`, () => {
    for (const order of BYTE_ORDERS) {
      const p = point(type, order);
      const regs = registersIn(order, bytes);
      // strict equal is Object.is: -0 is not 0, NaN is NaN, a bigint is not a number.
      assert.equal(decodeRegisters(p, regs), expected, `${order} ${regs.map((r) => r.toString(16)).join(',')}`);
      assert.equal(decodeRegisters(p, [0xdead, 0xbeef, 0x1234, ...regs, 0xffff], 3), expected, `${order} at offset 3`);
      assert.equal(decodeAllOrders(p, regs)[order], expected, `${order} in decodeAllOrders`);
      if (!Number.isNaN(expected)) assert.deepEqual(encodeRegisters(p, expected), regs, `${order}: encoded back to the same registers`);
    }
  });
}
