import { CodecError, type Codec } from './batch.ts';
import { COMPACT_MAGIC, compactCodec } from './compact.ts';
import { jsonCodec } from './json.ts';
import { sparkplugCodec } from './sparkplug.ts';

/**
 * Which codec wrote a payload, from its first byte, so one ingest serves a fleet that migrates
 * gateway by gateway: JSON opens with '{' (after optional whitespace), kedge-compact with its
 * magic byte 0xcb, and a Sparkplug B payload with a protobuf tag of its fields 1..5
 * (0x08 timestamp, 0x12 metrics, 0x18 seq, 0x22 uuid, 0x2a body).
 */
export function detectCodec(payload: Buffer): Codec {
  let i = 0;
  while (i < payload.length && (payload[i] === 0x20 || payload[i] === 0x0a || payload[i] === 0x0d || payload[i] === 0x09)) i++;
  const b = payload[i];
  if (b === 0x7b) return jsonCodec;
  if (i === 0 && b === COMPACT_MAGIC) return compactCodec;
  if (i === 0 && (b === 0x08 || b === 0x12 || b === 0x18 || b === 0x22 || b === 0x2a)) return sparkplugCodec;
  const what = b === undefined ? 'empty payload' : `first byte 0x${b.toString(16).padStart(2, '0')}`;
  throw new CodecError('detect', `unknown payload format (${what}): expected JSON '{', kedge-compact 0xcb or a Sparkplug B protobuf`);
}

/** Decodes a payload of any known codec. */
export const autoCodec: Codec = {
  name: 'auto',
  contentType: 'application/octet-stream',
  encode() {
    throw new Error('the auto codec only decodes: pick a concrete codec to encode');
  },
  decode(payload: Buffer) {
    return detectCodec(payload).decode(payload);
  },
};
