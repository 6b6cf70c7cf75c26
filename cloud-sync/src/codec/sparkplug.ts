import type { LogRecord, SeqRange } from '../model.ts';
import { dataTypeFor, decodePayload, encodePayload } from './sparkplug-payload.ts';
import { batchProblem, CodecError, type Batch, type Codec } from './batch.ts';

/**
 * A kedge batch as ONE Sparkplug B payload: one metric per reading, named by its point key,
 * with its own timestamp, datatype, value (is_null for null) and a Quality property when not
 * good. The kedge sequence range travels in the payload's `uuid`/`body` (Sparkplug's slot for
 * custom payloads), so the center can still dedupe and report gaps.
 *
 * This is what the ingest decodes on kedge topics and what the property tests prove. The
 * Sparkplug *uplink* (spBv1.0 topics, births, aliases) is a separate class in north/sparkplug/.
 */
export const SPARKPLUG_BATCH_UUID = 'kedge-batch/1';
const NAME = 'sparkplug';

interface Envelope {
  gateway: string;
  first: number;
  last: number;
  evicted: SeqRange[];
}

function parseEnvelope(body: Buffer | undefined): Envelope {
  if (!body) throw new CodecError(NAME, 'body with the kedge sequence range is missing');
  let e: unknown;
  try {
    e = JSON.parse(body.toString('utf8'));
  } catch {
    throw new CodecError(NAME, 'body is not JSON');
  }
  const isInt = (x: unknown): x is number => Number.isSafeInteger(x);
  const o = e as Partial<Envelope> | null;
  if (typeof o !== 'object' || o === null) throw new CodecError(NAME, 'body is not an object');
  if (typeof o.gateway !== 'string' || o.gateway.length === 0) throw new CodecError(NAME, 'body.gateway must be a non-empty string');
  if (!isInt(o.first) || !isInt(o.last)) throw new CodecError(NAME, 'body.first and body.last must be integers');
  if (!Array.isArray(o.evicted) || !o.evicted.every((r: unknown) => isInt((r as SeqRange)?.first) && isInt((r as SeqRange)?.last))) {
    throw new CodecError(NAME, 'body.evicted must be a list of {first, last}');
  }
  return { gateway: o.gateway, first: o.first, last: o.last, evicted: o.evicted.map((r) => ({ first: r.first, last: r.last })) };
}

export const sparkplugCodec: Codec = {
  name: NAME,
  contentType: 'application/vnd.sparkplug.b',
  encode(b: Batch): Buffer {
    const problem = batchProblem(b);
    if (problem) throw new CodecError(NAME, `cannot encode an invalid batch: ${problem}`);
    // Metrics carry no sequence numbers (they are implied by first..last): a live batch's
    // sparse ones cannot travel, and sending it as a backlog batch would misreport it.
    if (b.live) throw new CodecError(NAME, 'a live batch cannot be carried (sequences are implied); use compact or json for the live lane');
    for (const r of b.readings) {
      if (r.ts < 0) throw new CodecError(NAME, `reading ${r.seq}: Sparkplug timestamps are unsigned, got ${r.ts}`);
    }
    const envelope: Envelope = { gateway: b.gateway, first: b.first, last: b.last, evicted: b.evicted };
    return encodePayload({
      uuid: SPARKPLUG_BATCH_UUID,
      body: Buffer.from(JSON.stringify(envelope)),
      metrics: b.readings.map((r) => ({
        name: r.point,
        timestamp: r.ts,
        datatype: dataTypeFor(r.value),
        value: r.value,
        quality: r.quality,
      })),
    });
  },
  decode(payload: Buffer): Batch {
    const p = decodePayload(payload);
    if (p.uuid !== SPARKPLUG_BATCH_UUID) throw new CodecError(NAME, `uuid must be "${SPARKPLUG_BATCH_UUID}" (got ${JSON.stringify(p.uuid ?? null)})`);
    const env = parseEnvelope(p.body);
    const evicted = [...env.evicted].sort((x, y) => x.first - y.first);
    let seq = env.first;
    let e = 0;
    const readings: LogRecord[] = p.metrics.map((m, i) => {
      if (!m.name) throw new CodecError(NAME, `metric #${i} has no name`);
      if (m.timestamp === undefined) throw new CodecError(NAME, `metric ${m.name} (#${i}) has no timestamp`);
      while (e < evicted.length && evicted[e]!.first === seq) seq = evicted[e++]!.last + 1;
      return { seq: seq++, point: m.name, ts: m.timestamp, value: m.value, quality: m.quality ?? 'good' };
    });
    const batch: Batch = { gateway: env.gateway, first: env.first, last: env.last, evicted: env.evicted, readings };
    const problem = batchProblem(batch);
    if (problem) throw new CodecError(NAME, problem);
    return batch;
  },
};
