import fc from 'fast-check';
import { QUALITIES, type LogRecord, type SeqRange, type Value } from '../model.ts';
import type { Batch } from './batch.ts';

/**
 * fast-check generators of valid batches for the codec property tests. `values` narrows the
 * value domain to what a codec promises to carry exactly (JSON has no NaN, Infinity or -0).
 */
export interface BatchArbOptions {
  values: fc.Arbitrary<Value>;
  /** Smallest timestamp; Sparkplug timestamps are unsigned. */
  minTs?: number;
  maxReadings?: number;
  /** Some batches carry a log epoch, some do not (as older gateways send). */
  epochs?: boolean;
}

const TWO_53 = 2n ** 53n;

/** 64-bit integers beyond 2^53: the only values the model keeps as bigint. */
export const bigValue = fc.oneof(
  fc.bigInt({ min: TWO_53, max: 2n ** 64n - 1n }),
  fc.bigInt({ min: -(2n ** 63n), max: -TWO_53 - 1n }),
);

const text = fc.string({ unit: 'grapheme', maxLength: 24 });

/** Every value a reading may hold, including the ones JSON cannot carry. */
export const anyValue: fc.Arbitrary<Value> = fc.oneof(
  fc.double(),
  fc.float().map((f) => Math.fround(f)),
  fc.integer(),
  fc.maxSafeInteger(),
  bigValue,
  fc.boolean(),
  text,
  fc.constant(null),
);

export const jsonSafeValue: fc.Arbitrary<Value> = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
  fc.integer(),
  fc.maxSafeInteger(),
  bigValue,
  fc.boolean(),
  text,
  fc.constant(null),
);

const pointKey = fc.oneof(
  fc.constantFrom('water-meter-1/flow', 'heat-meter-1/power', 'energy-meter/voltage_l1', 'river/level'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
);

export function batchArb(o: BatchArbOptions): fc.Arbitrary<Batch> {
  const reading = fc.record({
    point: pointKey,
    ts: fc.integer({ min: o.minTs ?? -(2 ** 40), max: 2 ** 45 }),
    value: o.values,
    quality: fc.constantFrom(...QUALITIES),
    // Evicted sequences just before this reading (0 = none).
    gapBefore: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 1000 })),
  });
  return fc
    .record({
      gateway: fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,20}$/),
      first: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 2 ** 50 })),
      readings: fc.array(reading, { maxLength: o.maxReadings ?? 60 }),
      trailingGap: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 500 })),
      epoch: o.epochs ? fc.option(fc.stringMatching(/^[0-9A-Za-z_-]{1,64}$/), { nil: undefined }) : fc.constant(undefined),
    })
    .filter((b) => b.readings.length > 0 || b.trailingGap > 0)
    .map(({ gateway, first, readings, trailingGap, epoch }) => {
      const evicted: SeqRange[] = [];
      const out: LogRecord[] = [];
      let seq = first;
      for (const r of readings) {
        if (r.gapBefore > 0) {
          evicted.push({ first: seq, last: seq + r.gapBefore - 1 });
          seq += r.gapBefore;
        }
        out.push({ seq: seq++, point: r.point, ts: r.ts, value: r.value, quality: r.quality });
      }
      if (trailingGap > 0) {
        evicted.push({ first: seq, last: seq + trailingGap - 1 });
        seq += trailingGap;
      }
      return { gateway, ...(epoch !== undefined ? { epoch } : {}), first, last: seq - 1, evicted, readings: out };
    });
}

const SCALE_CONSTANTS = [0.1, 0.01, 0.001, 0.0001, 0.00001, 0.000001];

/**
 * Values a gateway's `scale:` makes (raw integer times 0.1 ... 0.000001) and short decimals
 * (integer / 10^d), up to and past the 2^50 limit of compact version 3's Scaled kind, with
 * their neighbours one ulp away (which must not come back as the scaled value).
 */
export const scaledValue: fc.Arbitrary<Value> = fc.oneof(
  fc.tuple(fc.integer({ min: -(2 ** 31), max: 2 ** 32 }), fc.constantFrom(...SCALE_CONSTANTS)).map(([m, s]) => m * s),
  fc.tuple(fc.integer({ min: -100_000, max: 100_000 }), fc.constantFrom(10, 100, 1000, 1_000_000)).map(([m, p]) => m / p),
  fc.tuple(fc.constantFrom(2 ** 50, 2 ** 50 + 1, -(2 ** 50), 2 ** 51 + 3), fc.constantFrom(...SCALE_CONSTANTS)).map(([m, s]) => m * s),
  fc.tuple(fc.integer({ min: 1, max: 10_000 }), fc.boolean()).map(([m, up]) => {
    const v = m * 0.001;
    return up ? v + Number.EPSILON * Math.abs(v) : v - Number.EPSILON * Math.abs(v);
  }),
  fc.constantFrom(-0, 0.30000000000000004, 1e-7, 123456789.123),
);

