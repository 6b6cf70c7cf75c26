import test from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkConfigFile, formatWarnings, parseConfigWithWarnings } from './load.ts';

/**
 * One file per case in testcases/warnings/: a valid config that is probably wrong. Its leading
 * comments say what must be warned: `# warn: <line> <path>` per warning (or `# warn: none`),
 * and `# warn-text: <substring>` lines that the warnings' messages must contain.
 */
const dir = fileURLToPath(new URL('./testcases/warnings/', import.meta.url));
const cases = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();

test('every warning case declares its expectation', () => {
  assert.ok(cases.length >= 5);
  for (const file of cases) assert.match(readFileSync(join(dir, file), 'utf8'), /^# warn: (none|\d+ \S+)/, file);
});

for (const file of cases) {
  const text = readFileSync(join(dir, file), 'utf8');
  const expected = [...text.matchAll(/^# warn: (\d+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
  const texts = [...text.matchAll(/^# warn-text: (.+)$/gm)].map((m) => m[1]!);
  const what = file.replace(/\.yaml$/, '').replaceAll('-', ' ');
  test(`${what}: the config is accepted, with ${expected.length ? expected.join(', ') : 'no warning'}`, async () => {
    const { config, warnings } = await checkConfigFile(join(dir, file));
    assert.ok(config.devices.length > 0, 'a warning never refuses the file');
    assert.deepEqual(
      warnings.map((w) => `${w.line} ${w.path}`),
      expected,
      warnings.map((w) => w.message).join('\n'),
    );
    const all = warnings.map((w) => w.message).join('\n');
    for (const t of texts) assert.ok(all.includes(t), `expected "${t}" in:\n${all}`);
  });
}

test('warnings print like problems, file:line:column path, marked as warnings', () => {
  const text = readFileSync(join(dir, 'modicon-4xxxx-holding.yaml'), 'utf8');
  const { warnings } = parseConfigWithWarnings(text, 'meter.yaml');
  const [line] = formatWarnings('meter.yaml', warnings);
  assert.match(line!, /^meter\.yaml:\d+:\d+ devices\[0\]\.points\[0\]\.address: warning: address 40001 looks like Modicon notation/);
});
