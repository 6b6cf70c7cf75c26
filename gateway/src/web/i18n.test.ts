import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { UI_DIR } from './server.ts';

const read = (name: string) => readFileSync(join(UI_DIR, name), 'utf8');
const messages = (lang: string) => JSON.parse(read(`i18n/${lang}.json`)) as Record<string, string>;
const ru = messages('ru');
const en = messages('en');
const app = read('app.js');
const html = read('index.html');

test('ru.json and en.json hold the same keys, none of them empty', () => {
  assert.deepEqual(Object.keys(en).sort(), Object.keys(ru).sort());
  for (const [k, v] of [...Object.entries(ru), ...Object.entries(en)]) assert.ok(v.trim(), `${k} is empty`);
  assert.match(ru['nav.devices']!, /[А-Яа-я]/);
});

test('every key the UI uses exists; every API error key has a translation', () => {
  const used = [...app.matchAll(/\bt\('([\w.]+)'/g), ...html.matchAll(/data-i18n(?:-placeholder)?="([\w.]+)"/g)].map((m) => m[1]!);
  assert.ok(used.length > 100);
  for (const key of used) assert.ok(key in ru, `${key} missing in ru.json`);
  const errorKeys = [...readFileSync(join(UI_DIR, '..', 'errors.ts'), 'utf8').matchAll(/\| '(\w+)'/g)].map((m) => m[1]!);
  assert.ok(errorKeys.length >= 10);
  for (const key of errorKeys) assert.ok(`errors.${key}` in ru, `errors.${key} missing`);
  // Keys built at run time from API values.
  for (const q of ['good', 'uncertain', 'bad_no_response', 'bad_device_error', 'bad_comm', 'bad_decode', 'bad_config']) assert.ok(`quality.${q}` in ru);
  for (const s of ['online', 'connecting', 'offline', 'stopped']) assert.ok(`uplink.state.${s}` in ru);
});

test('no UI text is hard-coded outside the message files', () => {
  for (const [name, text] of [['index.html', html], ['app.js', app], ['style.css', read('style.css')]] as const) {
    assert.doesNotMatch(text, /[А-Яа-яЁё]/, `${name} contains Cyrillic text`);
  }
  // index.html: every element's own text is empty; the text comes from data-i18n.
  const body = html.replace(/<script[\s\S]*?<\/script>/g, '').replace(/<head>[\s\S]*?<\/head>/, '');
  const texts = [...body.matchAll(/>([^<]*)</g)].map((m) => m[1]!.trim()).filter(Boolean);
  assert.deepEqual(texts, []);
  // app.js: no English sentence in a string literal (comments aside).
  const code = app.replace(/^\s*\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
  const sentences = [...code.matchAll(/'([A-Z][a-z]+(?: [a-z]+)+[.!?]?)'/g)].map((m) => m[1]);
  assert.deepEqual(sentences, []);
});
