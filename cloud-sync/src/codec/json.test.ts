import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { runs } from '@kedge/testkit/fuzz.ts';
import { QUALITIES, type LogRecord, type Quality, type SeqRange, type Value } from '../model.ts';
import { batchProblem, CodecError, type Batch } from './batch.ts';
import { jsonCodec } from './json.ts';

// --- arbitraries ---------------------------------------------------------------------------

const BAD_QUALITIES = QUALITIES.filter((q) => q.startsWith('bad_'));

const cyrillic = fc.string({ unit: fc.constantFrom(...'абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗ №-.,'), maxLength: 24 });
/** Any text: Cyrillic, all of Unicode including lone surrogates, a few fixed names. */
const text = fc.oneof(
  cyrillic,
  fc.string({ unit: 'binary', maxLength: 16 }),
  fc.constantFrom('', 'Кемерово', 'авария насоса №3', 'null', '{"int":"1"}', '"', '\\', '\u0000'),
);
const nonEmptyText = text.filter((s) => s.length > 0);

/** Finite doubles; -0 is left out: JSON has no negative zero (it arrives as 0). */
const finiteDouble = fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Object.is(x, -0));
const bigints = fc.oneof(
  fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n - 1n }),
  fc.bigInt({ min: -(2n ** 63n), max: -(2n ** 53n) - 1n }),
  fc.bigInt(),
);
const presentValue: fc.Arbitrary<Value> = fc.oneof(finiteDouble, fc.integer(), fc.boolean(), text, bigints);

const valueAndQuality: fc.Arbitrary<{ value: Value; quality: Quality }> = fc.oneof(
  fc.record({ value: presentValue, quality: fc.constantFrom<Quality>('good', 'uncertain') }),
  fc.record({ value: fc.constant(null), quality: fc.constantFrom<Quality>(...BAD_QUALITIES) }),
);

const readingBody = fc.record({
  point: nonEmptyText,
  ts: fc.maxSafeInteger(),
  vq: valueAndQuality,
});

type Segment = { kind: 'readings' | 'evicted'; n: number };
const segment: fc.Arbitrary<Segment> = fc.oneof(
  fc.record({ kind: fc.constant('readings' as const), n: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('evicted' as const), n: fc.integer({ min: 1, max: 100_000 }) }),
);

/**
 * A valid batch: [first, last] is tiled by runs of readings and evicted ranges (an evicted
 * prefix, as the uplink sends after size-cap eviction, is one of the shapes).
 */
const batchArb: fc.Arbitrary<Batch> = fc
  .record({
    gateway: nonEmptyText,
    first: fc.integer({ min: 1, max: 2 ** 48 }),
    segments: fc.array(segment, { minLength: 1, maxLength: 6 }),
  })
  .chain(({ gateway, first, segments }) => {
    const count = segments.filter((s) => s.kind === 'readings').reduce((n, s) => n + s.n, 0);
    return fc.array(readingBody, { minLength: count, maxLength: count }).map((bodies): Batch => {
      const readings: LogRecord[] = [];
      const evicted: SeqRange[] = [];
      let seq = first;
      let b = 0;
      for (const s of segments) {
        if (s.kind === 'evicted') {
          evicted.push({ first: seq, last: seq + s.n - 1 });
          seq += s.n;
        } else {
          for (let i = 0; i < s.n; i++) {
            const body = bodies[b++]!;
            readings.push({ seq: seq++, point: body.point, ts: body.ts, value: body.vq.value, quality: body.vq.quality });
          }
        }
      }
      return { gateway, first, last: seq - 1, evicted, readings };
    });
  });

// --- round trip ----------------------------------------------------------------------------

test('any valid batch survives encode -> decode unchanged (every value kind, evicted ranges, any text)', () => {
  fc.assert(
    fc.property(batchArb, (batch) => {
      assert.equal(batchProblem(batch), null, 'the generator only makes valid batches');
      const decoded = jsonCodec.decode(jsonCodec.encode(batch));
      assert.deepStrictEqual(decoded, batch);
    }),
    { numRuns: runs(300) },
  );
});

