/**
 * Reads the gateway YAML config and reports every problem with its field path and
 * file:line:column, so a technician on site can fix the file without reading code.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { configShapeIssue, dataDepthIssue } from './config-shape.ts';
import { isCollection, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import type { SinkDefinition } from '@kedge/cloud-sync/north/sink.ts';
import { gatewayConfigSchema, gatewayConfigSchemaFor, type GatewayConfig } from './schema.ts';
import { resolveProfiles } from './profiles.ts';
import { internStrings } from './intern.ts';
import { plainJsonConfig } from './json-config.ts';
import { configWarnings } from './warnings.ts';
import { resolveSecretFiles, secretPathIssues } from './secret-files.ts';

export interface ConfigIssue {
  /** Field path such as `devices[0].points[2].type`; empty for the file as a whole. */
  path: string;
  line?: number;
  column?: number;
  message: string;
  /** Warnings only: the stable kind (config/warnings.ts) and its variable parts, for a translated text. */
  code?: string;
  params?: Record<string, string | number>;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly source: string;
  readonly issues: ConfigIssue[];

  constructor(source: string, issues: ConfigIssue[]) {
    const sorted = [...issues].sort(
      (a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0),
    );
    const n = sorted.length;
    super(
      [`Invalid config ${source}: ${n} ${n === 1 ? 'problem' : 'problems'}`, ...sorted.map((i) => `  ${formatIssue(source, i)}`)].join(
        '\n',
      ),
    );
    this.source = source;
    this.issues = sorted;
  }
}

/**
 * Refuses a config text too long or too deeply nested for the parsers (config-shape.ts) with a
 * ConfigError, before any parser sees it: the loader below and every other reader of config
 * text from outside (the config store, the secret markers, the web routes) call this.
 */
export function checkConfigShape(text: string, source: string): void {
  const issue = configShapeIssue(text);
  if (issue !== null) throw new ConfigError(source, [issue]);
}

/** parseDocument (comments kept, for edits) of a config text, after checkConfigShape. */
export function parseConfigDocument(text: string, source: string): Document {
  checkConfigShape(text, source);
  return parseDocument(text);
}

/** Refuses parsed data nested deeper than the loader would take (a web request body), with a ConfigError. */
export function checkDataDepth(data: unknown, source: string): void {
  const issue = dataDepthIssue(data);
  if (issue !== null) throw new ConfigError(source, [issue]);
}

function formatIssue(source: string, issue: ConfigIssue): string {
  const where = issue.line !== undefined ? `${source}:${issue.line}:${issue.column ?? 1}` : source;
  return issue.path ? `${where} ${issue.path}: ${issue.message}` : `${where} ${issue.message}`;
}

type PathSegment = string | number;

/** `["devices", 0, "points", 2, "type"]` → `devices[0].points[2].type`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z_$][\w$-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

interface Pos {
  line: number;
  column: number;
}

function keyValue(key: unknown): unknown {
  return isScalar(key) ? key.value : key;
}

/**
 * Offset of the node at `path`, or undefined when the path does not exist. Scalars and flow
 * collections are located at their value; block collections at their key, because their own
 * range starts on the next line, which would confuse the reader.
 */
function offsetOf(doc: Document, path: readonly PathSegment[], atKey = false): number | undefined {
  if (path.length === 0) return isNode(doc.contents) ? doc.contents.range?.[0] : undefined;
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
  const last = path[path.length - 1]!;
  if (isMap(parent)) {
    const pair = parent.items.find((p) => String(keyValue(p.key)) === String(last));
    if (!pair) return undefined;
    const value = pair.value;
    const keyStart = isNode(pair.key) ? pair.key.range?.[0] : undefined;
    const emptyValue = isScalar(value) && value.value === null && !value.source;
    if (!atKey && isNode(value) && value.range && !emptyValue && !(isCollection(value) && !value.flow)) return value.range[0];
    return keyStart ?? (isNode(value) ? value.range?.[0] : undefined);
  }
  if (isSeq(parent) && typeof last === 'number') {
    const item = parent.items[last];
    return isNode(item) ? item.range?.[0] : undefined;
  }
  return undefined;
}

