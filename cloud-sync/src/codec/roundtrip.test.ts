import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { runs } from '@kedge/testkit/fuzz.ts';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { anyValue, batchArb, bigValue, jsonSafeValue, liveBatchArb, pollBatchArb, scaledValue } from './arbitrary.ts';
import { CodecError, type Batch, type Codec } from './batch.ts';
import { compactCodec, compactV2Codec } from './compact.ts';
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

test('compact version 3: batches of repeated polls (fleet names, points skipped, cut polls) round-trip', () => {
  roundTrips(compactCodec, pollBatchArb({ values: anyValue }));
  // Per-point deltas and XORs on values that stay, creep and jump.
  const creeping = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.maxSafeInteger(), fc.constantFrom(0.1, 0.2, Math.fround(231.4), Number.NaN, -0, Infinity));
  roundTrips(compactCodec, pollBatchArb({ values: creeping, maxPoints: 8, maxPolls: 30 }));
  // Scaled registers and short decimals (the Scaled kind), at the edges of its integer range.
  roundTrips(compactCodec, pollBatchArb({ values: scaledValue, maxPoints: 8, maxPolls: 30 }));
});

test('live batches round-trip in json and compact, mark and sparse sequences included', () => {
  roundTrips(compactCodec, liveBatchArb({ values: anyValue }));
  roundTrips(jsonCodec, liveBatchArb({ values: jsonSafeValue }));
});

test('compact version 1/2 (old gateways) still round-trips through the decoder the center runs', () => {
  fc.assert(
    fc.property(batchArb({ values: anyValue, epochs: true }), (batch) => {
      const payload = compactV2Codec.encode(batch);
      assert.ok(payload[1] === 1 || payload[1] === 2, `version ${payload[1]}`);
      assert.deepStrictEqual(normalized(autoCodec.decode(payload)), normalized(batch));
    }),
    { numRuns: RUNS },
  );
});

test('fuzz compact version 3: poll and live payloads with bytes changed, cut or extended throw only CodecError', () => {
  const arb = fc.tuple(
    fc.oneof(pollBatchArb({ values: fc.oneof(anyValue, scaledValue), maxPoints: 12, maxPolls: 3 }), liveBatchArb({ values: anyValue, maxReadings: 20 })),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
    fc.oneof(fc.constant(0), fc.integer({ min: -40, max: 40 })),
  );
  fc.assert(
    fc.property(arb, ([batch, edits, resize]) => {
      // Edit the inflated body too, so the layout's own checks are reached (not only deflate's).
      let body = Buffer.from(inflateRawSync(compactCodec.encode(batch).subarray(2)));
      for (const [at, value] of edits) body[at % body.length] = value;
      if (resize < 0) body = body.subarray(0, Math.max(0, body.length + resize));
      else if (resize > 0) body = Buffer.concat([body, Buffer.alloc(resize, 0x80)]);
      onlyCodecErrors((b) => compactCodec.decode(b), Buffer.concat([Buffer.from([0xcb, 3]), deflateRawSync(body)]));
    }),
    { numRuns: runs(1000) },
  );
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
