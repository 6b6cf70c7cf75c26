import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { MAX_CONFIG_CHARS, MAX_CONFIG_DEPTH, tooDeepAt } from './config-shape.ts';
import { membersInData } from './json-config.ts';
import { checkConfigShape, checkDataDepth, ConfigError, parseConfigWithWarnings } from './load.ts';

const EXAMPLE = new URL('../../../config/kedge.example.yaml', import.meta.url);
const TESTCASES = new URL('./testcases/', import.meta.url);

const flow = (depth: number, open = '[', close = ']') => `{"gateway":{"id":"a"},"x":${open.repeat(depth)}1${close.repeat(depth)}}`;

function refused(text: string, line: number, column?: number): void {
  assert.throws(
    () => checkConfigShape(text, 'deep.yaml'),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.issues.length === 1 &&
      err.issues[0]!.line === line &&
      (column === undefined || err.issues[0]!.column === column) &&
      err.issues[0]!.message.includes(`more than ${MAX_CONFIG_DEPTH} levels`),
  );
}

test('JSON nested past the limit is refused at the bracket that passes it, a nesting at the limit is not', () => {
  // The outer object is level 1: MAX_CONFIG_DEPTH - 1 brackets fit, one more does not.
  assert.equal(tooDeepAt(flow(MAX_CONFIG_DEPTH - 1)), null);
  const text = flow(MAX_CONFIG_DEPTH);
  refused(text, 1, text.indexOf('[') + MAX_CONFIG_DEPTH); // 1-based column of the 64th bracket
  assert.notEqual(tooDeepAt(flow(5000, '{"a":', '}')), null, 'objects count like arrays');
});

test('brackets inside quoted strings (double, single, escaped quotes) and comments are not nesting', () => {
  const deep = '['.repeat(200);
  assert.equal(tooDeepAt(`{"gateway": {"name": "${deep}", "q": "\\"${deep}"}}`), null, 'JSON strings, with an escaped quote');
  assert.equal(tooDeepAt(`gateway:\n  name: "${deep}\\"${deep}"\n  other: '${deep}''${deep}'\n`), null, 'YAML quoted scalars');
  assert.equal(tooDeepAt(`gateway:\n  id: a # ${deep}\n# ${deep}\n`), null, 'comments');
  assert.equal(tooDeepAt(`gateway:\n  note: |\n    ${deep}\n    {{{{{{\n  id: a\n`), null, 'a block scalar');
  // A quote in the middle of a plain scalar opens nothing: what follows it is still read.
  refused(`a: it's\nb: ${'['.repeat(MAX_CONFIG_DEPTH + 1)}${']'.repeat(MAX_CONFIG_DEPTH + 1)}\n`, 2);
  // A '#' inside a word is not a comment either.
  assert.notEqual(tooDeepAt(`a: [b#c, ${'['.repeat(100)}${']'.repeat(100)}]\n`), null);
  // In a block plain scalar, brackets are characters, as the parser reads them.
  assert.equal(tooDeepAt(`a: b${'['.repeat(100)}\n`), null);
  assert.equal(parseYaml(`a: b${'['.repeat(100)}\n`).a, `b${'['.repeat(100)}`);
});

test('YAML block nesting counts: indented mappings, compact sequences, sequences at their key indentation', () => {
  const mappings = Array.from({ length: 100 }, (_, i) => `${' '.repeat(i)}k:`).join('\n') + ' 1\n';
  assert.notEqual(tooDeepAt(mappings), null, 'indented mappings');
  assert.notEqual(tooDeepAt(`${'- '.repeat(100)}x\n`), null, 'compact sequences on one line');
  const sameIndent = Array.from({ length: 40 }, (_, i) => `${' '.repeat(2 * i)}- k:`).join('\n') + ' 1\n';
  assert.notEqual(tooDeepAt(`top:\n${sameIndent}`), null, 'a sequence under each key');
  // What the YAML parser itself makes of a text just past the limit: the depth is real.
  const justPast = `${'- '.repeat(MAX_CONFIG_DEPTH / 2 + 1)}x\n`;
  assert.notEqual(tooDeepAt(justPast), null);
  let d = 0;
  for (let v: unknown = parseYaml(justPast); Array.isArray(v); v = v[0]) d++;
  assert.equal(d, MAX_CONFIG_DEPTH / 2 + 1, 'the scanner counts each block level twice (a sequence may sit at its key indentation)');
});

test('every real config passes: the example (YAML and JSON) and every loader test case', () => {
  const yamlText = readFileSync(EXAMPLE, 'utf8');
  assert.equal(tooDeepAt(yamlText), null);
  assert.equal(tooDeepAt(JSON.stringify(parseYaml(yamlText), null, 2)), null);
  assert.equal(tooDeepAt(JSON.stringify(parseYaml(yamlText))), null);
  for (const f of readdirSync(TESTCASES).filter((n) => n.endsWith('.yaml'))) {
    assert.equal(tooDeepAt(readFileSync(new URL(f, TESTCASES), 'utf8')), null, f);
  }
});

test('a text longer than MAX_CONFIG_CHARS is refused before it is parsed, naming the limit', () => {
  const text = `{"gateway":{"id":"a"},"pad":"${'x'.repeat(MAX_CONFIG_CHARS)}"}`;
  assert.throws(
    () => parseConfigWithWarnings(text, 'big.json'),
    (err: unknown) => err instanceof ConfigError && err.issues[0]!.message.includes(`at most ${MAX_CONFIG_CHARS}`),
  );
});

test('the loader refuses a deep config twice in one process with a ConfigError, JSON and YAML alike', () => {
  // Before the check, the second parse of such a text killed node (RegExpCompiler out of memory).
  for (const text of [flow(1000), flow(1000), flow(5000), `${flow(1000)}\n#`, `gateway:\n  id: a\nx: ${'- '.repeat(3000)}1\n`]) {
    assert.throws(() => parseConfigWithWarnings(text, 'deep.json'), (err: unknown) => err instanceof ConfigError && err.issues[0]!.line !== undefined);
  }
});

test('members of parsed JSON are counted without recursion (5000 levels)', () => {
  assert.equal(membersInData(JSON.parse(flow(5000, '{"a":', '}'))), 2 + 1 + 5000);
});

test('parsed data (a web request body) deeper than the limit is refused, at the limit it is not', () => {
  const nest = (d: number): unknown => JSON.parse(`${'['.repeat(d)}1${']'.repeat(d)}`);
  assert.doesNotThrow(() => checkDataDepth({ device: nest(MAX_CONFIG_DEPTH - 1) }, 'request body'));
  assert.throws(() => checkDataDepth({ device: nest(MAX_CONFIG_DEPTH) }, 'request body'), ConfigError);
  assert.throws(() => checkDataDepth(nest(5000), 'request body'), /more than 64 levels/);
});

test('nesting built from aliases (each anchor under the limit, 720 levels in all) is refused too, twice', () => {
  // The scanner sees each line's 60 brackets; the YAML library's alias limit catches the chain.
  let text = 'gateway:\n  id: a\n  region: r\n  municipality: m\nx0: &a0 1\n';
  for (let i = 1; i < 12; i++) text += `x${i}: &a${i} ${'['.repeat(60)}*a${i - 1}${']'.repeat(60)}\n`;
  assert.equal(tooDeepAt(text), null, 'no single line passes the limit');
  for (let k = 0; k < 2; k++) assert.throws(() => parseConfigWithWarnings(text, 'alias.yaml'), (err: unknown) => err instanceof ConfigError && /alias/.test(err.message));
});
