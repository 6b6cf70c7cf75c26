import { Lexer } from 'yaml';

/**
 * Limits checked on a config text before any parser sees it (JSON.parse or the YAML library).
 * The YAML composer recurses once per nesting level: a 2 KB text of 1000 nested brackets
 * overflows the stack, and a second such parse in the same process has killed node outright
 * ("RegExpCompiler Allocation failed - process out of memory"). A config arrives from outside
 * (the file at start and SIGHUP, the web UI, a center `config` command), so the check is cheap,
 * iterative, and made in one place every entry point goes through.
 */

/** Far above any real config (10,000 points take ~720 KB), far below what hurts a 512 MB box. */
export const MAX_CONFIG_CHARS = 8 * 1024 * 1024;

/**
 * Nesting levels a config may have. A real one needs about a dozen (devices, a device, points,
 * a point, a scale); the stack gives out near a thousand.
 */
export const MAX_CONFIG_DEPTH = 64;

/** What a config text may not be, located like a loader problem (load.ts turns it into a ConfigError). */
export interface ShapeIssue {
  path: string;
  line?: number;
  column?: number;
  message: string;
}

/** Why `text` is refused before parsing (longer than MAX_CONFIG_CHARS, nested deeper than MAX_CONFIG_DEPTH); null when it is not. */
export function configShapeIssue(text: string): ShapeIssue | null {
  if (text.length > MAX_CONFIG_CHARS) {
    return {
      path: '',
      message: `the config is ${text.length} characters long; at most ${MAX_CONFIG_CHARS} are accepted (10,000 points take about 720,000)`,
    };
  }
  const at = tooDeepAt(text);
  if (at === null) return null;
  const { line, column } = linePos(text, at);
  return { path: '', line, column, message: `nested more than ${MAX_CONFIG_DEPTH} levels deep (brackets, braces or indented blocks)` };
}

/**
 * Why parsed data (a web request body: a device, an uplink entry) is refused: nested deeper than
 * MAX_CONFIG_DEPTH. The routes turn such data into YAML nodes (doc.createNode) and JSON text,
 * both recursive, before the loader could check the text. Null when it is fine.
 */
export function dataDepthIssue(root: unknown): ShapeIssue | null {
  const todo: Array<[unknown, number]> = [[root, 1]];
  while (todo.length > 0) {
    const [v, depth] = todo.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > MAX_CONFIG_DEPTH) return { path: '', message: `nested more than ${MAX_CONFIG_DEPTH} levels deep (objects and arrays)` };
    for (const x of Array.isArray(v) ? v : Object.values(v)) todo.push([x, depth + 1]);
  }
  return null;
}

/** Offset where the nesting first passes MAX_CONFIG_DEPTH; null when it never does. */
export function tooDeepAt(text: string): number | null {
  const json = jsonTooDeepAt(text);
  return json !== undefined ? json : yamlTooDeepAt(text);
}

const JSON_BETWEEN = new Uint8Array(128);
for (const c of ' \t\r\n,:-+.0123456789eEtrufalsn') JSON_BETWEEN[c.charCodeAt(0)] = 1;

/**
 * The exact answer for a text that is one JSON array or object (the form provisioning tools
 * write): nothing but strings, brackets and scalar characters, so a character scan sees the
 * same structure YAML does (inside one flow collection there are no blocks, no comments, no
 * single quotes). undefined for any other text: the YAML lexer decides then.
 */
function jsonTooDeepAt(text: string): number | null | undefined {
  const n = text.length;
  let i = 0;
  while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\r' || text[i] === '\n')) i++;
  if (text[i] !== '{' && text[i] !== '[') return undefined;
  let depth = 0;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // '"': skip the string; a backslash escapes the next character
      for (i++; i < n && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
      if (i >= n) return undefined;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_CONFIG_DEPTH) return i;
    } else if (c === 0x5d || c === 0x7d) {
      if (--depth < 0) return undefined;
      if (depth === 0) {
        // One collection only: after it, blocks could start, which the YAML lexer must see.
        for (i++; i < n; i++) if (text[i] !== ' ' && text[i] !== '\t' && text[i] !== '\r' && text[i] !== '\n') return undefined;
        return null;
      }
    } else if (c >= 128 || JSON_BETWEEN[c] === 0) {
      return undefined;
    }
  }
  return undefined;
}

/**
 * Any YAML text, tokenized by the library's own lexer (a state machine, no recursion) so quotes,
 * comments and block scalars are read exactly as the parser will read them. Flow collections
 * count one level each. Block levels are counted from indentation: a stack of the columns open
 * (a line's indentation, and the column of a node after `- `, `? ` or `: ` on the same line),
 * each counted twice, since a sequence may sit at its key's own indentation (`a:\n- b:\n  - c`
 * opens two collections per column). Counting high is safe: real configs stay far below the limit.
 */
function yamlTooDeepAt(text: string): number | null {
  const columns: number[] = [];
  let flow = 0;
  let offset = 0;
  let lineStart = 0;
  let atLineStart = true;
  let afterIndicator = false;
  for (const token of new Lexer().lex(text)) {
    const at = offset;
    const c0 = token.charCodeAt(0);
    // Lexer control tokens (document, scalar, flow-end markers) are not in the source.
    if (token.length === 1 && (c0 === 0x02 || c0 === 0x18 || c0 === 0x1f)) continue;
    offset += token.length;
    const column = at - lineStart;
    const nl = token.lastIndexOf('\n');
    if (nl >= 0) lineStart = at + nl + 1;
    if (c0 === 0x0a || c0 === 0x0d) {
      atLineStart = true;
      afterIndicator = false;
      continue;
    }
    if (c0 === 0x20 || c0 === 0x09 || c0 === 0x23) continue; // spaces, tabs, a comment
    if (flow === 0) {
      if (atLineStart) {
        while (columns.length > 0 && columns[columns.length - 1]! > column) columns.pop();
        if (columns.length === 0 || columns[columns.length - 1]! < column) columns.push(column);
        atLineStart = false;
      } else if (afterIndicator && (columns.length === 0 || columns[columns.length - 1]! < column)) {
        columns.push(column);
      }
      afterIndicator = token === '-' || token === '?' || token === ':';
    }
    if (c0 === 0x5b || c0 === 0x7b) flow++;
    else if ((c0 === 0x5d || c0 === 0x7d) && flow > 0) flow--;
    if (flow + 2 * columns.length > MAX_CONFIG_DEPTH) return at;
  }
  return null;
}

/** 1-based line and column of `offset`, as the loader's messages give them. */
function linePos(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: offset - start + 1 };
}
