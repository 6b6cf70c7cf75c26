import test from 'node:test';
import assert from 'node:assert/strict';
import { encodePoint, registerWidth, wireValue, type SimPointRef } from './registers.ts';

const at = (type: SimPointRef['type'], order: SimPointRef['order'] = 'ABCD', extra: Partial<SimPointRef> = {}): SimPointRef => ({ id: 'p', table: 'holding', address: 0, type, order, ...extra });
const hex = (words: number[]) => words.map((w) => w.toString(16).padStart(4, '0')).join(' ');

// 123.456 as float32 is 0x42F6E979: bytes A=42 B=F6 C=E9 D=79, laid out as a meter's manual draws them.
test('float32 123.456 in the four word orders, as meter manuals draw them', () => {
  assert.equal(hex(encodePoint(at('float32', 'ABCD'), 123.456)), '42f6 e979');
  assert.equal(hex(encodePoint(at('float32', 'CDAB'), 123.456)), 'e979 42f6');
  assert.equal(hex(encodePoint(at('float32', 'BADC'), 123.456)), 'f642 79e9');
  assert.equal(hex(encodePoint(at('float32', 'DCBA'), 123.456)), '79e9 f642');
});

test('integers of every width, signed ones in two’s complement, 64-bit ones from a number or a bigint', () => {
  assert.equal(hex(encodePoint(at('int16'), -2)), 'fffe');
  assert.equal(hex(encodePoint(at('uint16'), 65535)), 'ffff');
  assert.equal(hex(encodePoint(at('int32'), -2)), 'ffff fffe');
  assert.equal(hex(encodePoint(at('uint32', 'CDAB'), 0x12345678)), '5678 1234');
  assert.equal(hex(encodePoint(at('uint64'), 0x0102030405060708n)), '0102 0304 0506 0708');
  assert.equal(hex(encodePoint(at('uint64', 'CDAB'), 0x0102030405060708n)), '0708 0506 0304 0102');
  assert.equal(hex(encodePoint(at('int64'), -1)), 'ffff ffff ffff ffff');
  assert.equal(hex(encodePoint(at('float64'), 1)), '3ff0 0000 0000 0000');
});

test('bools, bits and strings', () => {
  assert.deepEqual(encodePoint({ ...at('bool'), table: 'coil' }, true), [1]);
  assert.deepEqual(encodePoint(at('bit', 'ABCD', { bit: 3 }), true), [8]);
  assert.deepEqual(encodePoint(at('bit', 'ABCD', { bit: 3 }), false), [0]);
  assert.equal(hex(encodePoint(at('string', 'ABCD', { length: 3 }), 'SDM')), '5344 4d00 0000', 'padded with NUL to its registers');
  assert.equal(hex(encodePoint(at('string', 'BADC', { length: 2 }), 'SDM')), '4453 004d');
  assert.equal(registerWidth(at('string', 'ABCD', { length: 3 })), 3);
  assert.equal(registerWidth(at('float64')), 4);
});

test('values a register cannot hold are refused with the point and the reason', () => {
  assert.throws(() => encodePoint(at('uint16'), 70_000), /simulated point p \(uint16\): 70000 is outside 0\.\.65535/);
  assert.throws(() => encodePoint(at('int16'), 1.5), /1\.5 is not an integer/);
  assert.throws(() => encodePoint(at('float32'), 'x'), /needs a number, got string/);
  assert.throws(() => encodePoint(at('string', 'ABCD', { length: 1 }), 'abc'), /does not fit 2 bytes/);
  assert.throws(() => registerWidth(at('string')), /needs length >= 1/);
});

test('wireValue is what a client decodes: float32 rounded, safe 64-bit integers as numbers', () => {
  assert.equal(wireValue(at('float32'), 0.1), Math.fround(0.1));
  assert.equal(wireValue(at('uint64'), 850_000_000_000n), 850_000_000_000);
  assert.equal(wireValue(at('uint64'), 2n ** 60n), 2n ** 60n);
  assert.equal(wireValue(at('float64'), 0.1), 0.1);
});
