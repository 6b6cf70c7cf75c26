import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { listProfiles, loadProfile, parseProfile, ProfileError } from './load.ts';
import { normalizeUnit } from './units.ts';

const VALIDATE = fileURLToPath(new URL('./validate.ts', import.meta.url));
const BROKEN = fileURLToPath(new URL('./testcases/broken-profile.yaml', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('ships the seven profiles the issue asks for, each citing its source document', () => {
  const names = listProfiles();
  for (const required of ['sdm630', 'magflux-water-meter', 'mfe600h-heat-meter', 'sdi-radar-300w', 'ysi-odo-ct-probe', 'j1939-snowplow-gateway', 'kedge-sensor-node']) {
    assert.ok(names.includes(required), `missing profile ${required} (have ${names.join(', ')})`);
  }
  for (const name of names) {
    const p = loadProfile(name);
    assert.equal(p.name, name);
    assert.ok(p.source.title.length > 5 && p.source.version.length > 0, `${name} cites its document`);
    for (const pt of p.points) assert.ok(pt.name.ru && pt.name.en, `${name}/${pt.id} has names in Russian and English`);
  }
});

test('the validator CLI accepts every shipped profile and exits 0', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', VALIDATE], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`${listProfiles().length} valid, 0 invalid`));
});

test('the validator CLI names file, line, column and field of every mistake and exits 1', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', VALIDATE, BROKEN], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 1);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('  '));
  const at = (needle: string) => lines.find((l) => l.includes(needle)) ?? `(no line with ${needle} in:\n${r.stderr})`;
  assert.match(at('points[0].type'), /broken-profile\.yaml:15:11 points\[0\]\.type: must be one of .*\(got "float23"\)/);
  assert.match(at('points[1].name.en'), /broken-profile\.yaml:18:5 points\[1\]\.name\.en: required field is missing/);
  assert.match(at('points[1].unit'), /broken-profile\.yaml:22:11 points\[1\]\.unit: unknown unit "degrees"/);
  assert.match(at('points[2].adress'), /broken-profile\.yaml:28:5 points\[2\]\.adress: unknown key "adress"/);
  assert.match(at('points[2].type'), /coil points are single bits/);
  assert.match(r.stdout, /0 valid, 1 invalid/);
});

test('duplicate ids and overlapping registers are refused once the points themselves are valid', () => {
  const text = [
    'name: dup',
    'vendor: T',
    'model: M',
    'description: { ru: р, en: e }',
    'source: { title: t, version: "1" }',
    'points:',
    '  - { id: a, name: { ru: а, en: a }, table: input, address: 0, type: float32 }',
    '  - { id: a, name: { ru: б, en: b }, table: input, address: 4, type: uint16 }',
    '  - { id: c, name: { ru: в, en: c }, table: input, address: 1, type: uint16 }',
  ].join('\n');
  assert.throws(
    () => parseProfile(text, 'dup.yaml'),
    (err: unknown) =>
      err instanceof ProfileError &&
      /dup\.yaml:8:\d+ points\[1\]\.id: duplicate point id "a" \(also points\[0\]\)/.test(err.message) &&
      /dup\.yaml:9:\d+ points\[2\]\.address: input 1 is already used by point "a"/.test(err.message),
  );
});

test('a missing profile lists the known ones', () => {
  assert.throws(
    () => loadProfile('sdm999'),
    (err: unknown) => err instanceof ProfileError && /no profile "sdm999" in .* \(known: .*sdm630/.test(err.message),
  );
});

test('units are normalized to UCUM codes, and unknown ones are refused with a suggestion', () => {
  const cases: Record<string, string> = {
    '°C': 'Cel',
    'm3/h': 'm3/h',
    'м³/ч': 'm3/h',
    kWh: 'kW.h',
    'kW.h': 'kW.h',
    NTU: '[NTU]',
    pH: '[pH]',
    'µS/cm': 'uS/cm',
    'mg/L': 'mg/L',
    '%': '%',
    Гкал: 'Gcal',
    'GJ/h': 'GJ/h',
    kvarh: 'kV.A.h{reactive}',
    'g/m2': 'g/m2',
    '{counts}': '{counts}',
    'km/h': 'km/h',
    deg: 'deg',
    V: 'V',
  };
  for (const [input, code] of Object.entries(cases)) assert.deepEqual(normalizeUnit(input), { ok: true, code }, input);
  const bad = normalizeUnit('kwh');
  assert.equal(bad.ok, false);
  assert.match(!bad.ok ? bad.message : '', /unknown unit "kwh".*did you mean "kW\.h"/);
  assert.equal(normalizeUnit('furlongs').ok, false);
  assert.equal(normalizeUnit('m 3').ok, false);
});