/**
 * Point keys as fleets name them, the case version 3's tokenized dictionary is built for:
 * `<stem><number>/<name><number>` with numbers that repeat, count up, jump, carry leading
 * zeros or run past 15 digits, keys with several slashes or none, and stems that end in digits.
 */
export const fleetKey: fc.Arbitrary<string> = fc
  .record({
    stem: fc.constantFrom('plc-', 'water-meter-', 'pump', 'st.', '', 'a1b', 'кнс-'),
    number: fc.oneof(fc.constant(''), fc.nat({ max: 120 }).map(String), fc.constantFrom('007', '0', '00', '1234567890123456789')),
    slash: fc.constantFrom('/', '/', '/', '', '//'),
    name: fc.constantFrom('hr', 'flow', 'level', 'ai', 'x9', ''),
    index: fc.oneof(fc.constant(''), fc.nat({ max: 30 }).map(String)),
  })
  .map((k) => `${k.stem}${k.number}${k.slash}${k.name}${k.index}`)
  .filter((k) => k.length > 0);

/**
 * Batches as a box with many points sends them: whole or cut polls of a fixed point order
 * (some points missing in some polls, deadband-style), with a shared timestamp per poll.
 */
export function pollBatchArb(o: { values: fc.Arbitrary<Value>; maxPoints?: number; maxPolls?: number }): fc.Arbitrary<Batch> {
  return fc
    .record({
      points: fc.uniqueArray(fc.oneof(fleetKey, pointKey), { minLength: 1, maxLength: o.maxPoints ?? 40 }),
      polls: fc.integer({ min: 1, max: o.maxPolls ?? 6 }),
      skip: fc.array(fc.boolean(), { maxLength: 64 }),
      values: fc.array(o.values, { minLength: 1, maxLength: 64 }),
      start: fc.integer({ min: 0, max: 2 ** 44 }),
      first: fc.integer({ min: 1, max: 2 ** 40 }),
      cut: fc.nat(),
    })
    .map(({ points, polls, skip, values, start, first, cut }) => {
      const readings: LogRecord[] = [];
      let k = 0;
      for (let p = 0; p < polls; p++) {
        for (const point of points) {
          k++;
          if (skip[k % (skip.length || 1)] && k % 3 === 0) continue;
          readings.push({ seq: 0, point, ts: start + p * 1000, value: values[k % values.length]!, quality: k % 17 === 0 ? 'uncertain' : 'good' });
        }
      }
      const part = readings.slice(cut % Math.max(1, readings.length - 1)).map((r, i) => ({ ...r, seq: first + i }));
      return { gateway: 'kem-01', epoch: 'e1', first, last: first + part.length - 1, evicted: [], readings: part };
    })
    .filter((b) => b.readings.length > 0);
}

/**
 * Live-lane batches: the newest readings of some points with their real, sparse, ascending
 * sequence numbers (first = lowest, last = highest, nothing evicted).
 */
export function liveBatchArb(o: { values: fc.Arbitrary<Value>; maxReadings?: number }): fc.Arbitrary<Batch> {
  const reading = fc.record({
    point: fc.oneof(fleetKey, pointKey),
    ts: fc.integer({ min: 0, max: 2 ** 45 }),
    value: o.values,
    quality: fc.constantFrom(...QUALITIES),
    gapBefore: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 2 ** 30 })),
  });
  return fc
    .record({
      first: fc.integer({ min: 1, max: 2 ** 40 }),
      readings: fc.array(reading, { minLength: 1, maxLength: o.maxReadings ?? 60 }),
      epoch: fc.option(fc.stringMatching(/^[0-9A-Za-z_-]{1,64}$/), { nil: undefined }),
    })
    .map(({ first, readings, epoch }) => {
      let seq = first;
      const out = readings.map((r, i) => {
        if (i > 0) seq += 1 + r.gapBefore;
        return { seq, point: r.point, ts: r.ts, value: r.value, quality: r.quality };
      });
      return { gateway: 'kem-01', ...(epoch !== undefined ? { epoch } : {}), live: true as const, first, last: seq, evicted: [], readings: out };
    });
}
