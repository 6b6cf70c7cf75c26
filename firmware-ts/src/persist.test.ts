import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_SETTINGS, loadSettings, saveSettings, type Settings } from './persist.ts';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kedge-fw-settings-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a missing settings file gives defaults without the defaulted flag (first boot)', (t) => {
  const file = path.join(tempDir(t), 'node.json');
  assert.deepEqual(loadSettings(file), { settings: DEFAULT_SETTINGS, defaulted: false });
});

test('saved settings load back unchanged and no temp file is left behind', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'node.json');
  const settings: Settings = {
    samplingPeriodMs: 2500,
    calibration: { turbidity: { kind: 'polynomial', coefficients: [1, 2, 0, 0] }, water_level: { kind: 'two-point', raw: [0, 1], value: [2, 3] } },
    bootCount: 7,
  };
  saveSettings(file, settings);
  assert.deepEqual(loadSettings(file), { settings, defaulted: false });
  assert.deepEqual(readdirSync(dir), ['node.json']);
});

test('a corrupt settings file gives defaults, the defaulted flag and the parse problem', (t) => {
  const file = path.join(tempDir(t), 'node.json');
  writeFileSync(file, '{"samplingPeriodMs": 10');
  const loaded = loadSettings(file);
  assert.deepEqual(loaded.settings, DEFAULT_SETTINGS);
  assert.equal(loaded.defaulted, true);
  assert.match(loaded.problem!, /is not JSON/);
});

test('an invalid settings file gives defaults but keeps a readable boot counter', (t) => {
  const file = path.join(tempDir(t), 'node.json');
  writeFileSync(file, JSON.stringify({ samplingPeriodMs: 5, calibration: { ph: { kind: 'polynomial', coefficients: [1] } }, bootCount: 41 }));
  const loaded = loadSettings(file);
  assert.deepEqual(loaded.settings, { ...DEFAULT_SETTINGS, bootCount: 41 });
  assert.equal(loaded.defaulted, true);
  assert.match(loaded.problem!, /samplingPeriodMs: .*100/);
  assert.match(loaded.problem!, /calibration/);
});

test('a calibration that cannot work (two equal raw points) makes the file invalid', (t) => {
  const file = path.join(tempDir(t), 'node.json');
  writeFileSync(file, JSON.stringify({ samplingPeriodMs: 1000, calibration: { turbidity: { kind: 'two-point', raw: [3, 3], value: [0, 1] } }, bootCount: 1 }));
  const loaded = loadSettings(file);
  assert.equal(loaded.defaulted, true);
  assert.match(loaded.problem!, /calibration\.turbidity: two-point calibration needs two different raw points/);
});

test('saveSettings refuses invalid settings and leaves the old file intact', (t) => {
  const file = path.join(tempDir(t), 'node.json');
  saveSettings(file, { ...DEFAULT_SETTINGS, bootCount: 3 });
  const before = readFileSync(file, 'utf8');
  assert.throws(() => saveSettings(file, { ...DEFAULT_SETTINGS, samplingPeriodMs: 70_000 }));
  assert.equal(readFileSync(file, 'utf8'), before);
});
