import test from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { runs } from '@kedge/testkit/fuzz.ts';
import { meterReadings, toBatches } from '@kedge/testkit/sim/meter-data.ts';
import { batchProblem, CodecError, type Batch } from './batch.ts';
import { COMPACT_MAGIC, COMPACT_VERSION, COMPACT_VERSION_EPOCH, COMPACT_VERSION_POINTSET, compactCodec, compactV2Codec } from './compact.ts';
import { sparkplugCodec } from './sparkplug.ts';

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

test('a compact payload starts with magic 0xcb and version 3, then a raw deflate body', () => {
  const payload = compactCodec.encode(batch);
  assert.equal(payload[0], COMPACT_MAGIC);
  assert.equal(payload[1], COMPACT_VERSION_POINTSET);
  assert.deepStrictEqual(compactCodec.decode(payload), batch);
});

test('the reading sequence numbers are implied by first, last and the evicted ranges', () => {
  for (const codec of [compactCodec, compactV2Codec]) {
    const decoded = codec.decode(codec.encode(batch));
    assert.deepEqual(
      decoded.readings.map((r) => r.seq),
      [10, 11, 14, 15],
    );
    assert.deepEqual(decoded.evicted, [{ first: 12, last: 13 }]);
  }
});

test('an unknown version is refused by name rather than misread', () => {
  const payload = compactCodec.encode(batch);
  payload[1] = 4;
  assert.throws(() => compactCodec.decode(payload), {
    name: 'CodecError',
    message: 'compact: unsupported kedge-compact version 4 (this decoder reads 1, 2, 3)',
  });
});

test('old gateways: version 2 carries the log epoch, version 1 has none, and both still decode', () => {
  const withEpoch = compactV2Codec.encode({ ...batch, epoch: '9f2c4a1be0d37a55' });
  assert.equal(withEpoch[1], COMPACT_VERSION_EPOCH);
  assert.deepStrictEqual(compactCodec.decode(withEpoch), { ...batch, epoch: '9f2c4a1be0d37a55' });
  const old = compactV2Codec.encode(batch);
  assert.equal(old[1], COMPACT_VERSION);
  assert.equal(compactCodec.decode(old).epoch, undefined);
  assert.throws(() => compactCodec.encode({ ...batch, epoch: 'not an epoch!' }), { name: 'CodecError', message: /epoch "not an epoch!" must be/ });
});

test('a payload written by a version 2 gateway of the field decodes byte for byte as it did', () => {
  // Version 2, gateway "g", epoch "e", first 5, one reading of point "d/p" = 7 at ts 1000.
  const body = Buffer.from([1, 0x67, 1, 0x65, 5, 0, 0, 1, 3, 0x64, 0x2f, 0x70, 1, 0, 0xd0, 0x0f, 1, 0, 1, 1, 3, 1, 14]);
  const payload = Buffer.concat([Buffer.from([COMPACT_MAGIC, COMPACT_VERSION_EPOCH]), deflateRawSync(body)]);
  assert.deepStrictEqual(compactCodec.decode(payload), {
    gateway: 'g',
    epoch: 'e',
    first: 5,
    last: 5,
    evicted: [],
    readings: [{ seq: 5, point: 'd/p', ts: 1000, value: 7, quality: 'good' }],
  });
});

test('a live batch carries its sparse sequence numbers and its mark; version 2 and Sparkplug refuse it by name', () => {
  const live: Batch = {
    gateway: 'kem-01',
    epoch: 'e1',
    live: true,
    first: 100,
    last: 5000,
    evicted: [],
    readings: [
      { seq: 100, point: 'wm/flow', ts: 1_764_064_800_000, value: 12.5, quality: 'good' },
      { seq: 4096, point: 'wm/volume', ts: 1_764_064_800_000, value: 12345, quality: 'good' },
      { seq: 5000, point: 'river/level', ts: 1_764_064_801_000, value: 212, quality: 'good' },
    ],
  };
  assert.deepStrictEqual(compactCodec.decode(compactCodec.encode(live)), live);
  assert.throws(() => compactV2Codec.encode(live), { name: 'CodecError', message: /version 1\/2 cannot mark a live batch/ });
  assert.throws(() => sparkplugCodec.encode(live), { name: 'CodecError', message: /a live batch cannot be carried/ });
});

test('live batches are checked by their own rules: ascending, unique, first/last match, nothing evicted', () => {
  const r = (seq: number) => ({ seq, point: 'a/b', ts: 0, value: 1, quality: 'good' as const });
  const base = { gateway: 'g', live: true as const, evicted: [] };
  assert.equal(batchProblem({ ...base, first: 3, last: 90, readings: [r(3), r(40), r(90)] }), null);
  assert.match(batchProblem({ ...base, first: 3, last: 90, readings: [r(3), r(90), r(40)] })!, /reading seq 40 is not above the previous 90/);
  assert.match(batchProblem({ ...base, first: 3, last: 90, readings: [r(3), r(3), r(90)] })!, /reading seq 3 is not above the previous 3/);
  assert.match(batchProblem({ ...base, first: 2, last: 90, readings: [r(3), r(90)] })!, /first = 2 but its lowest reading is 3/);
  assert.match(batchProblem({ ...base, first: 3, last: 91, readings: [r(3), r(90)] })!, /last = 91 but its highest reading is 90/);
  assert.match(batchProblem({ ...base, first: 3, last: 90, readings: [] })!, /a live batch without readings/);
  assert.match(batchProblem({ ...base, first: 3, last: 90, evicted: [{ first: 4, last: 39 }], readings: [r(3), r(90)] })!, /reports 1 evicted ranges/);
  // The same sparse readings without the mark are a backlog batch with holes: refused.
  assert.match(batchProblem({ gateway: 'g', evicted: [], first: 3, last: 90, readings: [r(3), r(40), r(90)] })!, /reading seq 40 out of place: expected 4/);
});

