import test from 'node:test';
import assert from 'node:assert/strict';
import { DataValue } from 'node-opcua-data-value';
import { StatusCodes } from 'node-opcua-status-code';
import { DataType, Variant, VariantArrayType } from 'node-opcua-variant';
import { qualityOf, toSample } from './sample.ts';

const NOW = 1_700_000_000_000;
const dv = (value: Variant, extra: Partial<{ statusCode: (typeof StatusCodes)['Good']; sourceTimestamp: Date; serverTimestamp: Date }> = {}) =>
  new DataValue({ value, ...extra });

test('status codes map to qualities by their meaning for the field engineer', () => {
  const cases: Array<[keyof typeof StatusCodes, string]> = [
    ['Good', 'good'],
    ['GoodClamped', 'good'],
    ['UncertainLastUsableValue', 'uncertain'],
    ['UncertainSensorNotAccurate', 'uncertain'],
    ['BadTimeout', 'bad_no_response'],
    ['BadNoCommunication', 'bad_no_response'],
    ['BadWaitingForInitialData', 'bad_no_response'],
    ['BadServerNotConnected', 'bad_comm'],
    ['BadConnectionClosed', 'bad_comm'],
    ['BadNodeIdUnknown', 'bad_config'],
    ['BadNotReadable', 'bad_config'],
    ['BadUserAccessDenied', 'bad_config'],
    ['BadSensorFailure', 'bad_device_error'],
    ['BadDeviceFailure', 'bad_device_error'],
    ['BadOutOfService', 'bad_device_error'],
  ];
  for (const [name, quality] of cases) assert.equal(qualityOf(StatusCodes[name] as (typeof StatusCodes)['Good']), quality, name);
});

test('values: numbers, booleans, strings and 64-bit integers (exact beyond 2^53)', () => {
  const s = (v: Variant) => toSample('p', dv(v, { sourceTimestamp: new Date(NOW) }), NOW).value;
  assert.equal(s(new Variant({ dataType: DataType.Double, value: 12.5 })), 12.5);
  assert.equal(s(new Variant({ dataType: DataType.UInt16, value: 65535 })), 65535);
  assert.equal(s(new Variant({ dataType: DataType.Boolean, value: true })), true);
  assert.equal(s(new Variant({ dataType: DataType.String, value: 'ok' })), 'ok');
  const u64 = (hi: number, lo: number) => new Variant({ dataType: DataType.UInt64, arrayType: VariantArrayType.Scalar, value: [hi, lo] });
  const i64 = (hi: number, lo: number) => new Variant({ dataType: DataType.Int64, arrayType: VariantArrayType.Scalar, value: [hi, lo] });
  assert.equal(s(u64(0, 42)), 42);
  assert.equal(s(u64(0x200000, 1)), 9_007_199_254_740_993n);
  assert.equal(s(u64(0xffffffff, 0xffffffff)), 18_446_744_073_709_551_615n);
  assert.equal(s(i64(0xffffffff, 0xfffffffe)), -2);
  assert.equal(s(i64(0x80000000, 0)), -9_223_372_036_854_775_808n);
});

test('arrays and unsupported types are bad_decode with the reason, not a crash', () => {
  const arr = toSample('p', dv(new Variant({ dataType: DataType.Double, arrayType: VariantArrayType.Array, value: [1, 2] })), NOW);
  assert.deepEqual(arr, { point: 'p', ts: NOW, value: null, quality: 'bad_decode', error: 'Array of Double is not supported: map each element to its own node' });
  const bytes = toSample('p', dv(new Variant({ dataType: DataType.ByteString, value: Buffer.from([1]) })), NOW);
  assert.equal(bytes.quality, 'bad_decode');
  assert.match(bytes.error!, /ByteString is not supported/);
});

test('timestamp: source timestamp, else server timestamp, else now; bad values carry no value', () => {
  const v = new Variant({ dataType: DataType.Double, value: 1 });
  assert.equal(toSample('p', dv(v, { sourceTimestamp: new Date(NOW - 5000), serverTimestamp: new Date(NOW - 1000) }), NOW).ts, NOW - 5000);
  assert.equal(toSample('p', dv(v, { serverTimestamp: new Date(NOW - 1000) }), NOW).ts, NOW - 1000);
  assert.equal(toSample('p', dv(v), NOW).ts, NOW);
  const bad = toSample('p', dv(v, { statusCode: StatusCodes.BadSensorFailure, sourceTimestamp: new Date(NOW) }), NOW);
  assert.deepEqual(bad, { point: 'p', ts: NOW, value: null, quality: 'bad_device_error', error: 'BadSensorFailure (0x808c0000)' });
});
