/**
 * One string instance per distinct short value in a parsed config (issue 20: heap per point).
 * The YAML parser and zod hand every scalar over as its own string, so 10,000 points carry
 * 10,000 copies each of "holding", "uint16" and of ids such as "r7" repeated on every device,
 * ~20-30 bytes apiece, for as long as the config is in force (and in every structure built
 * from it: plans, driver point refs). Values are unchanged; only duplicates are dropped.
 */

/** Strings longer than this (paths, descriptions, PEM text) are rarely repeated: left alone. */
export const INTERN_MAX_LENGTH = 64;

/**
 * Replaces, in place, every string of at most INTERN_MAX_LENGTH characters in plain objects
 * and arrays under `root` by the first equal instance met; returns `root`. Cycles are walked once.
 */
export function internStrings<T>(root: T): T {
  const seen = new Map<string, string>();
  const visited = new Set<object>();
  const canonical = (s: string): string => {
    if (s.length > INTERN_MAX_LENGTH) return s;
    const c = seen.get(s);
    if (c !== undefined) return c;
    seen.set(s, s);
    return s;
  };
  const walk = (v: unknown): void => {
    if (v === null || typeof v !== 'object' || visited.has(v)) return;
    visited.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x: unknown = v[i];
        if (typeof x === 'string') v[i] = canonical(x);
        else walk(x);
      }
      return;
    }
    // Only plain data: a class instance (a Date, a URL, a Buffer) keeps its own representation.
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) return;
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      const x = o[k];
      if (typeof x === 'string') {
        // Always written: equal strings compare === whatever their instance, so no test can say
        // whether this one is the canonical. A read-only property (a frozen default) is skipped.
        if (Object.getOwnPropertyDescriptor(o, k)?.writable) o[k] = canonical(x);
      } else walk(x);
    }
  };
  walk(root);
  return root;
}
