import { isMap, isScalar, isSeq, parseDocument, type Document, type Node, type Pair } from 'yaml';
import { brokerUrlAmbiguity, DEFAULT_BROKER_PORTS } from './broker-url.ts';
import { parseConfigDocument, type ConfigIssue as Issue } from './load.ts';
import { configShapeIssue } from './config-shape.ts';

/**
 * Secrets written inline in the config (the broker password, an OPC UA user's password) never
 * leave the box through the API: GET /api/config and GET /api/devices show this marker in their
 * place, and a change that sends the marker back keeps the stored value.
 */
export const SECRET_MARKER = '(secret: unchanged)';

/** In a URL's password (`mqtt://gw:<this>@host`) the marker must be URL-safe. */
export const URL_SECRET_MARKER = 'kedge-secret-unchanged';

/** Keys whose values are secrets wherever they sit in the config. */
const SECRET_KEYS = new Set(['password']);
/**
 * Keys of maps whose every value is a secret: an HTTP sink's extra request `headers` carry a
 * receiver's API key as often as a tenant id (cloud-sync/src/north/http/schema.ts).
 */
const SECRET_MAP_KEYS = new Set(['headers']);
/** Keys whose values are URLs that may carry a password (`uplink.url`). */
const URL_KEYS = new Set(['url']);

/** The password inside a URL, or null. */
function urlPassword(value: unknown): string | null {
  if (typeof value !== 'string' || !value.includes('@')) return null;
  try {
    const u = new URL(value);
    return u.password ? decodeURIComponent(u.password) : null;
  } catch {
    return null;
  }
}

function withUrlPassword(value: string, password: string): string {
  const u = new URL(value);
  u.password = password;
  return u.toString().replace(/\/$/, value.endsWith('/') ? '/' : '');
}

type Segment = string | number;

/**
 * Visits every secret pair with a path that survives reordering: list items that have an
 * `id` (devices, points) are named by it, so a marker is never filled in from another device.
 */
type Visit = (pair: Pair<unknown, unknown>, path: string, kind: 'value' | 'url') => void;

function walk(node: unknown, path: Segment[], fn: Visit): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const at = [...path, key];
      if (SECRET_KEYS.has(key) && (isScalar(pair.value) || pair.value === null)) fn(pair, formatPath(at), 'value');
      else if (URL_KEYS.has(key) && isScalar(pair.value)) fn(pair, formatPath(at), 'url');
      else if (SECRET_MAP_KEYS.has(key) && isMap(pair.value)) {
        for (const inner of pair.value.items) {
          const name = isScalar(inner.key) ? String(inner.key.value) : String(inner.key);
          if (isScalar(inner.value) || inner.value === null) fn(inner, formatPath([...at, name]), 'value');
        }
      } else walk(pair.value, at, fn);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      // Devices and points are named by id, uplinks by name: a reordered list keeps its secrets.
      const id = isMap(item) ? item.get('id') : undefined;
      const name = isMap(item) ? item.get('name') : undefined;
      walk(item, [...path, typeof id === 'string' ? `id=${id}` : typeof name === 'string' ? `name=${name}` : i], fn);
    });
  }
}

