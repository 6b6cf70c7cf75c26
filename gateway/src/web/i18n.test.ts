import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import test from 'node:test';
import { UI_DIR } from './server.ts';

const read = (name: string) => readFileSync(join(UI_DIR, name), 'utf8');
const messages = (lang: string) => JSON.parse(read(`i18n/${lang}.json`)) as Record<string, string>;
const ru = messages('ru');
const en = messages('en');
const html = read('index.html');

/** Every module of the browser app (main.js, lib/, pages/), by path relative to ui/. */
function uiModules(dir = UI_DIR): Array<[string, string]> {
  return readdirSync(dir).flatMap((name): Array<[string, string]> => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return uiModules(p);
    return p.endsWith('.js') ? [[relative(UI_DIR, p), readFileSync(p, 'utf8')]] : [];
  });
}
const modules = uiModules();
const code = modules.map(([, text]) => text).join('\n');

/**
 * The static parts of every html`...` template (what htm turns into elements and text), with
 * the `${...}` holes cut out, nested templates included.
 */
export function templateStatics(source: string): string[] {
  const out: string[] = [];
  const scan = (from: number): number => {
    // `from` is just after an opening backtick of an html template; returns the index after its closing one.
    let part = '';
    let i = from;
    while (i < source.length) {
      const c = source[i]!;
      if (c === '\\') {
        part += source.slice(i, i + 2);
        i += 2;
      } else if (c === '`') {
        out.push(part);
        return i + 1;
      } else if (c === '$' && source[i + 1] === '{') {
        out.push(part);
        part = '';
        i = skipExpression(i + 2);
      } else {
        part += c;
        i++;
      }
    }
    out.push(part);
    return i;
  };
  const skipExpression = (from: number): number => {
    let depth = 1;
    let i = from;
    while (i < source.length && depth > 0) {
      if (source.startsWith('html`', i)) {
        i = scan(i + 5);
        continue;
      }
      const c = source[i]!;
      if (c === "'" || c === '"') {
        const end = source.indexOf(c, i + 1);
        i = end < 0 ? source.length : end + 1;
        continue;
      }
      if (c === '`') {
        // A plain template literal (not html): skip it, holes included.
        i++;
        while (i < source.length && source[i] !== '`') i += source[i] === '\\' ? 2 : source.startsWith('${', i) ? skipExpression(i + 2) - i : 1;
        i++;
        continue;
      }
      if (c === '{') depth++;
      if (c === '}') depth--;
      i++;
    }
    return i;
  };
  for (let at = source.indexOf('html`'); at >= 0; at = source.indexOf('html`', at)) at = scan(at + 5);
  return out;
}

/** Technical tokens shown as they are in any language (data types, byte orders, table headers of the register tool). */
const UNTRANSLATED = new Set(['hex', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'uint64', 'int64', 'float64', 'ASCII']);

test('ru.json and en.json hold the same keys, none of them empty', () => {
  assert.deepEqual(Object.keys(en).sort(), Object.keys(ru).sort());
  for (const [k, v] of [...Object.entries(ru), ...Object.entries(en)]) assert.ok(v.trim(), `${k} is empty`);
  assert.match(ru['nav.devices']!, /[А-Яа-я]/);
});

