/**
 * The JSON fast path (json-config.ts) must read a config exactly as the YAML way does, warnings
 * and their places included (issue 20 review, finding L5). The same text with "\n#" appended is
 * no longer one JSON object, so it takes the YAML way with the same line numbers: the two must
 * give the same config, the same warnings and the same errors, for texts full of what the two
 * parsers could plausibly treat differently.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { runs } from '@kedge/testkit/fuzz.ts';
import { plainJsonConfig } from './json-config.ts';
import { ConfigError, parseConfigWithWarnings, type CheckedConfig } from './load.ts';

const EXAMPLE = new URL('../../../config/kedge.example.yaml', import.meta.url);
const example = () => parseYaml(readFileSync(EXAMPLE, 'utf8')) as { devices: Array<Record<string, unknown> & { points: Array<Record<string, unknown>> }> } & Record<string, unknown>;

type Outcome = { ok: CheckedConfig } | { error: Array<[string, number | undefined, number | undefined, string]> };
function outcome(text: string): Outcome {
  try {
    return { ok: parseConfigWithWarnings(text, 'c', '/etc/kedge') };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { error: err.issues.map((i) => [i.path, i.line, i.column, i.message]) };
  }
}
const warningsOf = (o: Outcome) => ('ok' in o ? o.ok.warnings.map((w) => [w.path, w.line, w.column, w.message]) : null);

/** Both ways of one text: through JSON.parse, and forced through YAML by a trailing comment. */
function bothWays(text: string): { json: Outcome; yaml: Outcome } {
  return { json: outcome(text), yaml: outcome(`${text}\n#`) };
}
function assertSame(text: string, what: string): Outcome {
  const { json, yaml } = bothWays(text);
  assert.deepEqual(json, yaml, what);
  return json;
}

test('warnings from unknown keys, __proto__, 1e400, tabs and a BOM: the JSON way and the YAML way agree, line for line', () => {
  const c = example();
  // Valid but probably wrong: a Modicon-style address (40001) and two overlapping registers.
  c.devices[0]!.points[0]!['address'] = 40001;
  c.devices[0]!.points[1]!['address'] = c.devices[0]!.points[2]!['address'];
  const base = JSON.stringify(c, null, 2);
  assert.notEqual(plainJsonConfig(base), undefined, 'the base text takes the JSON way');
  assert.equal(plainJsonConfig(`${base}\n#`), undefined, 'and with the comment, the YAML way');
  const baseWarnings = warningsOf(assertSame(base, 'the base'))!;
  assert.ok(baseWarnings.length >= 2 && baseWarnings.every(([, line]) => typeof line === 'number'), `warnings with their lines: ${JSON.stringify(baseWarnings)}`);
  const anchor = '"driver": "modbus-tcp"';
  for (const [what, text, refused] of [
    ['an unknown key (refused, at its line)', base.replace(anchor, `${anchor}, "colour": "red"`), true],
    ['__proto__', base.replace(anchor, `${anchor}, "__proto__": {"polluted": true}`), true],
    ['1e400', base.replace(/"intervalMs": (\d+)/, '"intervalMs": 1e400'), true],
    ['tabs between the tokens', base.replace(/\n {2}/g, '\n\t'), false],
    ['a BOM', `\uFEFF${base}`, false],
  ] as const) {
    const got = assertSame(text, what);
    assert.equal('error' in got, refused, `${what}: ${JSON.stringify(got).slice(0, 300)}`);
    if ('error' in got) assert.ok(got.error.every(([, line]) => typeof line === 'number'), `${what}: every problem located: ${JSON.stringify(got.error)}`);
    else assert.deepEqual(warningsOf(got)!.map(([p, , , m]) => [p, m]), baseWarnings.map(([p, , , m]) => [p, m]), `${what}: the same warnings`);
  }
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'no prototype polluted');
});

test('random small edits of the example as JSON: both ways give the same outcome', () => {
  const keys = fc.constantFrom('intervalMs', 'address', 'unknownKey', '__proto__', 'constructor', 'type', 'scale', 'id');
  const values = fc.oneof(
    fc.constantFrom<unknown>(1e400, -1e400, -0, 0, 1.5, 2 ** 53, 'holding', '', null, true, [], {}),
    fc.string({ maxLength: 6 }),
    fc.integer(),
  );
  fc.assert(
    fc.property(fc.nat({ max: 3 }), keys, values, fc.boolean(), (device, key, value, tabs) => {
      const c = example();
      const d = c.devices[device % c.devices.length]!;
      const text0 = JSON.stringify(c, null, 2);
      // Insert the member textually (JSON.stringify drops __proto__ set as a key and writes 1e400 as null).
      const raw = typeof value === 'number' && !Number.isFinite(value) ? (value > 0 ? '1e400' : '-1e400') : Object.is(value, -0) ? '-0' : JSON.stringify(value);
      const anchor = `"id": ${JSON.stringify(d['id'])}`;
      let text = text0.replace(anchor, `${anchor}, ${JSON.stringify(key)}: ${raw}`);
      if (tabs) text = text.replace(/\n {2}/g, '\n\t');
      assertSame(text, `${key}: ${raw}${tabs ? ' (tabs)' : ''}`);
    }),
    { numRuns: runs(25) },
  );
});