/**
 * Position of `path`, or of its nearest existing ancestor when the key is missing.
 * `atKey` points at the key itself, for problems with the key rather than its value.
 */
function locate(doc: Document, lc: LineCounter, path: readonly PathSegment[], atKey = false): Pos | undefined {
  for (let i = path.length; i >= 0; i--) {
    const offset = offsetOf(doc, path.slice(0, i), atKey && i === path.length);
    if (offset !== undefined) {
      const { line, col } = lc.linePos(offset);
      return { line, column: col };
    }
  }
  return undefined;
}

/** Field path of the innermost node containing `offset`; used to name YAML-level errors. */
function pathAtOffset(node: unknown, offset: number, path: PathSegment[] = []): PathSegment[] {
  const within = (n: unknown): boolean => {
    if (!isNode(n) || !n.range) return false;
    return n.range[0] <= offset && offset < Math.max(n.range[2], n.range[0] + 1);
  };
  if (isMap(node)) {
    for (const pair of node.items) {
      const k = keyValue(pair.key);
      const seg = typeof k === 'number' ? String(k) : typeof k === 'string' ? k : undefined;
      if (seg === undefined) continue;
      if (within(pair.key)) return [...path, seg];
      if (within(pair.value)) return pathAtOffset(pair.value, offset, [...path, seg]);
    }
  } else if (isSeq(node)) {
    for (const [i, item] of node.items.entries()) {
      if (within(item)) return pathAtOffset(item, offset, [...path, i]);
    }
  }
  return path;
}

/**
 * Around a syntax error the tree is the parser's guess: a mis-indented `host:` under
 * `driver: modbus-tcp` becomes a key "modbus-tcp host". The path is cut before the first key
 * that is not a plain name, so it names the last part of the file that parsed as written.
 */
function cleanSyntaxPath(path: PathSegment[]): PathSegment[] {
  const bad = path.findIndex((seg) => typeof seg === 'string' && !/^[A-Za-z_$][\w$-]*$/.test(seg));
  return bad < 0 ? path : path.slice(0, bad);
}

/** Start of the quoted scalar that runs up to `offset`, i.e. whose closing quote is missing. */
function quotedScalarEndingAt(doc: Document, offset: number): number | undefined {
  let start: number | undefined;
  visit(doc, {
    Scalar(_key, node) {
      const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE';
      if (quoted && node.range && node.range[0] < offset && offset <= node.range[2]) start = node.range[0];
    },
  });
  return start;
}

function describeNode(node: Node): string {
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return `a single value (${JSON.stringify(node.value)})`;
  return 'not a mapping';
}

/** Friendlier wording than zod's defaults for the cases a hand-edited file hits most. */
const errorMap: z.core.$ZodErrorMap = (iss) => {
  if (iss.code === 'invalid_type' && iss.input === undefined) return 'required field is missing';
  if (iss.code === 'invalid_value' && iss.values.length > 1) {
    return `must be one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')} (got ${JSON.stringify(iss.input)})`;
  }
  return undefined;
};

/** What a config is read against, when not the product's own registries. */
export interface ParseOptions {
  /**
   * The sink registry (north/registry.ts SINKS unless given): which `uplinks:` kinds exist, their
   * schemas, secret files and broker links. A test hands a registry composed with a fixture sink.
   */
  sinks?: readonly [SinkDefinition, ...SinkDefinition[]];
}

const schemas = new WeakMap<readonly SinkDefinition[], typeof gatewayConfigSchema>();
function schemaFor(sinks: ParseOptions['sinks']): typeof gatewayConfigSchema {
  if (sinks === undefined) return gatewayConfigSchema;
  let s = schemas.get(sinks);
  if (s === undefined) schemas.set(sinks, (s = gatewayConfigSchemaFor(sinks)));
  return s;
}

/**
 * Parses and validates a config text. `source` names it in messages; relative paths in the
 * config (dataDir, secretsDir, every uplink's and device's secret and TLS files) are resolved
 * against `baseDir` when given.
 */
