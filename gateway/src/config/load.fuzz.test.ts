import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { runs } from '@kedge/testkit/fuzz.ts';
import { ConfigError, parseConfig } from './load.ts';

const EXAMPLE = readFileSync(new URL('../../../config/kedge.example.yaml', import.meta.url), 'utf8');

/** parseConfig may accept or refuse, but a refusal is always a ConfigError with located issues. */
function acceptsOrExplains(text: string): void {
  try {
    parseConfig(text, 'fuzz.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `not a ConfigError: ${(err as Error).stack}`);
    assert.ok(err.issues.length > 0);
    for (const issue of err.issues) assert.ok(issue.message.length > 0);
  }
}

test('arbitrary text never crashes the config parser', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 400 }), acceptsOrExplains), { numRuns: runs(400) });
});

test('arbitrary YAML-like documents never crash the config parser', () => {
  const yamlish = fc.array(
    fc.oneof(
      fc.constantFrom('gateway:', 'devices:', '  - id: x', '    points:', 'uplink:', '  url: mqtt://h', '&a', '*a', '<<: *a', '---', '? x', '!!binary', '{', '[', '"', "'", '\t', '#'),
      fc.string({ maxLength: 20 }),
    ),
    { maxLength: 30 },
  );
  fc.assert(fc.property(yamlish, (lines) => acceptsOrExplains(lines.join('\n'))), { numRuns: runs(400) });
});

test('the example config with any one line cut or duplicated is accepted or refused with a located message', () => {
  const lines = EXAMPLE.split('\n');
  fc.assert(
    fc.property(fc.integer({ min: 0, max: lines.length - 1 }), fc.boolean(), fc.string({ maxLength: 12 }), (i, cut, junk) => {
      const mutated = [...lines];
      if (cut) mutated.splice(i, 1);
      else mutated.splice(i, 0, `${mutated[i]}${junk}`);
      acceptsOrExplains(mutated.join('\n'));
    }),
    { numRuns: runs(200) },
  );
});

test('any JSON value as a whole config is refused with a ConfigError, never an exception', () => {
  fc.assert(fc.property(fc.jsonValue(), (v) => acceptsOrExplains(JSON.stringify(v) ?? 'null')), { numRuns: runs(300) });
});
