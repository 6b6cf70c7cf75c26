import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertOneByteSources, firstTwoByteChar } from './one-byte-source.ts';

test('Latin-1 text (ASCII, and é = U+00E9) stays one-byte in V8: no spot', () => {
  assert.equal(firstTwoByteChar('const a = "caf\u00e9"; /x+/.test(a);'), null);
});

test('a Cyrillic letter left in a regular expression is found, with its code and context', () => {
  const spot = firstTwoByteChar('x.replace(/\\s+(\u0441|with)\\s.*$/, "")');
  assert.ok(spot);
  assert.equal(spot.char, '\\u0441');
  assert.equal(spot.offset, 15);
  assert.match(spot.context, /replace/);
});

test('the build check names every offending chunk and passes clean ones', () => {
  assert.doesNotThrow(() => assertOneByteSources([['a.mjs', 'plain']]));
  assert.throws(
    () => assertOneByteSources([['a.mjs', 'plain'], ['start-web.mjs', 'ok \u2026 then'], ['b.mjs', '/\u0441\u043e/']]),
    (err: Error) => /start-web\.mjs: \\u2026/.test(err.message) && /b\.mjs: \\u0441/.test(err.message) && !/a\.mjs/.test(err.message),
  );
});
