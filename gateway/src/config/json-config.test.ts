import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { membersInText, plainJsonConfig } from './json-config.ts';
import { ConfigError, parseConfigWithWarnings } from './load.ts';

const EXAMPLE = new URL('../../../config/kedge.example.yaml', import.meta.url);

test('a JSON object is taken whole; members are counted past escaped quotes and colons in strings', () => {
  const text = '{ "a": "x\\": y", "b" : [ { "c": 1 }, "d:" ], "e\\\\": {} }';
  assert.equal(membersInText(text), 4);
  assert.deepEqual(plainJsonConfig(text)?.data, JSON.parse(text));
});

test('what JSON.parse would take differently from YAML, or cannot take, goes the YAML way', () => {
  assert.equal(plainJsonConfig('{"a": 1, "a": 2}'), undefined, 'a repeated key (JSON.parse would keep the last silently)');
  assert.equal(plainJsonConfig('{"a": {"b": 1, "\\u0062": 2}}'), undefined, 'a repeat spelled with an escape');
  assert.equal(plainJsonConfig('{"a": 1,}'), undefined, 'not JSON');
  assert.equal(plainJsonConfig('[1, 2]'), undefined, 'not an object');
  assert.equal(plainJsonConfig('gateway:\n  id: x\n'), undefined, 'YAML');
});

test('the example config written as JSON parses to the same config and warnings as its YAML', () => {
  const yamlText = readFileSync(EXAMPLE, 'utf8');
  const viaYaml = parseConfigWithWarnings(yamlText, 'example.yaml', '/etc/kedge');
  const viaJson = parseConfigWithWarnings(JSON.stringify(parseYaml(yamlText), null, 2), 'example.json', '/etc/kedge');
  assert.deepEqual(viaJson.config, viaYaml.config);
  assert.deepEqual(viaJson.warnings.map((w) => [w.path, w.message]), viaYaml.warnings.map((w) => [w.path, w.message]));
});

test('a JSON config with a mistake is refused with the line and column of the mistake', () => {
  const config = JSON.parse(JSON.stringify(parseYaml(readFileSync(EXAMPLE, 'utf8')))) as { devices: Array<{ points: Array<Record<string, unknown>> }> };
  config.devices[0]!.points[0]!.table = 'holdng';
  const text = JSON.stringify(config, null, 2);
  const line = text.split('\n').findIndex((l) => l.includes('"holdng"')) + 1;
  assert.throws(
    () => parseConfigWithWarnings(text, 'bad.json'),
    (err: unknown) => err instanceof ConfigError && err.issues.some((i) => i.path.includes('table') && i.line === line),
  );
});

test('a JSON config with a repeated key is refused as YAML refuses it, at the key', () => {
  const text = '{\n  "gateway": {"id": "a", "region": "r", "municipality": "m"},\n  "gateway": {"id": "b", "region": "r", "municipality": "m"}\n}';
  assert.throws(
    () => parseConfigWithWarnings(text, 'dup.json'),
    (err: unknown) => err instanceof ConfigError && err.issues.some((i) => /duplicate key "gateway"/.test(i.message) && i.line === 3),
  );
});
