/**
 * The codec registry: the names a sink config gives (uplinks[].codec) and what each writes.
 * `compact-v2` is the bridge to a center whose ingest predates kedge-compact version 3: its
 * payloads carry version byte 1 or 2, which such a center decodes, and never a live batch.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import type { LogRecord } from '../model.ts';
import { type Batch, CODECS, codecByName, COMPACT_MAGIC, compactCodec, compactV2Codec, detectCodec, jsonCodec, sparkplugCodec } from './index.ts';

const T0 = 1_700_000_000_000;
const readings = (first: number, last: number): LogRecord[] =>
  Array.from({ length: last - first + 1 }, (_, i) => ({ seq: first + i, point: `pump-${(first + i) % 3}/level`, ts: T0 + (first + i) * 1000, value: (first + i) / 8, quality: 'good' as const }));
const backlog = (epoch?: string): Batch => ({ gateway: 'gw1', ...(epoch !== undefined ? { epoch } : {}), first: 1, last: 12, evicted: [{ first: 4, last: 6 }], readings: readings(1, 12).filter((r) => r.seq < 4 || r.seq > 6) });

test('every codec name a sink config may give is registered, and an unknown one is refused naming the known ones', () => {
  assert.deepEqual(Object.keys(CODECS).sort(), ['compact', 'compact-v2', 'json', 'sparkplug']);
  assert.equal(codecByName('compact'), compactCodec);
  assert.equal(codecByName('compact-v2'), compactV2Codec);
  assert.equal(codecByName('json'), jsonCodec);
  assert.equal(codecByName('sparkplug'), sparkplugCodec);
  assert.throws(() => codecByName('compact-v4'), /unknown uplink codec "compact-v4" \(known: json, compact, compact-v2, sparkplug\)/);
});

test('compact-v2 writes kedge-compact version 2 (version 1 without an epoch), which the ingest decodes back', () => {
  const codec = codecByName('compact-v2');
  const withEpoch = codec.encode(backlog('e-2026-12-01'));
  assert.deepEqual([...withEpoch.subarray(0, 2)], [COMPACT_MAGIC, 2], 'magic, then version 2: what a center before version 3 reads');
  assert.deepEqual(detectCodec(withEpoch).decode(withEpoch), backlog('e-2026-12-01'));
  const withoutEpoch = codec.encode(backlog());
  assert.deepEqual([...withoutEpoch.subarray(0, 2)], [COMPACT_MAGIC, 1], 'a batch without an epoch stays version 1');
  assert.deepEqual(detectCodec(withoutEpoch).decode(withoutEpoch), backlog());
  // The default codec writes version 3, which that center refuses: the reason compact-v2 exists.
  assert.deepEqual([...codecByName('compact').encode(backlog('e1')).subarray(0, 2)], [COMPACT_MAGIC, 3]);
});

test('compact-v2 refuses a live batch by name instead of sending it as a backlog batch', () => {
  const live: Batch = { gateway: 'gw1', epoch: 'e1', live: true, first: 3, last: 9, evicted: [], readings: readings(3, 9).filter((r) => r.seq % 3 === 0) };
  assert.throws(() => codecByName('compact-v2').encode(live), /version 1\/2 cannot mark a live batch/);
  const v3 = codecByName('compact').encode(live);
  assert.equal(detectCodec(v3).decode(v3).live, true, 'version 3 carries it');
});