test('every key the UI uses exists; every API error key has a translation', () => {
  const used = [...code.matchAll(/\bt\('([\w.]+)'/g)].map((m) => m[1]!);
  assert.ok(used.length > 200, `only ${used.length} keys found: is the scan still reading the modules?`);
  const missing = (key: string) => [!(key in ru) && `${key} missing in ru.json`, !(key in en) && `${key} missing in en.json`].filter(Boolean);
  assert.deepEqual(used.flatMap(missing), []);
  // Counted nouns: every plural category either language can pick (Intl.PluralRules).
  const plurals = [...code.matchAll(/\bplural\('([\w.]+)'/g)].map((m) => m[1]!);
  assert.ok(plurals.length >= 6);
  for (const lang of ['ru', 'en']) {
    const categories = new Intl.PluralRules(lang).resolvedOptions().pluralCategories;
    for (const key of plurals) for (const c of categories) assert.ok(`${key}.${c}` in (lang === 'ru' ? ru : en), `${key}.${c} missing in ${lang}.json`);
  }
  assert.deepEqual(new Intl.PluralRules('ru').resolvedOptions().pluralCategories.sort(), ['few', 'many', 'one', 'other']);
  // Every stable server error code, in both languages (and the UI's own "no answer").
  const errorKeys = [...readFileSync(join(UI_DIR, '..', 'errors.ts'), 'utf8').matchAll(/\| '(\w+)'/g)].map((m) => m[1]!);
  assert.ok(errorKeys.length >= 20);
  assert.deepEqual([...errorKeys, 'network'].flatMap((k) => missing(`errors.${k}`)), []);
  // Keys built at run time from API values.
  const dynamic = [
    ...['good', 'uncertain', 'bad_no_response', 'bad_device_error', 'bad_comm', 'bad_decode', 'bad_config', 'uncertain_clock'].map((q) => `quality.${q}`),
    ...['online', 'connecting', 'offline', 'stopped'].map((s) => `uplink.state.${s}`),
    ...['holding', 'input', 'coil', 'discrete'].map((x) => `table.${x}`),
    ...['ok', 'exception', 'timeout', 'frame', 'link'].map((x) => `traffic.outcome.${x}`),
    ...[1, 2, 3, 4, 5, 6, 15, 16].map((fn) => `traffic.fnName.${fn}`),
    ...['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((l) => `logs.level.${l}`),
    ...['ca', 'cert', 'key'].map((k) => `uplink.${k}`),
    // Summaries of driver and connection errors (lib/device-errors.js).
    ...[...read('lib/device-errors.js').matchAll(/'(deverr\.\w+)'/g)].map((m) => m[1]!),
    // The change history's sources and outcomes, as the config service names them.
    ...(() => {
      const service = readFileSync(join(UI_DIR, '..', '..', 'config', 'config-service.ts'), 'utf8');
      const words = (re: RegExp) => re.exec(service)![1]!.match(/'(\w+)'/g)!.map((s) => s.slice(1, -1));
      return [
        ...words(/type ConfigSource = ([^;]+);/).map((s) => `system.historySource.${s}`),
        ...words(/outcome: ((?:'\w+'\s*\|?\s*)+);/).map((o) => `system.historyOutcome.${o}`),
      ];
    })(),
    // Modbus exceptions named by code (traffic view, register tool, error summaries).
    .../MODBUS_EXCEPTIONS = \[([^\]]+)\]/.exec(read('lib/device-errors.js'))![1]!.split(',').map((n) => `deverr.exception.${n.trim()}`),
    // Translations of the loader's validation messages (lib/issue-text.js).
    ...[...read('lib/issue-text.js').matchAll(/'(issue\.\w+)'/g)].map((m) => m[1]!),
  ];
  const nav = /const NAV = \[([^\]]+)\]/.exec(read('main.js'))![1]!.match(/'(\w+)'/g)!.map((s) => `nav.${s.slice(1, -1)}`);
  assert.deepEqual([...dynamic, ...nav].flatMap(missing), []);
});

/** Every non-test .ts source of the daemon and the uplink (what writes the log lines the logs page shows). */
function sources(dir: string): Array<[string, string]> {
  return readdirSync(dir).flatMap((name): Array<[string, string]> => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'node_modules' ? [] : sources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [[p, readFileSync(p, 'utf8')]] : [];
  });
}

