/**
 * Reads profiles from device-profiles/profiles/<name>.yaml and reports problems as
 * `file:line:column path: message`, like the gateway's config loader.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { PROFILE_NAME_PATTERN, profileSchema, type Profile } from './schema.ts';

export const PROFILES_DIR = fileURLToPath(new URL('../profiles/', import.meta.url));

export interface ProfileIssue {
  path: string;
  line?: number;
  column?: number;
  message: string;
}

export class ProfileError extends Error {
  override name = 'ProfileError';
  constructor(
    readonly source: string,
    readonly issues: ProfileIssue[],
  ) {
    const sorted = [...issues].sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0));
    const lines = sorted.map((i) => {
      const where = i.line !== undefined ? `${source}:${i.line}:${i.column ?? 1}` : source;
      return `  ${where}${i.path ? ` ${i.path}` : ''}: ${i.message}`;
    });
    super([`Invalid profile ${source}: ${sorted.length} ${sorted.length === 1 ? 'problem' : 'problems'}`, ...lines].join('\n'));
    this.issues = sorted;
  }
}

type Seg = string | number;

function formatPath(path: readonly Seg[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

/** Offset of the deepest existing node on `path`: a missing key is reported at its parent. */
function offsetOf(doc: Document, path: readonly Seg[], atKey: boolean): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const parent = n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
    const last = path[n - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(last));
      if (!pair) continue;
      const key = isNode(pair.key) ? pair.key.range?.[0] : undefined;
      const value = isNode(pair.value) && isScalar(pair.value) ? pair.value.range?.[0] : undefined;
      return atKey && n === path.length ? key : (value ?? key);
    }
    if (isSeq(parent) && typeof last === 'number') {
      const item = parent.items[last];
      if (isNode(item)) return item.range?.[0];
    }
  }
  return isNode(doc.contents) ? doc.contents.range?.[0] : undefined;
}

const errorMap: z.core.$ZodErrorMap = (iss) => {
  if (iss.code === 'invalid_type' && iss.input === undefined) return 'required field is missing';
  if (iss.code === 'invalid_value' && iss.values.length > 1) {
    return `must be one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')} (got ${JSON.stringify(iss.input)})`;
  }
  return undefined;
};

/** Parses and validates one profile text; `source` names it in messages. */
export function parseProfile(text: string, source = '<profile>'): Profile {
  const lc = new LineCounter();
  const doc = parseDocument(text.replace(/^\uFEFF/, ''), { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const yamlProblems = [...doc.errors, ...doc.warnings];
  if (yamlProblems.length > 0) {
    throw new ProfileError(
      source,
      yamlProblems.map((e) => {
        const { line, col } = lc.linePos(e.pos[0]);
        return { path: '', line, column: col, message: `YAML: ${e.message.split('\n')[0]}` };
      }),
    );
  }
  const result = profileSchema.safeParse(doc.toJS(), { error: errorMap });
  if (result.success) return result.data;
  const issues: ProfileIssue[] = [];
  for (const iss of result.error.issues) {
    const path = iss.path.filter((s): s is Seg => typeof s === 'string' || typeof s === 'number');
    const paths = iss.code === 'unrecognized_keys' ? iss.keys.map((k) => [...path, k]) : [path];
    for (const p of paths) {
      const offset = offsetOf(doc, p, iss.code === 'unrecognized_keys');
      const pos = offset !== undefined ? lc.linePos(offset) : undefined;
      const message = iss.code === 'unrecognized_keys' ? `unknown key "${String(p[p.length - 1])}"` : iss.message;
      issues.push({ path: formatPath(p), ...(pos && { line: pos.line, column: pos.col }), message });
    }
  }
  throw new ProfileError(source, issues);
}

/** Synchronous, like the gateway's config parsing that resolves `profile:` references. */
export function loadProfileFile(path: string): Profile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ProfileError(path, [{ path: '', message: `cannot read profile: ${(err as Error).message}` }]);
  }
  const profile = parseProfile(text, path);
  const expected = `${profile.name}.yaml`;
  if (!resolve(path).endsWith(`/${expected}`)) {
    throw new ProfileError(path, [{ path: 'name', message: `profile "${profile.name}" must live in a file named ${expected}, so it can be found by name` }]);
  }
  return profile;
}

/** Loads `<dir>/<name>.yaml`; a missing profile says which exist. */
export function loadProfile(name: string, dir = PROFILES_DIR): Profile {
  if (!PROFILE_NAME_PATTERN.test(name)) {
    throw new ProfileError(name, [{ path: '', message: `"${name}" is not a profile name (${PROFILE_NAME_PATTERN.source})` }]);
  }
  const file = join(dir, `${name}.yaml`);
  if (!existsSync(file)) {
    const known = listProfiles(dir);
    throw new ProfileError(name, [{ path: '', message: `no profile "${name}" in ${dir} (known: ${known.join(', ') || 'none'})` }]);
  }
  return loadProfileFile(file);
}

export function listProfiles(dir = PROFILES_DIR): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).sort();
  } catch {
    return [];
  }
}
