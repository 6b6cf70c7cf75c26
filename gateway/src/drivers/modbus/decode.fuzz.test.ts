import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { runs } from '@kedge/testkit/fuzz.ts';
import { decodeBit, decodeRegisters, encodeRegisters, ModbusDecodeError, registerCount } from './decode.ts';
import { planReads } from './plan.ts';
import { BYTE_ORDERS, type ModbusDataType, type ModbusPointRef } from './types.ts';

const registerTypes: ModbusDataType[] = ['bit', 'int16', 'uint16', 'int32', 'uint32', 'float32', 'int64', 'uint64', 'float64', 'string'];

const registerPoint: fc.Arbitrary<ModbusPointRef> = fc
  .record({
    type: fc.constantFrom(...registerTypes),
    order: fc.constantFrom(...BYTE_ORDERS),
    table: fc.constantFrom('holding' as const, 'input' as const),
    address: fc.integer({ min: 0, max: 65535 }),
    bit: fc.integer({ min: 0, max: 15 }),
    length: fc.integer({ min: 1, max: 125 }),
  })
  .map(({ type, bit, length, ...rest }) => ({
    id: 'p',
    type,
    ...rest,
    ...(type === 'bit' ? { bit } : {}),
    ...(type === 'string' ? { length } : {}),
  }));

/** What a broken device or a corrupted frame could hand the decoder. */
const anyWords = fc.array(
  fc.oneof(fc.integer({ min: 0, max: 65535 }), fc.integer(), fc.double(), fc.constantFrom(NaN, -1, 65536, 1.5)),
  { maxLength: 10 },
);

function kindOf(type: ModbusDataType): string[] {
  if (type === 'bit' || type === 'bool') return ['boolean'];
  if (type === 'string') return ['string'];
  if (type === 'int64' || type === 'uint64') return ['number', 'bigint'];
  return ['number'];
}

test('any registers decode to a value of the point type or a ModbusDecodeError naming the point, nothing else', () => {
  fc.assert(
    fc.property(registerPoint, anyWords, fc.integer({ min: 0, max: 12 }), (point, words, offset) => {
      try {
        const value = decodeRegisters(point, words, offset);
        assert.ok(kindOf(point.type).includes(typeof value), `${point.type} gave ${typeof value}`);
      } catch (err) {
        assert.ok(err instanceof ModbusDecodeError, `unexpected ${(err as Error).name}: ${(err as Error).message}`);
        assert.match((err as Error).message, /"p"/);
      }
    }),
    { numRuns: runs(3000) },
  );
});

test('valid registers always decode, and encoding the result gives back registers that decode the same', () => {
  fc.assert(
    fc.property(registerPoint, fc.array(fc.integer({ min: 0, max: 65535 }), { minLength: 125, maxLength: 125 }), (point, words) => {
      const value = decodeRegisters(point, words);
      // Bytes that are not UTF-8 decode to U+FFFD, which cannot give the same bytes back.
      if (typeof value === 'string' && value.includes('\uFFFD')) return;
      const again = decodeRegisters(point, encodeRegisters(point, value));
      if (typeof value === 'number' && Number.isNaN(value)) assert.ok(Number.isNaN(again));
      else if (point.type === 'string') assert.equal(again, value);
      else assert.ok(Object.is(again, value) || again === value, `${String(value)} -> ${String(again)}`);
    }),
    { numRuns: runs(3000) },
  );
});

test('coil bits of any shape decode to booleans or a ModbusDecodeError', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.boolean(), fc.integer(), fc.constant(undefined)), { maxLength: 20 }), fc.integer({ min: 0, max: 25 }), (bits, offset) => {
      const point: ModbusPointRef = { id: 'p', table: 'coil', address: 0, type: 'bool', order: 'ABCD' };
      try {
        assert.equal(typeof decodeBit(point, bits as boolean[], offset), 'boolean');
      } catch (err) {
        assert.ok(err instanceof ModbusDecodeError, `unexpected ${(err as Error).message}`);
      }
    }),
    { numRuns: runs(2000) },
  );
});

test('any set of points is planned into reads within the limits that cover every point exactly once', () => {
  const points = fc.array(registerPoint, { maxLength: 40 }).map((ps) =>
    ps.map((p, i) => ({ ...p, id: `p${i}`, address: Math.min(p.address, 65536 - registerCount(p)) })),
  );
  fc.assert(
    fc.property(points, fc.integer({ min: 0, max: 124 }), fc.integer({ min: 1, max: 125 }), (ps, maxGap, maxRegisters) => {
      let blocks;
      try {
        blocks = planReads(ps, { maxGap, maxRegisters });
      } catch (err) {
        // Only a point larger than one read may be refused, and the message must name it.
        const big = ps.find((p) => registerCount(p) > maxRegisters);
        assert.ok(big, `refused without an oversized point: ${(err as Error).message}`);
        assert.match((err as Error).message, /"p\d+"|p\d+/);
        return;
      }
      const seen = blocks.flatMap((b) => b.points.map((x) => x.point.id)).sort();
      assert.deepEqual(seen, ps.map((p) => p.id).sort());
      for (const b of blocks) {
        assert.ok(b.count <= maxRegisters);
        for (const { point, offset } of b.points) {
          assert.equal(b.address + offset, point.address);
          assert.ok(offset + registerCount(point) <= b.count);
        }
      }
    }),
    { numRuns: runs(1500) },
  );
});