/** The `event` codes written with a log call: `logger.warn({ …, event: 'device_failed', … }, …)`. */
export function loggedEvents(source: string): string[] {
  const inline = [...source.matchAll(/\.(?:trace|debug|info|warn|error|fatal)\(\s*\{[^{}]*?\bevent: '(\w+)'/g)].map((m) => m[1]!);
  // `const event = down ? 'device_failed' : 'device_still_failing'; … logger.warn({ …, event }, …)`
  const chosen = [...source.matchAll(/\bconst event = ([^;]+);/g)].flatMap((m) => [...m[1]!.matchAll(/'(\w+)'/g)].map((q) => q[1]!));
  return [...inline, ...chosen];
}

test('every event code a log line carries, and every config warning code, has a translated summary in both files', () => {
  const src = join(UI_DIR, '..', '..', '..', '..');
  const files = [...sources(join(src, 'gateway', 'src')), ...sources(join(src, 'cloud-sync', 'src'))];
  const events = new Set(files.flatMap(([, text]) => loggedEvents(text)));
  // The scan finds what the scheduler, the clock and the web routes write.
  for (const known of ['device_failed', 'device_recovered', 'reads_refused', 'clock_jump', 'config_warning']) assert.ok(events.has(known), `${known} not found: is the scan still reading the sources?`);
  assert.deepEqual(loggedEvents("log.info(\n  { device: id, event: 'a_b', downMs: Math.round(x) },\n 'text')"), ['a_b']);
  const missing = (key: string) => [!(key in ru) && `${key} missing in ru.json`, !(key in en) && `${key} missing in en.json`].filter(Boolean);
  assert.deepEqual([...events].flatMap((e) => missing(`logevent.${e}`)), []);
  // Config warnings (config/warnings.ts and each driver's warnings.ts) are shown in the device form and in the log line.
  const warningSources = [join(src, 'gateway', 'src', 'config', 'warnings.ts'), ...readdirSync(join(src, 'gateway', 'src', 'drivers'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('warnings.ts')).map((f) => join(src, 'gateway', 'src', 'drivers', f))];
  const codes = [...new Set(warningSources.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/\bcode: '(\w+)'/g)].map((m) => m[1]!)))];
  assert.ok(['modicon_address', 'points_overlap', 'beyond_profile', 'beyond_profile_table'].every((c) => codes.includes(c)), `the scan found ${codes.join(', ')}`);
  assert.deepEqual(codes.flatMap((c) => missing(`warn.${c}`)), []);
  // Each parameter a translation names is one the code passes (a typo would print an empty gap).
  for (const [key, text] of Object.entries(ru)) {
    if (!key.startsWith('logevent.') && !key.startsWith('warn.')) continue;
    const names = [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();
    assert.deepEqual([...en[key]!.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort(), names, `${key}: ru and en name other parameters`);
  }
});

test('no UI text is hard-coded outside the message files', () => {
  // lib/units.js is the one table of display units, in both languages, by design.
  const files: Array<[string, string]> = [['index.html', html], ['style.css', read('style.css')], ...modules.filter(([n]) => n !== join('lib', 'units.js'))];
  for (const [name, text] of files) {
    const withoutComments = text.replace(/^\s*\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
    assert.ok(!/[А-Яа-яЁё]/.test(withoutComments), `${name} contains Cyrillic text: ${/.*[А-Яа-яЁё].*/.exec(withoutComments)?.[0]}`);
  }
  // index.html is an empty shell: all text is rendered by the modules.
  const body = html.replace(/<script[\s\S]*?<\/script>/g, '').replace(/<head>[\s\S]*?<\/head>/, '');
  assert.deepEqual([...body.matchAll(/>([^<]*)</g)].map((m) => m[1]!.trim()).filter(Boolean), []);
  // In the templates: no text node with words, and no literal accessible name, title or placeholder.
  const problems: string[] = [];
  for (const [name, text] of modules) {
    const statics = templateStatics(text.replace(/^\s*\/\/.*$/gm, ''));
    for (const part of statics) {
      for (const m of part.matchAll(/>([^<]*)/g)) {
        const words = m[1]!.trim();
        if (/[A-Za-z]{2,}/.test(words) && !UNTRANSLATED.has(words)) problems.push(`${name}: text "${words}"`);
      }
      for (const m of part.matchAll(/\b(aria-label|title|placeholder|alt)="([^"]*[A-Za-z][^"]*)"/g)) problems.push(`${name}: ${m[1]}="${m[2]}"`);
    }
  }
  assert.deepEqual(problems, []);
  // The scan itself finds what it looks for.
  assert.deepEqual(templateStatics('html`<p>Hello ${x ? html`<b>World</b>` : "y"}</p>`'), ['<p>Hello ', '<b>World</b>', '</p>']);
  assert.ok(templateStatics(read('pages/devices.js')).length > 50);
});
