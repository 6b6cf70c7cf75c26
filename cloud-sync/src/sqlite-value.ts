import { QUALITIES, type Quality, type Value } from './model.ts';

/**
 * How a reading's value and quality are packed into two SQLite columns, in the gateway's log
 * and in the center's store alike.
 * SQLite stores 0 and 1 without payload bytes, so folding the quality and the value's kind
 * into one small integer keeps a row near 20 bytes: that is what SD-card wear is measured in.
 */

const KIND_NUMBER = 0; // number or null
const KIND_BOOL = 1;
const KIND_STRING = 2;
const KIND_BIGINT = 3; // stored as decimal text: uint64 does not fit SQLite's int64

const QUALITY_INDEX = new Map<Quality, number>(QUALITIES.map((q, i) => [q, i]));

export type SqlValue = number | string | null;

export function packValue(value: Value, quality: Quality): { value: SqlValue; flags: number } {
  const q = QUALITY_INDEX.get(quality);
  if (q === undefined) throw new TypeError(`unknown quality ${JSON.stringify(quality)}`);
  if (value === null) return { value: null, flags: q };
  switch (typeof value) {
    case 'number':
      return { value, flags: q | (KIND_NUMBER << 4) };
    case 'boolean':
      return { value: value ? 1 : 0, flags: q | (KIND_BOOL << 4) };
    case 'string':
      return { value, flags: q | (KIND_STRING << 4) };
    case 'bigint':
      return { value: value.toString(), flags: q | (KIND_BIGINT << 4) };
    default:
      throw new TypeError(`cannot log a value of type ${typeof value}`);
  }
}

/**
 * packValue's `flags` alone, and packedValue its `value`: the log's insert loop packs thousands
 * of readings per commit without an object per reading. packedFlags throws like packValue.
 */
export function packedFlags(value: Value, quality: Quality): number {
  const q = QUALITY_INDEX.get(quality);
  if (q === undefined) throw new TypeError(`unknown quality ${JSON.stringify(quality)}`);
  if (value === null) return q;
  switch (typeof value) {
    case 'number':
      return q | (KIND_NUMBER << 4);
    case 'boolean':
      return q | (KIND_BOOL << 4);
    case 'string':
      return q | (KIND_STRING << 4);
    case 'bigint':
      return q | (KIND_BIGINT << 4);
    default:
      throw new TypeError(`cannot log a value of type ${typeof value}`);
  }
}

export function packedValue(value: Value): SqlValue {
  if (typeof value === 'number' || value === null || typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value.toString();
}

export function unpackValue(value: SqlValue, flags: number): { value: Value; quality: Quality } {
  const quality = QUALITIES[flags & 0x0f];
  if (quality === undefined) throw new RangeError(`corrupt log row: quality index ${flags & 0x0f}`);
  if (value === null) return { value: null, quality };
  switch (flags >> 4) {
    case KIND_NUMBER:
      return { value: Number(value), quality };
    case KIND_BOOL:
      return { value: value === 1, quality };
    case KIND_STRING:
      return { value: String(value), quality };
    case KIND_BIGINT:
      return { value: BigInt(value), quality };
    default:
      throw new RangeError(`corrupt log row: value kind ${flags >> 4}`);
  }
}