function formatPath(path: Segment[]): string {
  return path.map((s, i) => (typeof s === 'number' || s.startsWith('id=') || s.startsWith('name=') ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

/** In text that does not parse: every value in a `headers:` block (lines indented below it) masked. */
function maskHeaderBlocks(text: string): string {
  let blockIndent = -1;
  return text
    .split('\n')
    .map((line) => {
      const indent = line.length - line.trimStart().length;
      if (blockIndent >= 0 && line.trim() !== '' && indent > blockIndent) return line.replace(/^(\s*[^:\s]+\s*:\s*)(\S.*)$/, `$1"${SECRET_MARKER}"`);
      blockIndent = -1;
      const header = /^(\s*(?:-\s+)?)headers\s*:\s*(.*)$/.exec(line);
      if (!header) return line;
      // Inline flow map ({ X-Api-Key: abc }): every value masked on the line itself.
      if (header[2]!.startsWith('{')) return line.replace(/([{,]\s*[^:{},\s]+\s*:\s*)([^,}]+)/g, `$1"${SECRET_MARKER}"`);
      blockIndent = header[1]!.length;
      return line;
    })
    .join('\n');
}

/** The config text with every inline secret replaced by the marker (comments and layout kept). */
export function redactConfigText(text: string): string {
  // Too long or too deep for the parser (config-shape.ts): masked line by line like a broken file.
  const doc = configShapeIssue(text) === null ? parseDocument(text) : undefined;
  if (doc === undefined || doc.errors.length > 0) {
    // Broken on disk (hand-edited): still shown so it can be repaired, secrets masked line by line.
    return maskHeaderBlocks(text)
      .replace(/(\bpassword\s*:\s*)([^\s,}][^,}\n]*)/g, `$1"${SECRET_MARKER}"`)
      .replace(/\/\/([^:/@\s]+):([^@/\s]+)@/g, `//$1:${URL_SECRET_MARKER}@`);
  }
  walk(doc.contents, [], (pair, _path, kind) => {
    if (!isScalar(pair.value)) return;
    if (kind === 'url') {
      if (urlPassword(pair.value.value) !== null) pair.value.value = redactUrl(String(pair.value.value));
    } else if (pair.value.value !== null && pair.value.value !== '') pair.value.value = SECRET_MARKER;
  });
  return doc.toString();
}

/** A URL with its password (if any) replaced by the URL-safe marker. */
export function redactUrl(url: string): string {
  return urlPassword(url) === null ? url : withUrlPassword(url, URL_SECRET_MARKER);
}

/** A plain object (a device as in the file) with its inline secrets replaced by the marker. */
export function redactObject<T>(value: T): T {
  if (Array.isArray(value)) return value.map(redactObject) as T;
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      SECRET_KEYS.has(k) && typeof v === 'string' && v !== ''
        ? SECRET_MARKER
        : SECRET_MAP_KEYS.has(k) && v !== null && typeof v === 'object' && !Array.isArray(v)
          ? Object.fromEntries(Object.entries(v).map(([h, s]) => [h, typeof s === 'string' && s !== '' ? SECRET_MARKER : s]))
          : redactObject(v),
    ]),
  ) as T;
}

/**
 * Puts the stored value back wherever `next` carries the marker, from `before` (the file as it
 * is). Returns the issues: a marker where the current file has no secret cannot be resolved.
 */
export function restoreSecrets(next: Document, before: string): { issues: Issue[]; restored: string[] } {
  const stored = new Map<string, Node | null>();
  const old = parseConfigDocument(before, 'the config file');
  walk(old.contents, [], (pair, path) => stored.set(path, (pair.value as Node | null) ?? null));
  const issues: Issue[] = [];
  const restored: string[] = [];
  walk(next.contents, [], (pair, path, kind) => {
    if (!isScalar(pair.value)) return;
    const value = stored.get(path);
    const old = value && isScalar(value) ? value.value : undefined;
    if (kind === 'url') {
      if (urlPassword(pair.value.value) !== URL_SECRET_MARKER) return;
      const oldPassword = urlPassword(old);
      if (oldPassword !== null && oldPassword !== URL_SECRET_MARKER) {
        pair.value.value = withUrlPassword(String(pair.value.value), oldPassword);
        restored.push(path);
      } else issues.push({ path, message: `carries the password "${URL_SECRET_MARKER}" but the current config has no password in this URL to keep: type it` });
      return;
    }
    if (pair.value.value !== SECRET_MARKER) return;
    if (old !== undefined && old !== null && old !== SECRET_MARKER) {
      pair.value.value = old;
      restored.push(path);
    } else issues.push({ path, message: `is "${SECRET_MARKER}" but the current config has no secret here to keep: type the value` });
  });
  return { issues, restored };
}

/**
 * scheme://host:port of a broker URL (the default port filled in), or the text when it is no URL.
 * A URL that mqtt.js would read as another host than this parser (config/broker-url.ts) is no
 * endpoint at all: it never matches the stored one, so it never gets the stored credentials.
 */
export function endpointOf(url: string): string {
  // Shown in error messages: the reason names both endpoints, never the URL's password.
  const ambiguous = brokerUrlAmbiguity(url);
  if (ambiguous) return `(a URL that ${ambiguous.replace(/: write it plainly.*$/, '')})`;
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname.toLowerCase()}:${u.port || DEFAULT_BROKER_PORTS[u.protocol] || ''}`;
  } catch {
    return url;
  }
}

/**
 * Same scheme, host and port: where stored credentials may be sent. mqtt:// to the host of a
 * stored mqtts:// would send the password in clear.
 */
export function sameEndpoint(a: string, b: string): boolean {
  return endpointOf(a) === endpointOf(b);
}
