import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { runs } from '@kedge/testkit/fuzz.ts';
import { anyValue } from '../../codec/arbitrary.ts';
import { convertValue, datatypeOfPoint } from './datatypes.ts';
import { DataType, decodePayload, encodePayload } from '../../codec/sparkplug-payload.ts';

const SCALARS = [
  DataType.Int8, DataType.Int16, DataType.Int32, DataType.Int64, DataType.UInt8, DataType.UInt16, DataType.UInt32, DataType.UInt64,
  DataType.Float, DataType.Double, DataType.Boolean, DataType.String, DataType.DateTime,
];

test('datatypes come from what the point is: config types, OPC UA DataType names; scaled numbers are Double', () => {
  assert.equal(datatypeOfPoint('float64', false), DataType.Double);
  assert.equal(datatypeOfPoint('Double', false), DataType.Double);
  assert.equal(datatypeOfPoint('int16', false), DataType.Int16);
  assert.equal(datatypeOfPoint('uint16', true), DataType.Double, 'value * scale + offset is no integer');
  assert.equal(datatypeOfPoint('bool', true), DataType.Boolean, 'scaling does not apply to booleans');
  assert.equal(datatypeOfPoint('SByte', false), DataType.Int8);
  assert.equal(datatypeOfPoint('LocalizedText', false), DataType.String);
  assert.equal(datatypeOfPoint(undefined, false), undefined);
  assert.equal(datatypeOfPoint('ExtensionObject', false), undefined);
});

test('every value converted to a datatype encodes as that datatype and decodes to the converted value (no conversion is a lie on the wire)', () => {
  fc.assert(
    fc.property(anyValue, fc.constantFrom(...SCALARS), (value, datatype) => {
      const c = convertValue(datatype, value);
      if (!c.ok) {
        assert.match(c.why, /not a|out of range|cannot be sent/);
        return;
      }
      const back = decodePayload(encodePayload({ metrics: [{ name: 'm', datatype, value: c.value }] })).metrics[0]!.value;
      if (datatype === DataType.Float && typeof c.value === 'number') {
        assert.ok(Object.is(back, Math.fround(c.value)));
        assert.ok(!Number.isFinite(c.value) || Number.isFinite(back), 'a finite value never arrives as Infinity');
      }
      else assert.deepEqual(back, c.value);
    }),
    { numRuns: runs(3000) },
  );
});

test('conversions a host relies on: integral doubles stay doubles, fractions round into integers, text and booleans cross over', () => {
  const ok = (dt: number, v: Parameters<typeof convertValue>[1]) => {
    const c = convertValue(dt, v);
    assert.ok(c.ok, `${String(v)} -> ${dt}: ${c.ok ? '' : c.why}`);
    return c.value;
  };
  assert.equal(ok(DataType.Double, 20), 20);
  assert.equal(ok(DataType.Double, '20.5'), 20.5);
  assert.equal(ok(DataType.Int32, 7.6), 8);
  assert.equal(ok(DataType.Int16, true), 1);
  assert.equal(ok(DataType.Boolean, 0), false);
  assert.equal(ok(DataType.Boolean, 'true'), true);
  assert.equal(ok(DataType.String, 12.5), '12.5');
  assert.equal(ok(DataType.UInt64, 2n ** 63n), 2n ** 63n);
  assert.equal(ok(DataType.DateTime, '2026-01-01T00:00:00.000Z'), Date.UTC(2026, 0, 1));
  assert.equal(ok(DataType.Int16, null), null, 'no value stays no value');
  for (const [dt, v] of [[DataType.Int16, 40_000], [DataType.UInt8, -1], [DataType.Double, 'twelve'], [DataType.Boolean, 'maybe'], [DataType.Int64, 2n ** 63n], [DataType.Float, 1e300]] as const) {
    const c = convertValue(dt, v);
    assert.equal(c.ok, false, `${String(v)} must not pass as ${dt}`);
  }
});