test('64-bit integers beyond 2^53 keep every digit and stay bigint, positive and negative', () => {
  const values = [2n ** 64n - 1n, 2n ** 53n + 1n, -(2n ** 63n), 0n];
  const batch: Batch = {
    gateway: 'gw1',
    first: 1,
    last: values.length,
    evicted: [],
    readings: values.map((value, i) => ({ seq: i + 1, point: 'meter/energy', ts: 1_700_000_000_000, value, quality: 'good' as const })),
  };
  const wire = JSON.parse(jsonCodec.encode(batch).toString('utf8')) as { readings: Array<{ value: unknown }> };
  assert.deepEqual(wire.readings[0]!.value, { int: '18446744073709551615' });
  const decoded = jsonCodec.decode(jsonCodec.encode(batch));
  assert.deepStrictEqual(
    decoded.readings.map((r) => r.value),
    values,
  );
});

test('a batch made of an evicted prefix and the readings after it round-trips', () => {
  const batch: Batch = {
    gateway: 'шахта-7',
    first: 101,
    last: 203,
    evicted: [{ first: 101, last: 200 }],
    readings: [
      { seq: 201, point: 'насос/давление', ts: 1, value: 4.25, quality: 'good' },
      { seq: 202, point: 'насос/состояние', ts: 2, value: 'авария', quality: 'good' },
      { seq: 203, point: 'насос/ход', ts: 3, value: null, quality: 'bad_no_response' },
    ],
  };
  assert.deepStrictEqual(jsonCodec.decode(jsonCodec.encode(batch)), batch);
});

// --- bad payloads --------------------------------------------------------------------------

const reading = (seq: number, extra: Record<string, unknown> = {}) => ({ seq, point: 'm/p', ts: 1, value: 1.5, quality: 'good', ...extra });
const wire = (o: Record<string, unknown>) =>
  Buffer.from(JSON.stringify({ format: 'kedge-json/1', gateway: 'gw1', first: 1, last: 1, evicted: [], readings: [reading(1)], ...o }));

function rejects(payload: Buffer, message: RegExp): void {
  assert.throws(
    () => jsonCodec.decode(payload),
    (err: unknown) => {
      assert.ok(err instanceof CodecError, `expected a CodecError, got ${String(err)}`);
      assert.equal(err.name, 'CodecError');
      assert.match(err.message, message);
      return true;
    },
  );
}

test('the valid base payload of the rejection tests decodes (so each rejection is about its one change)', () => {
  assert.deepStrictEqual(jsonCodec.decode(wire({})), {
    gateway: 'gw1',
    first: 1,
    last: 1,
    evicted: [],
    readings: [{ seq: 1, point: 'm/p', ts: 1, value: 1.5, quality: 'good' }],
  });
});

test('a payload that is not JSON is rejected as "not JSON"', () => {
  rejects(Buffer.from('{nope'), /^json: not JSON: /);
  rejects(Buffer.from([0xff, 0xfe, 0x00]), /^json: not JSON: /);
  rejects(Buffer.alloc(0), /^json: not JSON: /);
});

test('a wrong format tag is rejected naming the format field and the expected tag', () => {
  rejects(wire({ format: 'kedge-json/2' }), /^json: format: .*kedge-json\/1/);
  rejects(Buffer.from(JSON.stringify([1, 2])), /^json: \(root\): /);
});

test('a payload without a gateway is rejected naming the gateway field', () => {
  rejects(wire({ gateway: undefined }), /^json: gateway: /);
  rejects(wire({ gateway: '' }), /^json: gateway: /);
});

test('an unknown quality is rejected naming the reading and its quality field', () => {
  rejects(wire({ readings: [reading(1, { quality: 'excellent' })] }), /^json: readings\.0\.quality: /);
});

test('a bigint that is not a decimal integer is rejected', () => {
  rejects(wire({ readings: [reading(1, { value: { int: '1.5' } })] }), /^json: readings\.0\.value\.int: decimal integer$/);
});

test('a reading whose seq is out of place is rejected with the seq expected there', () => {
  rejects(wire({ first: 1, last: 3, readings: [reading(1), reading(3), reading(2)] }), /^json: reading seq 3 out of place: expected 2$/);
  rejects(wire({ first: 5, last: 5, readings: [reading(4)] }), /^json: reading seq 4 out of place: expected 5$/);
});

