import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { runs } from '@kedge/testkit/fuzz.ts';
import { anyValue, batchArb, bigValue, jsonSafeValue } from './arbitrary.ts';
import { CodecError, type Batch, type Codec } from './batch.ts';
import { compactCodec } from './compact.ts';
import { autoCodec, detectCodec } from './detect.ts';
import { jsonCodec } from './json.ts';
import { sparkplugCodec } from './sparkplug.ts';

const RUNS = runs(300);

/** Evicted ranges come back sorted by the binary codecs; the order carries no meaning. */
function normalized(b: Batch): Batch {
  return { ...b, evicted: [...b.evicted].sort((x, y) => x.first - y.first) };
}

function roundTrips(codec: Codec, arb: fc.Arbitrary<Batch>): void {
  fc.assert(
    fc.property(arb, (batch) => {
      const payload = codec.encode(batch);
      assert.deepStrictEqual(normalized(codec.decode(payload)), normalized(batch));
      assert.equal(detectCodec(payload), codec, 'detectCodec names the codec that wrote the payload');
      assert.deepStrictEqual(normalized(autoCodec.decode(payload)), normalized(batch));
    }),
    { numRuns: RUNS },
  );
}

test('json: every batch of JSON-representable values decodes to exactly what was encoded', () => {
  roundTrips(jsonCodec, batchArb({ values: jsonSafeValue, epochs: true }));
});

test('compact: every batch decodes to exactly what was encoded, NaN, -0, Infinity and 64-bit integers included', () => {
  roundTrips(compactCodec, batchArb({ values: anyValue, epochs: true }));
});

test('compact: large batches of one point round-trip (long runs, many deltas)', () => {
  roundTrips(compactCodec, batchArb({ values: fc.oneof(fc.float(), fc.integer()), maxReadings: 2000 }));
});

test('sparkplug: every batch with unsigned timestamps decodes to exactly what was encoded', () => {
  roundTrips(sparkplugCodec, batchArb({ values: anyValue, minTs: 0 }));
});

test('sparkplug: 64-bit integers keep every bit through Int64/UInt64 metrics', () => {
  fc.assert(
    fc.property(bigValue, (v) => {
      const batch: Batch = { gateway: 'gw', first: 1, last: 1, evicted: [], readings: [{ seq: 1, point: 'm/e', ts: 0, value: v, quality: 'good' }] };
      assert.equal(sparkplugCodec.decode(sparkplugCodec.encode(batch)).readings[0]!.value, v);
    }),
  );
});

function onlyCodecErrors(decode: (b: Buffer) => unknown, bytes: Uint8Array): void {
  try {
    decode(Buffer.from(bytes));
  } catch (err) {
    if (!(err instanceof CodecError)) throw new Error(`threw ${(err as Error)?.name}: ${(err as Error)?.message}, not a CodecError`);
  }
}

const decoders: Array<[string, (b: Buffer) => unknown]> = [
  ['json', (b) => jsonCodec.decode(b)],
  ['compact', (b) => compactCodec.decode(b)],
  ['sparkplug', (b) => sparkplugCodec.decode(b)],
  ['auto', (b) => autoCodec.decode(b)],
];

for (const [name, decode] of decoders) {
  test(`fuzz ${name}: arbitrary bytes either decode or throw a CodecError, nothing else`, () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => onlyCodecErrors(decode, bytes)), { numRuns: runs(2000) });
  });
}

for (const codec of [jsonCodec, compactCodec, sparkplugCodec]) {
  test(`fuzz ${codec.name}: a valid payload with bytes changed, cut or extended throws only CodecError`, () => {
    const arb = fc.tuple(
      batchArb({ values: codec === jsonCodec ? jsonSafeValue : anyValue, minTs: 0, maxReadings: 20 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.oneof(fc.constant(0), fc.integer({ min: -40, max: 40 })),
    );
    fc.assert(
      fc.property(arb, ([batch, edits, resize]) => {
        let bytes = Buffer.from(codec.encode(batch));
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        if (resize < 0) bytes = bytes.subarray(0, Math.max(0, bytes.length + resize));
        else if (resize > 0) bytes = Buffer.concat([bytes, Buffer.alloc(resize, 0x80)]);
        onlyCodecErrors((b) => codec.decode(b), bytes);
        onlyCodecErrors((b) => autoCodec.decode(b), bytes);
      }),
      { numRuns: runs(1000) },
    );
  });
}

test('every codec refuses to encode a batch that breaks the sequence invariant', () => {
  const bad: Batch = { gateway: 'gw', first: 1, last: 3, evicted: [], readings: [{ seq: 1, point: 'a/b', ts: 0, value: 1, quality: 'good' }] };
  for (const codec of [compactCodec, sparkplugCodec]) {
    assert.throws(() => codec.encode(bad), { name: 'CodecError', message: /cover up to 1, batch says last = 3/ });
  }
});

test('detectCodec names what it does not know', () => {
  assert.throws(() => detectCodec(Buffer.from([0x00, 0x01])), { name: 'CodecError', message: /unknown payload format \(first byte 0x00\)/ });
  assert.throws(() => detectCodec(Buffer.alloc(0)), { name: 'CodecError', message: /empty payload/ });
  assert.equal(detectCodec(Buffer.from('  \n{"format":"kedge-json/1"}')), jsonCodec);
});
