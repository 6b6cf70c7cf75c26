import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import test from 'node:test';
import { UI_DIR } from './server.ts';
import { baseCatalog, uiCatalogs, type Catalog, type UiLang } from './i18n.ts';
import { DRIVERS, type DriverDefinition } from '../drivers/registry.ts';
import { fakeMeter } from '../drivers/fixtures/fake-meter/index.ts';
import { SINKS, type SinkDefinition } from '@kedge/cloud-sync/north/registry.ts';
import { tapeSink } from '@kedge/cloud-sync/north/fixtures/tape/index.ts';

const read = (name: string) => readFileSync(join(UI_DIR, name), 'utf8');
// What the browser gets (routes/i18n.ts): the base files with every registered driver's texts.
const { ru, en } = uiCatalogs();
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
  assert.deepEqual(Object.keys(baseCatalog('en')).sort(), Object.keys(baseCatalog('ru')).sort());
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

/** The fixed message of a log call without an event: `logger.info({ … }, 'OPC UA session established')`. */
export function loggedMessages(source: string): string[] {
  return [...source.matchAll(/\.(?:trace|debug|info|warn|error|fatal)\(\s*\{[^{}]*\}\s*,\s*'([^'\\]+)'\s*\)/g)].filter((m) => !/\bevent\b/.test(m[0])).map((m) => m[1]!);
}

/** zod's own issue codes (`ctx.addIssue({ code: 'custom', … })`): refusals, not warnings. */
const ZOD_CODES = new Set(['custom', 'invalid_type', 'too_small', 'too_big', 'invalid_format', 'not_multiple_of', 'unrecognized_keys', 'invalid_union', 'invalid_key', 'invalid_element', 'invalid_value']);

/** The config warning codes a source writes (`{ code: 'points_overlap', params, … }`). */
export function warningCodes(source: string): string[] {
  return [...source.matchAll(/\bcode: '(\w+)'/g)].map((m) => m[1]!).filter((c) => !ZOD_CODES.has(c));
}

/**
 * The catalog keys a set of sources can need: `warn.<code>` (from the files `warnings` accepts),
 * `logevent.<event>`, `logmsg.<message>`.
 */
function emittedKeys(files: ReadonlyArray<[string, string]>, warnings: (file: string) => boolean = () => true): Set<string> {
  return new Set(
    files.flatMap(([file, text]) => [
      ...(warnings(file) ? warningCodes(text).map((c) => `warn.${c}`) : []),
      ...loggedEvents(text).map((e) => `logevent.${e}`),
      ...loggedMessages(text).map((m) => `logmsg.${m}`),
      // The address line in the UI's language (DriverDefinition.describeText): `{ key: 'address.modbus-unit', params }`.
      ...[...text.matchAll(/\bkey: '(address\.[\w-]+)'/g)].map((m) => m[1]!),
    ]),
  );
}

const SRC = join(UI_DIR, '..', '..');
const REPO = join(SRC, '..', '..');
/** A file inside one driver's folder (drivers/<folder>/…), not the shared drivers/*.ts. */
const inDriverFolder = (file: string) => /^drivers\/[^/]+\//.test(relative(SRC, file));

const NORTH = join(REPO, 'cloud-sync', 'src', 'north');
/**
 * Every registered sink, and the fixture one, with its folder: a sink's folder is its own story
 * (north/<kind>/), the shared north/ code (broker-link/, window.ts) is every sink's.
 */
const SINK_DEFINITIONS: Array<[SinkDefinition, string]> = [
  // The fixture once, from its folder, also where a scratch copy registers it in SINKS.
  ...(SINKS as readonly SinkDefinition[]).filter((s) => s !== tapeSink).map((s): [SinkDefinition, string] => [s, join(NORTH, s.kind)]),
  [tapeSink as SinkDefinition, join(NORTH, 'fixtures', 'tape')],
];
const inSinkFolder = (file: string) => SINK_DEFINITIONS.some(([, folder]) => !relative(folder, file).startsWith('..'));

/**
 * What the gateway writes for any driver or sink: every source of gateway/src outside the driver
 * folders and of cloud-sync/src outside the sink folders. Warnings are config/warnings.ts's (a
 * code elsewhere is not a config warning); the drivers' and sinks' own come from their folders.
 */
const general = emittedKeys(
  [...sources(SRC).filter(([f]) => !inDriverFolder(f)), ...sources(join(REPO, 'cloud-sync', 'src')).filter(([f]) => !inSinkFolder(f))],
  (f) => f === join(SRC, 'config', 'warnings.ts'),
);
const UI_LANGS_OF_BASE: Array<[UiLang, Catalog]> = [['ru', baseCatalog('ru')], ['en', baseCatalog('en')]];

/** Relative imports of a file (static, type-only and dynamic), as absolute paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g)].map((m) => m[1] ?? m[2]!);
  return specs.filter((s) => s.startsWith('.')).map((s) => join(dirname(file), s));
}

/**
 * The sources a driver's definition reaches inside driver folders, from its index.ts: its own
 * folder and the shared code it uses (drivers/modbus/), the implementation it imports lazily too.
 */
function driverSources(entry: string): Array<[string, string]> {
  const seen = new Set<string>();
  const walk = (f: string) => {
    if (seen.has(f) || f.endsWith('.test.ts') || !inDriverFolder(f)) return;
    seen.add(f);
    importsOf(f).forEach(walk);
  };
  walk(entry);
  return [...seen].map((f) => [f, readFileSync(f, 'utf8')]);
}

/** Every registered driver, and the fixture fourth one, with the folder its definition is exported from. */
const DEFINITIONS: Array<[DriverDefinition, string]> = [
  ...DRIVERS.map((d): [DriverDefinition, string] => [d, join(SRC, 'drivers', d.kind, 'index.ts')]),
  [fakeMeter, join(SRC, 'drivers', 'fixtures', 'fake-meter', 'index.ts')],
];
// By folder, not kind: the fixture registered in a scratch copy has the kind of its copy.
const emittedByDriver = new Map(DEFINITIONS.map(([, entry]) => [entry, emittedKeys(driverSources(entry))]));

/** The sources a sink's definition reaches inside its own folder from its index.ts (its lazily imported implementation too). */
function sinkSources(folder: string): Array<[string, string]> {
  const seen = new Set<string>();
  const walk = (f: string) => {
    if (seen.has(f) || f.endsWith('.test.ts') || relative(folder, f).startsWith('..')) return;
    seen.add(f);
    importsOf(f).forEach(walk);
  };
  walk(join(folder, 'index.ts'));
  return [...seen].map((f) => [f, readFileSync(f, 'utf8')]);
}
const emittedBySink = new Map(SINK_DEFINITIONS.map(([, folder]) => [folder, emittedKeys(sinkSources(folder))]));
const emittedBy = (kind: string) => emittedByDriver.get(DEFINITIONS.find(([d]) => d.kind === kind)![1])!;

test('the scans find what they look for: log events, fixed log messages, warning codes, a driver\'s lazily imported code', () => {
  assert.deepEqual(loggedEvents("log.info(\n  { device: id, event: 'a_b', downMs: Math.round(x) },\n 'text')"), ['a_b']);
  assert.deepEqual(loggedMessages("this.ctx.logger?.info({ device: this.deviceId, session: 2 }, 'OPC UA session established');"), ['OPC UA session established']);
  assert.deepEqual(loggedMessages("log.warn({ device, event: 'x' }, 'with an event')"), []);
  assert.deepEqual(warningCodes("ctx.addIssue({ code: 'custom', path }); return [{ code: 'points_overlap' as const, params }]"), ['points_overlap']);
  // The scheduler, the clock and the web routes, for any driver.
  for (const known of ['device_failed', 'device_recovered', 'reads_refused', 'clock_jump', 'config_warning']) assert.ok(general.has(`logevent.${known}`), `${known} not found: is the scan still reading the sources?`);
  assert.ok(general.has('warn.legacy_uplink') && general.has('logmsg.config reloaded'));
  // Modbus TCP's warnings are in drivers/modbus/, OPC UA's log lines in the opcua-device.ts its definition imports lazily.
  for (const c of ['modicon_address', 'points_overlap', 'beyond_profile', 'beyond_profile_table']) assert.ok(emittedBy('modbus-tcp').has(`warn.${c}`), c);
  assert.ok(emittedBy('modbus-rtu').has('address.modbus-unit'));
  assert.ok(emittedBy('opcua').has('logevent.device_failed') && emittedBy('opcua').has('logmsg.OPC UA session established'));
  // The fixture's warning is in its index.ts, its log line in the meter-driver.ts its create imports.
  assert.ok(emittedBy('fake-meter').has('warn.meter_battery_poll') && emittedBy('fake-meter').has('logevent.meter_line_opened'));
  // Sparkplug's own log lines, in the sparkplug-uplink.ts its create.ts imports; the shared broker link's are every sink's.
  const sparkplug = emittedBySink.get(join(NORTH, 'sparkplug'))!;
  for (const m of ['Primary Host Application online', 'rebirth requested by the host', 'DCMD write done']) assert.ok(sparkplug.has(`logmsg.${m}`), m);
  assert.ok(emittedBySink.get(join(NORTH, 'mqtt'))!.has('logmsg.birth message not acknowledged'));
  assert.ok(general.has('logmsg.center confirmation ignored') && !general.has('logmsg.rebirth requested by the host'));
});

test('every event code the gateway writes for any driver, and its own config warnings, have ru and en text in the base files', () => {
  const missing = (key: string) => UI_LANGS_OF_BASE.flatMap(([lang, c]) => (key in c ? [] : [`${key} missing in ${lang}.json`]));
  assert.deepEqual([...general].filter((k) => !k.startsWith('logmsg.')).flatMap(missing), []);
});

test('no text of what only a driver or a sink emits sits in the base files: each is in its definition', () => {
  const base = baseCatalog('ru');
  const driverOnly = new Set([...emittedByDriver.values(), ...emittedBySink.values()].flatMap((keys) => [...keys]).filter((k) => !general.has(k)));
  assert.deepEqual(Object.keys(base).filter((k) => driverOnly.has(k)), []);
  // Every warning and event text of the base files is one the gateway itself writes (a driver's left behind would be here).
  assert.deepEqual(Object.keys(base).filter((k) => /^(warn|logevent)\./.test(k) && !general.has(k)), []);
});

for (const [def, entry] of DEFINITIONS) {
  test(`${def.kind}: every warning and log line its folder can write has ru and en text, its own carried by its definition`, () => {
    const emitted = emittedByDriver.get(entry)!;
    const own = def.messages ?? { ru: {}, en: {} };
    const problems: string[] = [];
    for (const key of emitted) {
      if (general.has(key)) continue; // the gateway writes it for every driver: the base files' (test above)
      // Fixed log messages without a text are shown in English and marked; codes must have one.
      if (key.startsWith('logmsg.') && !(key in own.ru) && !(key in own.en)) continue;
      for (const lang of ['ru', 'en'] as const) if (!(key in own[lang])) problems.push(`${key} has no ${lang} text in ${def.kind}'s messages`);
    }
    // Nothing it carries is a text its folder no longer writes, nor one the gateway writes for every driver.
    for (const key of new Set([...Object.keys(own.ru), ...Object.keys(own.en)])) {
      if (!emitted.has(key)) problems.push(`${key}: ${def.kind} carries a text its folder does not emit`);
      else if (general.has(key)) problems.push(`${key}: the gateway writes it for every driver, its text is the base files'`);
    }
    assert.deepEqual(problems, []);
    if (def.kind === 'modbus-tcp' || def.kind === 'fake-meter') assert.ok(Object.keys(own.ru).some((k) => k.startsWith('warn.')), `${def.kind} carries its warnings' texts`);
  });
}

for (const [def, folder] of SINK_DEFINITIONS) {
  test(`sink ${def.kind}: every log line and code only its folder writes has ru and en text carried by its definition, and nothing stale`, () => {
    const emitted = emittedBySink.get(folder)!;
    const own = def.messages ?? { ru: {}, en: {} };
    const problems: string[] = [];
    for (const key of emitted) {
      if (general.has(key)) continue;
      if (key.startsWith('logmsg.') && !(key in own.ru) && !(key in own.en)) continue; // shown as logged, marked English
      for (const lang of ['ru', 'en'] as const) if (!(key in own[lang])) problems.push(`${key} has no ${lang} text in sink ${def.kind}'s messages`);
    }
    for (const key of new Set([...Object.keys(own.ru), ...Object.keys(own.en)])) {
      if (!emitted.has(key)) problems.push(`${key}: sink ${def.kind} carries a text its folder does not emit`);
      else if (general.has(key)) problems.push(`${key}: the gateway writes it for every sink, its text is the base files'`);
    }
    assert.deepEqual(problems, []);
    if (def.kind === 'sparkplug') assert.ok('logmsg.Primary Host Application online' in own.ru, 'Sparkplug carries its host lines');
  });
}

test('the catalogs merge: a driver cannot replace a base text, clash with another driver or miss a language', () => {
  const base = (lang: UiLang): Catalog => ({ 'nav.devices': lang === 'ru' ? 'Устройства' : 'Devices' });
  const withTexts = (kind: string, messages: DriverDefinition['messages']) => ({ ...fakeMeter, kind, messages }) as DriverDefinition;
  const a = withTexts('a', { ru: { 'warn.x': 'текст' }, en: { 'warn.x': 'text' } });
  // Two drivers sharing code share its texts.
  assert.deepEqual(uiCatalogs([a, withTexts('b', a.messages)], base, []).ru, { 'nav.devices': 'Устройства', 'warn.x': 'текст' });
  // Sinks merge the same way, and clash with a driver or the base by name.
  const sink = (kind: string, messages: SinkDefinition['messages']) => ({ kind, messages });
  assert.equal(uiCatalogs([], base, [sink('s', { ru: { 'logmsg.up': 'связь есть' }, en: { 'logmsg.up': 'up' } })]).en['logmsg.up'], 'up');
  assert.throws(() => uiCatalogs([a], base, [sink('s', { ru: { 'warn.x': 'иной' }, en: { 'warn.x': 'text' } })]), /driver a and sink s give warn\.x different ru texts/);
  assert.throws(() => uiCatalogs([], base, [sink('s', { ru: { 'nav.devices': 'x' }, en: { 'nav.devices': 'x' } })]), /sink s: nav\.devices is not a sink's text/);
  assert.throws(() => uiCatalogs([], undefined, [sink('t', { ru: { 'logmsg.gateway started': 'x' }, en: { 'logmsg.gateway started': 'x' } })]), /sink t: logmsg\.gateway started is in the base catalog/);
  // The served catalog carries the registered sinks' texts.
  assert.equal(ru['logmsg.rebirth requested by the host'], 'Центр запросил повторное описание устройств');
  assert.throws(() => uiCatalogs([a, withTexts('b', { ru: { 'warn.x': 'другой' }, en: { 'warn.x': 'text' } })], base), /drivers a and b give warn\.x different ru texts/);
  assert.throws(() => uiCatalogs([withTexts('c', { ru: { 'nav.devices': 'Счётчики' }, en: { 'nav.devices': 'Meters' } })], base), /driver c: nav\.devices is not a driver's text/);
  assert.throws(() => uiCatalogs([withTexts('d', { ru: { 'warn.y': 'текст' }, en: {} })], base), /driver d: no en text for warn\.y/);
  assert.throws(() => uiCatalogs([withTexts('e', { ru: { 'warn.y': ' ' }, en: { 'warn.y': 'text' } })], base), /driver e: the ru text of warn\.y is empty/);
  // The real base files hold none of the drivers' keys.
  assert.throws(() => uiCatalogs([withTexts('f', { ru: { 'warn.legacy_uplink': 'x' }, en: { 'warn.legacy_uplink': 'x' } })]), /driver f: warn\.legacy_uplink is in the base catalog/);
});

test('each parameter a warning, event or address text names is named in both languages (a typo would print an empty gap)', () => {
  for (const [key, text] of Object.entries(ru)) {
    if (!/^(logevent|warn|address)\./.test(key)) continue;
    const names = [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();
    assert.deepEqual([...en[key]!.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort(), names, `${key}: ru and en name other parameters`);
  }
  assert.ok('warn.points_overlap' in ru, 'the merged catalog has the drivers\' texts');
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
