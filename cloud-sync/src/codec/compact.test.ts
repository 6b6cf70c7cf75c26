import test from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { runs } from '@kedge/testkit/fuzz.ts';
import { meterReadings, toBatches } from '@kedge/scripts/bench/meter-data.ts';
import { CodecError, type Batch } from './batch.ts';
import { COMPACT_MAGIC, COMPACT_VERSION, compactCodec } from './compact.ts';

const batch: Batch = {
  gateway: 'kem-01',
  first: 10,
  last: 15,
  evicted: [{ first: 12, last: 13 }],
  readings: [
    { seq: 10, point: 'wm/flow', ts: 1_764_064_800_000, value: 12.5, quality: 'good' },
    { seq: 11, point: 'wm/volume', ts: 1_764_064_800_000, value: 12345.678, quality: 'good' },
    { seq: 14, point: 'wm/flow', ts: 1_764_064_801_000, value: null, quality: 'bad_no_response' },
    { seq: 15, point: 'hm/energy', ts: 1_764_064_801_000, value: 2n ** 63n + 5n, quality: 'uncertain' },
  ],
};

test('a compact payload starts with magic 0xcb and version 1, then a raw deflate body', () => {
  const payload = compactCodec.encode(batch);
  assert.equal(payload[0], COMPACT_MAGIC);
  assert.equal(payload[1], COMPACT_VERSION);
  assert.deepStrictEqual(compactCodec.decode(payload), batch);
});

test('the reading sequence numbers are implied by first, last and the evicted ranges', () => {
  const decoded = compactCodec.decode(compactCodec.encode(batch));
  assert.deepEqual(
    decoded.readings.map((r) => r.seq),
    [10, 11, 14, 15],
  );
  assert.deepEqual(decoded.evicted, [{ first: 12, last: 13 }]);
});

test('an unknown version is refused by name rather than misread', () => {
  const payload = compactCodec.encode(batch);
  payload[1] = 3;
  assert.throws(() => compactCodec.decode(payload), {
    name: 'CodecError',
    message: 'compact: unsupported kedge-compact version 3 (this decoder reads 1 and 2)',
  });
});

test('a batch with a log epoch is version 2 and carries it; one without stays version 1, as older gateways send', () => {
  const withEpoch = compactCodec.encode({ ...batch, epoch: '9f2c4a1be0d37a55' });
  assert.equal(withEpoch[1], 2);
  assert.deepStrictEqual(compactCodec.decode(withEpoch), { ...batch, epoch: '9f2c4a1be0d37a55' });
  const old = compactCodec.encode(batch);
  assert.equal(old[1], 1);
  assert.equal(compactCodec.decode(old).epoch, undefined);
  assert.throws(() => compactCodec.encode({ ...batch, epoch: 'not an epoch!' }), { name: 'CodecError', message: /epoch "not an epoch!" must be/ });
});

test('a body that claims more readings than it holds is refused with what is wrong', () => {
  // gateway "g", first 1, last-first 0, no evicted, empty dictionary, 5 readings, then nothing.
  const body = Buffer.from([1, 0x67, 1, 0, 0, 0, 5]);
  const payload = Buffer.concat([Buffer.from([COMPACT_MAGIC, COMPACT_VERSION]), deflateRawSync(body)]);
  assert.throws(() => compactCodec.decode(payload), { name: 'CodecError', message: /reading count: 5 items cannot fit in the 0 bytes left/ });
});

test('fuzz: any deflated body behind a valid header decodes or throws only CodecError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const payload = Buffer.concat([Buffer.from([COMPACT_MAGIC, COMPACT_VERSION]), deflateRawSync(bytes)]);
      try {
        compactCodec.decode(payload);
      } catch (err) {
        assert.ok(err instanceof CodecError, `${(err as Error).name}: ${(err as Error).message}`);
      }
    }),
    { numRuns: runs(3000) },
  );
});

test('an hour of the simulated meters at 1 s takes at most 8 bytes per reading in batches of 500', () => {
  const readings = meterReadings({ durationMs: 3_600_000, intervalMs: 1000 });
  let bytes = 0;
  for (const b of toBatches('kem-demo-01', readings, 500)) bytes += compactCodec.encode(b).length;
  const perReading = bytes / readings.length;
  assert.ok(perReading <= 8, `compact needs ${perReading.toFixed(2)} bytes per reading`);
});
