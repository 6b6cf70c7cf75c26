import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { PASSWORD, webFixture } from './test-fixture.ts';

test('first start: setup is required; the one-time token is in a 0600 file, never on a non-terminal console or in the log', async () => {
  const f = await webFixture();
  try {
    const state = await f.web.app.inject({ method: 'GET', url: '/api/auth/state' });
    assert.equal(state.statusCode, 200);
    assert.deepEqual(state.json(), { setupRequired: true, user: null, csrfToken: null, minPasswordLength: 10 });
    assert.equal(f.announced.length, 1);
    // The fixture's console is not a terminal (like journald): the line names the file, not the token.
    const file = join(f.dir, 'data', 'web', 'setup-token');
    assert.equal(f.announced[0], `web UI: no owner account yet. The one-time setup token is in ${file} (mode 0600, not in this log): sudo cat ${file}`);
    assert.equal(readFileSync(file, 'utf8'), `${f.token}\n`);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(f.token, /^[0-9a-f]{4}(-[0-9a-f]{4}){5}$/);
    assert.equal(existsSync(join(f.dir, 'data', 'web', 'users.json')), false);
    // The token never reaches the log records the UI shows.
    assert.equal(f.logRing.tail(0, 1000).some((l) => JSON.stringify(l.raw).includes(f.token)), false);
  } finally {
    await f.close();
  }
});

test('on a terminal console the token is shown on it as well', async () => {
  const f = await webFixture({ consoleIsTerminal: true });
  try {
    assert.equal(f.announced[0], `web UI: no owner account yet. Open the UI and enter this one-time setup token: ${f.token}`);
  } finally {
    await f.close();
  }
});

test('setup refuses a wrong token and a short password, then stores only a scrypt hash (mode 0600) and spends the token', async () => {
  const f = await webFixture();
  try {
    const post = (payload: object) => f.web.app.inject({ method: 'POST', url: '/api/auth/setup', payload });
    const wrong = await post({ token: '0000-0000-0000-0000-0000-0000', user: 'admin', password: PASSWORD });
    assert.equal(wrong.statusCode, 403);
    assert.equal(wrong.json().error, 'bad_setup_token');
    const short = await post({ token: f.token, user: 'admin', password: 'short' });
    assert.equal(short.statusCode, 400);
    assert.equal(short.json().error, 'weak_password');

    await f.setup();
    assert.equal(existsSync(join(f.dir, 'data', 'web', 'setup-token')), false, 'the spent token file is removed');
    const file = join(f.dir, 'data', 'web', 'users.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const text = readFileSync(file, 'utf8');
    assert.equal(text.includes(PASSWORD), false);
    const stored = JSON.parse(text).users[0];
    assert.equal(stored.user, 'admin');
    assert.deepEqual(stored.params, { N: 1024, r: 8, p: 1, keylen: 64 });
    assert.equal(Buffer.from(stored.hash, 'base64').length, 64);

    const again = await post({ token: f.token, user: 'admin', password: 'another password' });
    assert.equal(again.statusCode, 403);
    assert.equal(again.json().error, 'setup_not_allowed');
    const state = await f.web.app.inject({ method: 'GET', url: '/api/auth/state' });
    assert.equal(state.json().setupRequired, false);
  } finally {
    await f.close();
  }
});

test('the session cookie is HttpOnly, SameSite=Strict, path /; Secure only under HTTPS', async () => {
  for (const https of [false, true]) {
    const f = await webFixture({ https });
    try {
      const res = await f.web.app.inject({ method: 'POST', url: '/api/auth/setup', payload: { token: f.token, user: 'admin', password: PASSWORD } });
      const cookie = res.cookies.find((c) => c.name === 'kedge_session')!;
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, 'Strict');
      assert.equal(cookie.path, '/');
      assert.equal(cookie.secure, https ? true : undefined);
      assert.equal(cookie.value.length, 43);
    } finally {
      await f.close();
    }
  }
});

