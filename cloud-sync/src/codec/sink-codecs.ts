import type { Codec } from './batch.ts';
import { compactCodec, compactV2Codec } from './compact.ts';
import { jsonCodec } from './json.ts';

/**
 * The codecs a kedge or HTTP sink encodes batches with, by the name its config gives, without
 * the Sparkplug codec of index.ts CODECS: that one loads protobufjs, which a box without a
 * Sparkplug uplink must not carry (the Sparkplug sink has its own payloads).
 */
export const SINK_CODECS = { json: jsonCodec, compact: compactCodec, 'compact-v2': compactV2Codec } as const satisfies Record<string, Codec>;

export function sinkCodecByName(name: keyof typeof SINK_CODECS): Codec {
  const codec = SINK_CODECS[name];
  if (!codec) throw new Error(`unknown uplink codec "${String(name)}" (known: ${Object.keys(SINK_CODECS).join(', ')})`);
  return codec;
}
