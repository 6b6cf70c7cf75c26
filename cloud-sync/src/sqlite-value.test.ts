import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { QUALITIES, type Value } from './model.ts';
import { packedFlags, packedValue, packValue, unpackValue } from './sqlite-value.ts';

const value: fc.Arbitrary<Value> = fc.oneof(fc.constant(null), fc.double(), fc.integer(), fc.boolean(), fc.string(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));

test('packedFlags and packedValue pack exactly as packValue, and unpack back to the value', () => {
  fc.assert(
    fc.property(value, fc.constantFrom(...QUALITIES), (v, q) => {
      const packed = packValue(v, q);
      assert.equal(packedFlags(v, q), packed.flags);
      assert.equal(packedValue(v), packed.value);
      const back = unpackValue(packedValue(v), packedFlags(v, q));
      assert.equal(back.quality, q);
      if (typeof v !== 'number' || !Number.isNaN(v)) assert.equal(back.value, v);
    }),
  );
});

test('packedFlags refuses what packValue refuses', () => {
  assert.throws(() => packedFlags(1, 'nonsense' as never), /unknown quality/);
  assert.throws(() => packedFlags({} as never, 'good'), /cannot log a value of type object/);
});
