/** Config of the HTTP(S) POST sink (one `uplinks:` entry of kind http; README "Uplinks"). */
import { z } from 'zod';
import { checkLiveFirstCodec, liveFirstFor, liveFirstOption } from '../live-first-codec.ts';
import { checkMinMax, int, sinkNameSchema, strict, tlsSchema, windowShape } from '../schema-kit.ts';

const httpUrl = z.string().superRefine((v, ctx) => {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a URL; expected e.g. https://scada.city.example.ru/kedge/batches` });
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    ctx.addIssue({ code: 'custom', message: `protocol must be http: or https: (got ${url.protocol})` });
  }
  if (url.username || url.password) {
    ctx.addIssue({ code: 'custom', message: 'credentials do not belong in the URL (they would show in logs): use tokenFile or a client certificate (tls)' });
  }
});

/** Headers the sink sets itself; a config must not override them. */
const OWN_HEADERS = new Set(['authorization', 'content-type', 'content-length', 'idempotency-key', 'host', 'transfer-encoding', 'connection']);

export const httpSinkSchema = strict({
  kind: z.literal('http'),
  name: sinkNameSchema,
  url: httpUrl,
  // The body of each POST: one batch in this codec; Content-Type follows it. compact-v2:
  // kedge-compact version 1/2 for a center not yet upgraded (live first off: it cannot mark live batches).
  codec: z.enum(['json', 'compact', 'compact-v2']).default('json'),
  // File holding a bearer token (in the secrets folders, mode 0600): `Authorization: Bearer <token>`.
  tokenFile: z.string().min(1).optional(),
  headers: z
    .record(z.string().regex(/^[A-Za-z0-9-]{1,64}$/, { error: 'must be a header name (letters, digits, "-")' }), z.string().max(1024))
    .superRefine((h, ctx) => {
      for (const k of Object.keys(h)) {
        if (OWN_HEADERS.has(k.toLowerCase())) ctx.addIssue({ code: 'custom', path: [k], message: `${k} is set by the sink itself (for a token use tokenFile)` });
      }
    })
    .optional(),
  ...windowShape,
  // HTTP requests are answered one by one: a couple in flight keep a slow link busy.
  inflight: int(1, 16).default(2),
  // A POST without a response status this long has failed (sent again from the cursor).
  timeoutMs: int(1000, 600_000).default(30_000),
  // After a refusal (4xx other than 408/429) the next attempt waits this long; nothing is dropped.
  refusedRetryMs: int(1000, 86_400_000).default(300_000),
  // A Retry-After (429, 503) is honoured up to this long.
  maxRetryAfterMs: int(0, 86_400_000).default(600_000),
  tls: tlsSchema.optional(),
  // Default on, off with codec compact-v2 (north/live-first-codec.ts).
  liveFirst: liveFirstOption,
})
  .superRefine((v, ctx) => checkMinMax(v, ctx, 'reconnectMinMs', 'reconnectMaxMs'))
  .superRefine(checkLiveFirstCodec)
  .transform((v) => ({ ...v, liveFirst: liveFirstFor(v.codec, v.liveFirst) }));

export type HttpSinkConfig = z.output<typeof httpSinkSchema>;
