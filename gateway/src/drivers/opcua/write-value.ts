import { DataType, Variant } from 'node-opcua-client';
import type { Value } from '@kedge/cloud-sync/model.ts';
import { WriteError } from '../write-error.ts';

const INT_RANGES: Partial<Record<DataType, readonly [bigint, bigint]>> = {
  [DataType.SByte]: [-128n, 127n],
  [DataType.Byte]: [0n, 255n],
  [DataType.Int16]: [-(2n ** 15n), 2n ** 15n - 1n],
  [DataType.UInt16]: [0n, 2n ** 16n - 1n],
  [DataType.Int32]: [-(2n ** 31n), 2n ** 31n - 1n],
  [DataType.UInt32]: [0n, 2n ** 32n - 1n],
  [DataType.Int64]: [-(2n ** 63n), 2n ** 63n - 1n],
  [DataType.UInt64]: [0n, 2n ** 64n - 1n],
};

/**
 * The Variant for writing `value` into a variable of `dataType`. Integers are rounded (values
 * arrive unscaled, with binary noise) and range-checked here, so the error names the range
 * instead of the server's bare BadOutOfRange.
 */
export function toVariant(dataType: DataType, value: Value, what: string): Variant {
  const invalid = (why: string) => new WriteError('invalid_value', `${what}: ${why}`);
  const typeName = DataType[dataType] ?? String(dataType);
  if (value === null) throw invalid('cannot write null');
  if (dataType === DataType.Boolean) {
    if (typeof value !== 'boolean') throw invalid(`the node is Boolean, got ${typeof value} ${String(value)}`);
    return new Variant({ dataType, value });
  }
  if (dataType === DataType.String) {
    if (typeof value !== 'string') throw invalid(`the node is String, got ${typeof value}`);
    return new Variant({ dataType, value });
  }
  if (dataType === DataType.Float || dataType === DataType.Double) {
    if (typeof value !== 'number' && typeof value !== 'bigint') throw invalid(`the node is ${typeName}, got ${typeof value}`);
    return new Variant({ dataType, value: Number(value) });
  }
  const range = INT_RANGES[dataType];
  if (!range) throw new WriteError('unsupported', `${what}: writing ${typeName} nodes is not supported (Boolean, integers, Float, Double, String are)`);
  if (typeof value !== 'number' && typeof value !== 'bigint') throw invalid(`the node is ${typeName}, got ${typeof value}`);
  if (typeof value === 'number' && !Number.isFinite(value)) throw invalid(`${typeName} cannot hold ${value}`);
  const n = typeof value === 'bigint' ? value : BigInt(Math.round(value));
  if (n < range[0] || n > range[1]) throw invalid(`${typeName} value ${String(value)} is out of range ${range[0]}..${range[1]}`);
  if (dataType === DataType.Int64 || dataType === DataType.UInt64) {
    // node-opcua carries 64-bit integers as [high, low] 32-bit words.
    const u = BigInt.asUintN(64, n);
    return new Variant({ dataType, value: [Number(u >> 32n), Number(u & 0xffffffffn)] });
  }
  return new Variant({ dataType, value: Number(n) });
}