test('a version 3 body with what cannot be refuses it by name', () => {
  const v3 = (body: number[]) => Buffer.concat([Buffer.from([COMPACT_MAGIC, COMPACT_VERSION_POINTSET]), deflateRawSync(Buffer.from(body))]);
  // gateway "g", flags with an unknown bit.
  assert.throws(() => compactCodec.decode(v3([1, 0x67, 0x04])), { name: 'CodecError', message: /unknown flags 0x4/ });
  // gateway "g", live flag, first 1, last-first 0, one evicted range: a live batch never has one.
  assert.throws(() => compactCodec.decode(v3([1, 0x67, 0x02, 1, 0, 1, 0, 0])), { name: 'CodecError', message: /a live batch reports 1 evicted ranges/ });
  // gateway "g", no flags, first 1, last-first 0, no evicted, 1 key: device mark 2, a reference to device 4 of an empty table.
  assert.throws(() => compactCodec.decode(v3([1, 0x67, 0, 1, 0, 0, 1, 2, 5, 0])), { name: 'CodecError', message: /device reference 4: the table has 0/ });
  // A dictionary claiming a billion keys from a few bytes: refused before anything is allocated.
  assert.throws(() => compactCodec.decode(v3([1, 0x67, 0, 1, 0, 0, 0x80, 0x94, 0xeb, 0xdc, 0x03, 1])), {
    name: 'CodecError',
    message: /point dictionary size: 1000000000 items cannot fit/,
  });
  // Key "d7" as stem "d" with a number 12 that does not fit the 1 digit it claims.
  assert.throws(() => compactCodec.decode(v3([1, 0x67, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0x64, 1, 24])), { name: 'CodecError', message: /number 12 does not fit 1 digits/ });
});

test('scaled registers (raw x 0.1, x 0.001) travel as their integers: one poll of 2,000 takes a few bytes each, not a float64', () => {
  let raw = 12345;
  const readings = Array.from({ length: 2000 }, (_, i) => {
    raw = (raw * 1103515245 + 12345) % 2 ** 31;
    return { seq: i + 1, point: `tank-${i >> 2}/level${i & 3}`, ts: 1_764_064_800_000, value: (raw % 4000) * (i % 2 ? 0.1 : 0.001), quality: 'good' as const };
  });
  const poll: Batch = { gateway: 'kem-01', epoch: 'e1', first: 1, last: 2000, evicted: [], readings };
  const payload = compactCodec.encode(poll);
  assert.deepStrictEqual(compactCodec.decode(payload), poll);
  // 12 bits of information a reading; as float64 byte planes they took about 6 bytes.
  assert.ok(payload.length / 2000 < 3, `${(payload.length / 2000).toFixed(2)} B/reading`);
  assert.ok(compactV2Codec.encode(poll).length / 2000 > 5, 'version 2 spends a float64 on each');
});

test('a body that inflates beyond 64 MiB is refused, not inflated', () => {
  const bomb = Buffer.concat([Buffer.from([COMPACT_MAGIC, COMPACT_VERSION_POINTSET]), deflateRawSync(Buffer.alloc(65 * 1024 * 1024))]);
  assert.throws(() => compactCodec.decode(bomb), { name: 'CodecError', message: /body does not inflate/ });
});

test('a body that claims more readings than it holds is refused with what is wrong', () => {
  // gateway "g", first 1, last-first 0, no evicted, empty dictionary, 5 readings, then nothing.
  const body = Buffer.from([1, 0x67, 1, 0, 0, 0, 5]);
  const payload = Buffer.concat([Buffer.from([COMPACT_MAGIC, COMPACT_VERSION]), deflateRawSync(body)]);
  assert.throws(() => compactCodec.decode(payload), { name: 'CodecError', message: /reading count: 5 items cannot fit in the 0 bytes left/ });
});

test('fuzz: any deflated body behind a valid header of any version decodes or throws only CodecError', () => {
  fc.assert(
    fc.property(fc.constantFrom(COMPACT_VERSION, COMPACT_VERSION_EPOCH, COMPACT_VERSION_POINTSET), fc.uint8Array({ maxLength: 200 }), (version, bytes) => {
      const payload = Buffer.concat([Buffer.from([COMPACT_MAGIC, version]), deflateRawSync(bytes)]);
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

test('the point dictionary stays right when the point order changes from batch to batch (keys remembered across batches)', () => {
  // The encoder predicts each reading's key from the one that followed the previous key in
  // earlier batches, and numbers the names (shared by devices) per batch: orders that break,
  // repeat and reverse that chain, with ints, float32 and float64 values, decode as sent.
  const keys = ['a/p1', 'a/p2', 'b/p1', 'b/p2', 'c/x'];
  const orders = [
    [0, 1, 2, 3, 4],
    [0, 1, 2, 3, 4, 0, 1],
    [4, 3, 2, 1, 0],
    [2, 0, 2, 4, 2],
    [0, 1, 2, 3, 4],
    [1],
  ];
  let seq = 1;
  for (const order of orders) {
    const readings = order.map((k, i) => ({ seq: seq + i, point: keys[k]!, ts: 1_764_064_800_000 + i, value: [k * 10 + i, k * 10 + i + 0.25, (k + 1) * 0.1 + i * 1e-7][i % 3]!, quality: 'good' as const }));
    const b: Batch = { gateway: 'kem-01', first: seq, last: seq + order.length - 1, evicted: [], readings };
    seq += order.length;
    assert.deepStrictEqual(compactCodec.decode(compactCodec.encode(b)), b, `order ${order.join(',')}`);
  }
});
