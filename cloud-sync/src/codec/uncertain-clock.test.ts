import test from 'node:test';
import assert from 'node:assert/strict';
import { QUALITIES } from '../model.ts';
import { packValue, unpackValue } from '../sqlite-value.ts';
import { CodecError, type Batch } from './batch.ts';
import { compactCodec } from './compact.ts';
import { jsonCodec } from './json.ts';
import { autoCodec } from './detect.ts';

test('uncertain_clock came last: every older quality keeps its index, so older logs and payloads read as before', () => {
  assert.deepEqual(QUALITIES.slice(0, 7), ['good', 'uncertain', 'bad_no_response', 'bad_device_error', 'bad_comm', 'bad_decode', 'bad_config']);
  assert.equal(QUALITIES.indexOf('uncertain_clock'), 7);
  // The log and the center's SQLite store keep the quality in 4 bits of one flags byte.
  assert.ok(QUALITIES.length <= 16);
  const packed = packValue(12.5, 'uncertain_clock');
  assert.deepEqual(unpackValue(packed.value, packed.flags), { value: 12.5, quality: 'uncertain_clock' });
});

test('a reading marked uncertain_clock keeps its value and its (doubtful) timestamp through the compact and JSON codecs', () => {
  const yearBack = Date.UTC(2025, 11, 1);
  const batch: Batch = {
    gateway: 'gw-1',
    first: 1,
    last: 3,
    evicted: [],
    readings: [
      { seq: 1, point: 'm/flow', ts: Date.UTC(2026, 11, 1), value: 12.5, quality: 'good' },
      { seq: 2, point: 'm/flow', ts: yearBack, value: 12.5, quality: 'uncertain_clock' },
      { seq: 3, point: 'm/level', ts: yearBack, value: null, quality: 'bad_no_response' },
    ],
  };
  for (const codec of [compactCodec, jsonCodec]) {
    assert.deepEqual(autoCodec.decode(codec.encode(batch)).readings, batch.readings, codec.name);
  }
});

test('a compact payload with a quality index beyond the known ones is refused by name, not misread', () => {
  const payload = compactCodec.encode({
    gateway: 'gw-1',
    first: 1,
    last: 1,
    evicted: [],
    readings: [{ seq: 1, point: 'm/flow', ts: 0, value: 1, quality: 'uncertain_clock' }],
  });
  // What a decoder that predates uncertain_clock sees: the same bytes with a symbol it does not know.
  assert.throws(
    () => decodeWithQualities(payload, 7),
    (err: unknown) => err instanceof CodecError && /quality run 0: unknown symbol 7/.test(err.message),
  );
});

/** Decodes with only the first `known` qualities known: an older center. */
function decodeWithQualities(payload: Buffer, known: number): Batch {
  const all = [...QUALITIES];
  (QUALITIES as unknown as string[]).length = known;
  try {
    return compactCodec.decode(payload);
  } finally {
    (QUALITIES as unknown as string[]).push(...all.slice(known));
  }
}