export function parseConfig(text: string, source = '<config>', baseDir?: string, o: ParseOptions = {}): GatewayConfig {
  return parseConfigWithWarnings(text, source, baseDir, o).config;
}

/** A valid config and what looks wrong in it (warnings.ts), each located like a problem. */
export interface CheckedConfig {
  config: GatewayConfig;
  warnings: ConfigIssue[];
}

/** `source:line:col path: warning: message`, one per line, for --check and the console. */
export function formatWarnings(source: string, warnings: readonly ConfigIssue[]): string[] {
  return warnings.map((w) => formatIssue(source, { ...w, message: `warning: ${w.message}` }));
}

/** Reads and validates a config file like loadConfigFile, and also returns its warnings. */
export async function checkConfigFile(path: string, o: ParseOptions = {}): Promise<CheckedConfig> {
  return parseConfigWithWarnings(await readConfigText(path), path, dirname(resolve(path)), o);
}

/** parseConfig, plus the warnings of a config that is valid but probably wrong (never refused for them). */
export function parseConfigWithWarnings(text: string, source = '<config>', baseDir?: string, o: ParseOptions = {}): CheckedConfig {
  // A BOM from Windows editors would shift every column on line 1.
  const clean = text.replace(/^\uFEFF/, '');
  // Before any parser: deep nesting overflows the YAML composer's stack (config-shape.ts).
  checkConfigShape(clean, source);
  const lc = new LineCounter();
  // A JSON config skips the YAML document (~60 MB at 10,000 points: the start-up peak) unless a
  // message below needs its lines and columns (json-config.ts); `doc` is then an empty mapping
  // with nothing for the YAML checks to find, and locations come from docOf().
  const json = plainJsonConfig(clean);
  let yamlDoc: Document | undefined;
  const docOf = (): Document => (yamlDoc ??= parseDocument(clean, { lineCounter: lc, prettyErrors: false, uniqueKeys: true }));
  const doc = json === undefined ? docOf() : parseDocument('{}');

  // Warnings (e.g. an unresolvable tag) are errors here: a guessed value is worse than none.
  const yamlProblems = [...doc.errors, ...doc.warnings];
  if (yamlProblems.length > 0) {
    const issues: ConfigIssue[] = [];
    for (const e of yamlProblems) {
      let offset = e.pos[0];
      let message = `YAML syntax: ${e.message.split('\n')[0]}`;
      // The parser notices an unclosed quote only at the end of the file; the line where
      // the quote was opened is the one to fix.
      const opened = e.code === 'MISSING_CHAR' ? quotedScalarEndingAt(doc, offset) : undefined;
      if (opened !== undefined) {
        offset = opened;
        message += ' (opened here)';
      }
      const { line, col } = lc.linePos(offset);
      const path = cleanSyntaxPath(pathAtOffset(doc.contents, offset));
      if (e.code === 'DUPLICATE_KEY') {
        const key = path.length ? ` "${String(path[path.length - 1])}"` : '';
        message = `duplicate key${key} (YAML would silently keep only one of the values)`;
      }
      // One mistake often yields several parser errors on the same line; one is enough.
      if (issues.some((i) => i.line === line)) continue;
      issues.push({ path: formatPath(path), line, column: col, message });
    }
    throw new ConfigError(source, issues);
  }

  const root = doc.contents;
  if (!isNode(root) || (isScalar(root) && root.value === null)) {
    throw new ConfigError(source, [
      { path: '', message: 'the file is empty: expected a mapping with at least `gateway:` and `uplink:`' },
    ]);
  }
  if (!isMap(root)) {
    const pos = root.range ? lc.linePos(root.range[0]) : undefined;
    throw new ConfigError(source, [
      {
        path: '',
        ...(pos && { line: pos.line, column: pos.col }),
        message: `the top level must be a mapping (key: value lines such as \`gateway:\`), but it is ${describeNode(root)}`,
      },
    ]);
  }

  let data: unknown;
  try {
    data = json !== undefined ? json.data : doc.toJS();
  } catch (err) {
    // Unresolved aliases and alias bombs only surface while converting.
    throw new ConfigError(source, [{ path: '', message: `YAML: ${(err as Error).message}` }]);
  }

  // `profile: <name>` on a device becomes points before validation (profiles.ts).
  const profiles = resolveProfiles(data);
  data = profiles.data;
  const profileIssues: ConfigIssue[] = profiles.issues.map((i) => ({ path: formatPath(i.path), ...locate(docOf(), lc, i.path), message: i.message }));
  const failedProfiles = new Set(profiles.issues.map((i) => i.path[1]));

  const result = schemaFor(o.sinks).safeParse(data, { error: errorMap });
  if (!result.success || profileIssues.length > 0) {
    const issues: ConfigIssue[] = [...profileIssues];
    for (const iss of result.error?.issues ?? []) {
      const path = iss.path.filter((s): s is PathSegment => typeof s === 'string' || typeof s === 'number');
      // A device whose profile could not be loaded has no points: that is the same problem.
      if (path[0] === 'devices' && failedProfiles.has(path[1] as number) && path[2] === 'points' && path.length === 3) continue;
      const origin = path[0] === 'devices' && path[2] === 'points' ? profiles.origins.get(path[1] as number) : undefined;
      const pointIndex = path[3];
      if (origin && typeof pointIndex === 'number' && pointIndex >= origin.configPoints) {
        // A point only the profile defines has no line in this file: report it at `profile:`.
        const id = origin.profileOnly[pointIndex - origin.configPoints];
        issues.push({
          path: formatPath(path),
          ...locate(docOf(), lc, ['devices', path[1] as number, 'profile']),
          message: `${iss.message} (point "${id}" of profile "${origin.profile}")`,
        });
        continue;
      }
      if (iss.code === 'unrecognized_keys') {
        // One problem per key, each at its own line; schema.ts writes one message line per key.
        const lines = iss.message.split('\n');
        iss.keys.forEach((key, i) => {
          const keyPath = [...path, key];
          issues.push({
            path: formatPath(keyPath),
            ...locate(docOf(), lc, keyPath, true),
            message: lines.length === iss.keys.length ? lines[i]! : `unknown key "${key}"`,
          });
        });
        continue;
      }
      issues.push({ path: formatPath(path), ...locate(docOf(), lc, path), message: iss.message });
    }
    throw new ConfigError(source, issues);
  }

  // One instance per repeated short value ("holding", "r7" on every device): heap per point.
  const config = internStrings(result.data);
  if (baseDir !== undefined) {
    const abs = (p: string) => resolve(baseDir, p);
    config.dataDir = abs(config.dataDir);
    // Every uplink's and device's secret and TLS files, as their sinks and drivers declare them
    // (secret-files.ts): an OPC UA key file is found where a broker's CA file is.
    resolveSecretFiles(config, abs, o.sinks);
    if (config.secretsDir !== undefined) config.secretsDir = abs(config.secretsDir);
    // Secret and TLS files only from the secrets folders (gateway/src/secrets.ts), checked once the paths are absolute.
    const outside = secretPathIssues(config, o.sinks);
    if (outside.length > 0) {
      throw new ConfigError(
        source,
        outside.map((i) => ({ path: i.path, ...locate(docOf(), lc, i.segments), message: i.message })),
      );
    }
  }
  const warnings = configWarnings(config, profiles.origins)
    .map((w) => ({ path: formatPath(w.segments), ...locate(docOf(), lc, w.segments), message: w.message, code: w.code, params: w.params }))
    .sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0));
  return { config, warnings };
}

/** Reads and validates a config file; relative paths inside it are relative to its folder. */
export async function loadConfigFile(path: string): Promise<GatewayConfig> {
  return parseConfig(await readConfigText(path), path, dirname(resolve(path)));
}

async function readConfigText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT'
        ? `config file not found: ${resolve(path)}`
        : code === 'EISDIR'
          ? `${resolve(path)} is a directory, not a config file`
          : `cannot read config file ${resolve(path)}: ${(err as Error).message}`;
    throw new ConfigError(path, [{ path: '', message }]);
  }
}
