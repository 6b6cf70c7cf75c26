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