test('a last that does not match the readings and evicted ranges is rejected', () => {
  rejects(wire({ first: 1, last: 5, readings: [reading(1), reading(2)] }), /^json: readings and evicted ranges cover up to 2, batch says last = 5$/);
  rejects(wire({ first: 3, last: 2, readings: [] }), /^json: last \(2\) must be >= first \(3\)$/);
});

test('an evicted range overlapping readings (or another evicted range) is rejected', () => {
  // the reading 2 lies inside the evicted 2-3: after the evicted range the next seq must be 4
  rejects(
    wire({ first: 1, last: 3, evicted: [{ first: 2, last: 3 }], readings: [reading(1), reading(2), reading(3)] }),
    /^json: reading seq 2 out of place: expected 4$/,
  );
  rejects(
    wire({ first: 1, last: 5, evicted: [{ first: 1, last: 3 }, { first: 3, last: 3 }], readings: [reading(4), reading(5)] }),
    /^json: evicted range 3-3 overlaps readings$/,
  );
  rejects(wire({ first: 5, last: 6, evicted: [{ first: 3, last: 4 }], readings: [reading(5), reading(6)] }), /^json: evicted range 3-4 /);
});

test('an inverted evicted range is rejected: it must not let readings before first in', () => {
  rejects(
    wire({ first: 5, last: 5, evicted: [{ first: 5, last: 3 }], readings: [reading(4), reading(5)] }),
    /^json: evicted range 5-3 is not a range/,
  );
});

test('unknown fields are rejected (strict wire format)', () => {
  rejects(wire({ extra: true }), /^json: \(root\): /);
  rejects(wire({ readings: [reading(1, { unit: 'kWh' })] }), /^json: readings\.0: /);
});

// --- robustness ----------------------------------------------------------------------------

/** Decodes and checks the outcome: a valid batch, or a CodecError; nothing else ever. */
function decodeOrCodecError(payload: Buffer): void {
  let batch: Batch;
  try {
    batch = jsonCodec.decode(payload);
  } catch (err) {
    if (err instanceof CodecError) return;
    throw new Error(`decode threw a non-CodecError: ${String(err)}`, { cause: err });
  }
  assert.equal(batchProblem(batch), null, 'decode returned a batch that breaks the invariants');
}

test('decoding arbitrary bytes throws nothing but CodecError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => decodeOrCodecError(Buffer.from(bytes))),
    { numRuns: runs(500) },
  );
});

test('decoding arbitrary JSON throws nothing but CodecError', () => {
  fc.assert(
    fc.property(fc.json({ maxDepth: 4 }), (json) => decodeOrCodecError(Buffer.from(json))),
    { numRuns: runs(500) },
  );
});

test('decoding a valid batch with one field replaced by arbitrary JSON throws nothing but CodecError', () => {
  const fields = ['format', 'gateway', 'first', 'last', 'evicted', 'readings', 'reading.seq', 'reading.value', 'reading.quality', 'evicted.0', 'evicted.first'];
  fc.assert(
    fc.property(batchArb, fc.constantFrom(...fields), fc.jsonValue({ maxDepth: 2 }), (batch, field, replacement) => {
      const obj = JSON.parse(jsonCodec.encode(batch).toString('utf8')) as Record<string, unknown> & {
        readings: Array<Record<string, unknown>>;
        evicted: Array<Record<string, unknown>>;
      };
      if (field.startsWith('reading.')) {
        if (obj.readings.length === 0) return;
        obj.readings[0]![field.slice('reading.'.length)] = replacement;
      } else if (field === 'evicted.0') {
        obj.evicted.push(replacement as Record<string, unknown>);
      } else if (field === 'evicted.first') {
        if (obj.evicted.length === 0) return;
        obj.evicted[0]!.first = replacement;
      } else {
        obj[field] = replacement;
      }
      decodeOrCodecError(Buffer.from(JSON.stringify(obj)));
    }),
    { numRuns: runs(500) },
  );
});
