/**
 * Live first needs a codec that can mark a live batch (compact version 3, json). `compact-v2`
 * writes kedge-compact version 1/2 for a center not yet upgraded, which cannot: with it live
 * first is off by default, and asking for it is a config error rather than a sink that fails
 * on its first live batch (compactV2Codec refuses to encode one).
 */
import { z } from 'zod';

/** Codecs of a sink entry whose payloads cannot carry the live mark. */
const NO_LIVE_MARK = new Set(['compact-v2']);

/** `liveFirst` of a sink entry: unset means on, except with a codec that cannot mark live batches. */
export const liveFirstOption = z.boolean().optional();

export function checkLiveFirstCodec(v: { codec: string; liveFirst?: boolean | undefined }, ctx: z.core.$RefinementCtx): void {
  if (v.liveFirst === true && NO_LIVE_MARK.has(v.codec)) {
    ctx.addIssue({
      code: 'custom',
      path: ['liveFirst'],
      message: `codec ${v.codec} (kedge-compact version 1/2, for a center not yet upgraded) cannot mark a live batch: remove liveFirst: true, or upgrade the center and use codec compact`,
    });
  }
}

export function liveFirstFor(codec: string, liveFirst: boolean | undefined): boolean {
  return liveFirst ?? !NO_LIVE_MARK.has(codec);
}
