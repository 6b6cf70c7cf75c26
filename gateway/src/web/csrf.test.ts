/**
 * The CSRF token is compared in constant time (crypto.timingSafeEqual, auth/routes.ts
 * csrfMatches); the behaviour over real HTTP stays: only the session's exact token passes.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { csrfMatches } from './auth/routes.ts';
import { webFixture } from './test-fixture.ts';

test('a state-changing request passes only with the exact X-CSRF-Token of its session', async (t) => {
  const f = await webFixture();
  t.after(() => f.close());
  const owner = await f.setup();
  const other = await f.login('admin', 'correct horse battery');
  await f.web.app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(f.web.app.server.address() as { port: number }).port}/api/tokens`;
  const post = async (csrf: string | undefined) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { cookie: owner.cookie, 'content-type': 'application/json', ...(csrf === undefined ? {} : { 'x-csrf-token': csrf }) },
      body: JSON.stringify({ name: `n${Math.random().toString(36).slice(2)}`, scopes: ['live'] }),
    });
    return { status: res.status, error: ((await res.json()) as { error?: string }).error };
  };
  const token = owner.csrf;
  const flipped = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
  const refused = {
    missing: undefined,
    empty: '',
    'last character changed (same length)': flipped,
    'a prefix': token.slice(0, -1),
    'the token and more': `${token}A`,
    "another session's token": other.csrf,
    'the token twice': `${token}, ${token}`,
  };
  for (const [what, csrf] of Object.entries(refused)) assert.deepEqual(await post(csrf), { status: 403, error: 'csrf' }, what);
  assert.equal((await post(token)).status, 201);
});

test('csrfMatches: equal strings only, whatever the lengths and header shapes', () => {
  assert.equal(csrfMatches('abc', 'abc'), true);
  assert.equal(csrfMatches('abd', 'abc'), false);
  assert.equal(csrfMatches('ab', 'abc'), false);
  assert.equal(csrfMatches('abcd', 'abc'), false);
  assert.equal(csrfMatches(undefined, 'abc'), false);
  assert.equal(csrfMatches(['abc'], 'abc'), false);
  // Same length in characters, not in bytes: no throw from timingSafeEqual.
  assert.equal(csrfMatches('ab\u00e9', 'abc'), false);
});
