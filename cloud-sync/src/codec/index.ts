import type { Codec } from './batch.ts';
import { jsonCodec } from './json.ts';

export type { Batch, Codec } from './batch.ts';
export { CodecError, batchProblem } from './batch.ts';
export { jsonCodec } from './json.ts';

export const CODECS: Record<string, Codec> = { json: jsonCodec };

export function codecByName(name: string): Codec {
  const codec = CODECS[name];
  if (!codec) throw new Error(`unknown uplink codec "${name}" (known: ${Object.keys(CODECS).join(', ')})`);
  return codec;
}
