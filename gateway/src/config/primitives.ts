/**
 * The building blocks every config schema is made of: the gateway's own sections (schema.ts)
 * and each southbound driver's device schema (drivers/<driver>/schema.ts). Kept apart from
 * schema.ts so a driver can use them without importing the whole config (no import cycle).
 */
import { z } from 'zod';
import { normalizeUnit } from '@kedge/device-profiles/units.ts';
import { closest } from '@kedge/device-profiles/closest.ts';

export const ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export const idSchema = () =>
  z.string().regex(ID_PATTERN, {
    error:
      `must match ${ID_PATTERN.source} (lowercase latin letters, digits, "_" and "-", ` +
      'at most 64 chars) because it becomes part of MQTT topics',
  });

export const int = (min: number, max?: number) => {
  const s = z.number().int().min(min);
  return max === undefined ? s : s.max(max);
};

/** The known key closest to a mistyped one, if it is plausibly a typo. */
export function suggestKey(unknown: string, known: readonly string[]): string | undefined {
  return closest(unknown, known);
}

/**
 * Message for one unknown key. Zod reports all unknown keys of an object in one issue; the
 * message carries one line per key, in `keys` order, so the loader can split it into one
 * located problem per key.
 */
function unknownKeysMessage(keys: readonly string[], known: readonly string[]): string {
  return keys
    .map((k) => {
      const hint = suggestKey(k, known);
      return hint ? `unknown key "${k}" (did you mean "${hint}"?)` : `unknown key "${k}" (allowed: ${known.join(', ')})`;
    })
    .join('\n');
}

/**
 * Every object is strict: a typo such as `adress` must fail loudly instead of silently
 * falling back to a default and polling the wrong register for months.
 */
export function strict<T extends z.core.$ZodLooseShape>(shape: T) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? unknownKeysMessage(iss.keys, known) : undefined),
  });
}

export function checkMinMax(v: Record<string, unknown>, ctx: z.core.$RefinementCtx, minKey: string, maxKey: string): void {
  const min = v[minKey] as number;
  const max = v[maxKey] as number;
  if (min > max) {
    ctx.addIssue({ code: 'custom', path: [maxKey], message: `${maxKey} (${max}) must be >= ${minKey} (${min})` });
  }
}

/** A check to call on each item of a list in order: reports an id used before, naming where. */
export const uniqueIdCheck = (ctx: z.core.$RefinementCtx, kind: 'point' | 'device', path: PropertyKey[]) => {
  const seen = new Map<string, number>();
  return (id: string, i: number): void => {
    const first = seen.get(id);
    if (first !== undefined) {
      ctx.addIssue({ code: 'custom', path: [...path, i, 'id'], message: `duplicate ${kind} id "${id}" (also ${kind}s[${first}])` });
    } else {
      seen.set(id, i);
    }
  };
};

/** A unit as written by people ("°C", "kWh", "m³/h"), stored as its UCUM code ("Cel", "kW.h", "m3/h"). */
export const unitSchema = z.string().transform((v, ctx) => {
  const r = normalizeUnit(v);
  if (!r.ok) {
    ctx.addIssue({ code: 'custom', message: r.message });
    return z.NEVER;
  }
  return r.code;
});

/** How a failing device is retried: the wait doubles from minMs up to maxMs. */
export const backoffSchema = strict({
  minMs: int(0).default(1000),
  maxMs: int(0).default(60_000),
}).superRefine((v, ctx) => checkMinMax(v, ctx, 'minMs', 'maxMs'));
