import { z } from 'zod';
import { QUALITIES, type Value } from '../model.ts';
import { batchProblem, CodecError, EPOCH_PATTERN, type Batch, type Codec } from './batch.ts';

/**
 * Readable JSON, for debugging with mosquitto_sub. Values that JSON cannot carry exactly
 * (64-bit integers beyond 2^53) travel as {"int": "<decimal>"}.
 */
const FORMAT = 'kedge-json/1';

const wireValue = z.union([
  z.number(),
  z.boolean(),
  z.string(),
  z.null(),
  z.strictObject({ int: z.string().regex(/^-?\d+$/, 'decimal integer') }),
]);

const wireBatch = z.strictObject({
  format: z.literal(FORMAT),
  gateway: z.string().min(1),
  // Optional: gateways before log epochs did not send it.
  epoch: z.string().regex(EPOCH_PATTERN, '1-64 letters, digits, "_" or "-"').optional(),
  // A live-lane batch: sparse real sequences, nothing evicted (batchProblem checks its rules).
  live: z.literal(true).optional(),
  first: z.number().int().positive(),
  last: z.number().int().positive(),
  evicted: z.array(z.strictObject({ first: z.number().int().positive(), last: z.number().int().positive() })).default([]),
  readings: z.array(
    z.strictObject({
      seq: z.number().int().positive(),
      point: z.string().min(1),
      ts: z.number().int(),
      value: wireValue,
      quality: z.enum(QUALITIES),
    }),
  ),
});

function toWire(v: Value): z.infer<typeof wireValue> {
  return typeof v === 'bigint' ? { int: v.toString() } : v;
}

function fromWire(v: z.infer<typeof wireValue>): Value {
  return v !== null && typeof v === 'object' ? BigInt(v.int) : v;
}

export const jsonCodec: Codec = {
  name: 'json',
  contentType: 'application/json',
  encode(b: Batch): Buffer {
    return Buffer.from(
      JSON.stringify({
        format: FORMAT,
        gateway: b.gateway,
        ...(b.epoch !== undefined ? { epoch: b.epoch } : {}),
        ...(b.live ? { live: true } : {}),
        first: b.first,
        last: b.last,
        evicted: b.evicted,
        readings: b.readings.map((r) => ({ seq: r.seq, point: r.point, ts: r.ts, value: toWire(r.value), quality: r.quality })),
      }),
    );
  },
  decode(payload: Buffer): Batch {
    let raw: unknown;
    try {
      raw = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      throw new CodecError('json', `not JSON: ${(err as Error).message}`);
    }
    const parsed = wireBatch.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new CodecError('json', `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    const w = parsed.data;
    const batch: Batch = {
      gateway: w.gateway,
      ...(w.epoch !== undefined ? { epoch: w.epoch } : {}),
      ...(w.live ? { live: true as const } : {}),
      first: w.first,
      last: w.last,
      evicted: w.evicted,
      readings: w.readings.map((r) => ({ ...r, value: fromWire(r.value) })),
    };
    const problem = batchProblem(batch);
    if (problem) throw new CodecError('json', problem);
    return batch;
  },
};