test('API routes need a session; changes also need the CSRF token of that session', async () => {
  const f = await webFixture();
  try {
    const anon = await f.web.app.inject({ method: 'GET', url: '/api/status' });
    assert.equal(anon.statusCode, 401);
    assert.equal(anon.json().error, 'unauthorized');

    const c = await f.setup();
    assert.equal((await c.request('GET', '/api/status')).statusCode, 200);

    const text = readFileSync(f.configPath, 'utf8');
    const noToken = await f.web.app.inject({ method: 'PUT', url: '/api/config', headers: { cookie: c.cookie }, payload: { text } });
    assert.equal(noToken.statusCode, 403);
    assert.deepEqual(noToken.json(), { error: 'csrf', message: 'missing or wrong X-CSRF-Token header: reload the page and try again' });
    const wrongToken = await c.request('PUT', '/api/config', { text }, { 'x-csrf-token': 'x'.repeat(43) });
    assert.equal(wrongToken.statusCode, 403);
    assert.equal(wrongToken.json().error, 'csrf');
    const logout = await f.web.app.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie: c.cookie } });
    assert.equal(logout.statusCode, 403);

    assert.equal((await c.request('PUT', '/api/config', { text })).statusCode, 200);
    assert.equal((await c.request('POST', '/api/auth/logout')).statusCode, 204);
    assert.equal((await c.request('GET', '/api/status')).statusCode, 401);
  } finally {
    await f.close();
  }
});

test('wrong passwords lock out with growing delays capped at maxLockMs, and the right password works once the lock expires', async () => {
  let now = 1_000_000;
  const f = await webFixture({ now: () => now, throttle: { freeFailures: 3, baseLockMs: 1000, maxLockMs: 8000 } });
  try {
    await f.setup();
    const login = (password: string) => f.web.app.inject({ method: 'POST', url: '/api/auth/login', payload: { user: 'admin', password } });
    for (let i = 0; i < 2; i++) assert.equal((await login('wrong')).statusCode, 401);
    const third = await login('wrong');
    assert.equal(third.statusCode, 401);
    // Locked now: even the right password is refused, with the wait stated.
    const locked = await login(PASSWORD);
    assert.equal(locked.statusCode, 429);
    assert.equal(locked.json().error, 'locked_out');
    assert.equal(locked.json().retryAfterMs, 1000);
    assert.equal(locked.headers['retry-after'], '1');

    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      now += 60_000;
      assert.equal((await login('wrong')).statusCode, 401);
      waits.push((await login(PASSWORD)).json().retryAfterMs);
    }
    assert.deepEqual(waits, [2000, 4000, 8000, 8000, 8000, 8000]);
    now += 8000;
    assert.equal((await login(PASSWORD)).statusCode, 200);
  } finally {
    await f.close();
  }
});

test('the console reset (new setup token) replaces the password, ends old sessions and lifts lockouts', async () => {
  let now = 5_000_000;
  const f = await webFixture({ now: () => now, throttle: { freeFailures: 1, baseLockMs: 60_000, maxLockMs: 900_000 } });
  try {
    const old = await f.setup();
    const login = (password: string) => f.web.app.inject({ method: 'POST', url: '/api/auth/login', payload: { user: 'admin', password } });
    await login('wrong');
    assert.equal((await login(PASSWORD)).statusCode, 429);

    f.token = f.web.issueSetupToken('reset');
    assert.match(f.announced.at(-1)!, /password reset requested on the console/);
    const fresh = await f.setup('a brand new password');
    assert.equal((await old.request('GET', '/api/status')).statusCode, 401);
    assert.equal((await fresh.request('GET', '/api/status')).statusCode, 200);
    assert.equal((await login('a brand new password')).statusCode, 200);
    assert.equal((await login(PASSWORD)).statusCode, 401);
  } finally {
    await f.close();
  }
});
