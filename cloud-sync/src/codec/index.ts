import type { Codec } from './batch.ts';
import { compactCodec } from './compact.ts';
import { jsonCodec } from './json.ts';
import { sparkplugCodec } from './sparkplug.ts';

export type { Batch, Codec } from './batch.ts';
export { CodecError, batchProblem } from './batch.ts';
export { jsonCodec } from './json.ts';
export { compactCodec, compactV2Codec, COMPACT_MAGIC, COMPACT_VERSION, COMPACT_VERSION_POINTSET } from './compact.ts';
export { sparkplugCodec, SPARKPLUG_BATCH_UUID } from './sparkplug.ts';
export { detectCodec, autoCodec } from './detect.ts';

export const CODECS: Record<string, Codec> = { json: jsonCodec, compact: compactCodec, sparkplug: sparkplugCodec };

export function codecByName(name: string): Codec {
  const codec = CODECS[name];
  if (!codec) throw new Error(`unknown uplink codec "${name}" (known: ${Object.keys(CODECS).join(', ')})`);
  return codec;
}
