import type { Codec } from './batch.ts';
import { compactCodec, compactV2Codec } from './compact.ts';
import { jsonCodec } from './json.ts';
import { sparkplugCodec } from './sparkplug.ts';

export type { Batch, Codec } from './batch.ts';
export { CodecError, batchProblem } from './batch.ts';
export { jsonCodec } from './json.ts';
export { compactCodec, compactV2Codec, COMPACT_MAGIC, COMPACT_VERSION, COMPACT_VERSION_POINTSET } from './compact.ts';
export { sparkplugCodec, SPARKPLUG_BATCH_UUID } from './sparkplug.ts';
export { detectCodec, autoCodec } from './detect.ts';

/**
 * By the name a sink config gives. `compact-v2` writes kedge-compact version 1/2, for a center
 * not yet upgraded to version 3 (COMPACT.md "Rollout"); it cannot mark a live batch, so the
 * sink schemas turn live first off with it (north/live-first-codec.ts).
 */
export const CODECS: Record<string, Codec> = { json: jsonCodec, compact: compactCodec, 'compact-v2': compactV2Codec, sparkplug: sparkplugCodec };

export function codecByName(name: string): Codec {
  const codec = CODECS[name];
  if (!codec) throw new Error(`unknown uplink codec "${name}" (known: ${Object.keys(CODECS).join(', ')})`);
  return codec;
}
