/**
 * Finding 3 of issue 13: the login throttle could be raced (40 parallel wrong passwords all got
 * 401, none 429) and a trickle of failures from anywhere kept the owner out for good. Attacked
 * over real HTTP on 127.0.0.1, each client from its own loopback address (127.0.0.x), with a
 * simulated clock: the lock windows pass by setting the clock, not by waiting.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import test from 'node:test';
import { addressKey, LoginThrottle } from './auth/throttle.ts';
import { SessionStore } from './auth/sessions.ts';
import { PASSWORD, webFixture, type Fixture } from './test-fixture.ts';

const FREE_FAILURES = 5;
const BASE_LOCK_MS = 1000;
const MAX_LOCK_MS = 15 * 60_000;

interface Running {
  f: Fixture;
  clock: { now: number };
  /** Password verifications started, and the most that ran at the same time. */
  hashes: { started: number; inFlight: number; maxInFlight: number };
  login(from: string, password: string): Promise<number>;
  close(): Promise<void>;
}

async function start(): Promise<Running> {
  const clock = { now: Date.UTC(2026, 0, 1) };
  const f = await webFixture({ now: () => clock.now, throttle: { freeFailures: FREE_FAILURES, baseLockMs: BASE_LOCK_MS, maxLockMs: MAX_LOCK_MS } });
  await f.setup();
  const hashes = { started: 0, inFlight: 0, maxInFlight: 0 };
  const users = f.web.ctx.users;
  const verify = users.verify.bind(users);
  users.verify = async (user, password) => {
    hashes.started++;
    hashes.maxInFlight = Math.max(hashes.maxInFlight, ++hashes.inFlight);
    try {
      return await verify(user, password);
    } finally {
      hashes.inFlight--;
    }
  };
  await f.web.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = f.web.app.server.address() as { port: number };
  const login = (from: string, password: string) =>
    new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({ user: 'admin', password });
      // localAddress: Linux routes all of 127/8 to lo, so each client gets its own source address.
      const req = httpRequest({ host: '127.0.0.1', port, localAddress: from, method: 'POST', path: '/api/auth/login', headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.end(body);
    });
  return { f, clock, hashes, login, close: () => f.close() };
}

test('parallel wrong passwords from one address: only the free failures reach the hash, the rest get 429', async () => {
  const r = await start();
  try {
    const statuses = await Promise.all(Array.from({ length: 40 }, () => r.login('127.0.0.2', 'wrong password!')));
    const count = (s: number) => statuses.filter((x) => x === s).length;
    assert.equal(count(401), FREE_FAILURES, statuses.join(' '));
    assert.equal(count(429), 40 - FREE_FAILURES);
    assert.equal(r.hashes.started, FREE_FAILURES);
    // The owner elsewhere is not affected.
    assert.equal(await r.login('127.0.0.3', PASSWORD), 200);
  } finally {
    await r.close();
  }
});

test('a trickle of failures from another address never locks the owner out, and the attacker stays throttled', async () => {
  const r = await start();
  try {
    // Use up the attacker's free failures.
    for (let i = 0; i < FREE_FAILURES; i++) assert.equal(await r.login('127.0.0.2', `guess ${i}`), 401);
    // One guess per lock window, for many windows; right after each, the owner logs in.
    for (let window = 0; window < 30; window++) {
      r.clock.now += MAX_LOCK_MS + 1;
      assert.equal(await r.login('127.0.0.2', `guess in window ${window}`), 401);
      assert.equal(await r.login('127.0.0.2', 'one more right away'), 429, 'the attacker address is locked');
      assert.equal(await r.login('127.0.0.3', PASSWORD), 200, `owner refused in window ${window}`);
    }
    // An owner address with a typo of its own is still let in.
    assert.equal(await r.login('127.0.0.4', 'typo typo typo'), 401);
    assert.equal(await r.login('127.0.0.4', PASSWORD), 200);
  } finally {
    await r.close();
  }
});

test('guesses for one user from many addresses run one hash at a time; the owner still gets in', async () => {
  const r = await start();
  try {
    const guesses = Array.from({ length: 20 }, (_, i) => r.login(`127.0.1.${i + 1}`, `distributed guess ${i}`));
    const owner = r.login('127.0.0.3', PASSWORD);
    const statuses = await Promise.all(guesses);
    assert.deepEqual(new Set(statuses), new Set([401]), 'every address was clean, none is refused');
    assert.equal(await owner, 200);
    assert.equal(r.hashes.maxInFlight, 1);
    assert.equal(r.hashes.started, 21);
  } finally {
    await r.close();
  }
});

test('addresses that failed before are refused while a user name has a full queue of verifications', async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const throttle = new LoginThrottle({ freeFailures: 100, maxQueuedPerUser: 2 });
  const slow = () => gate.then(() => false);
  const first = throttle.attempt('10.0.0.1', 'admin', slow);
  const second = throttle.attempt('10.0.0.2', 'admin', slow);
  // 10.0.0.1 has a (pending) failure on record and the queue is full: refused without hashing.
  assert.deepEqual(await throttle.attempt('10.0.0.1', 'admin', slow), { outcome: 'locked', retryAfterMs: 1000 });
  // A clean address is always let in.
  const clean = throttle.attempt('10.0.0.3', 'admin', async () => true);
  release();
  assert.deepEqual(await Promise.all([first, second, clean]), [{ outcome: 'failed' }, { outcome: 'failed' }, { outcome: 'ok' }]);
});

test('the throttle remembers at most maxEntries addresses and keeps the locked ones longest', () => {
  const clock = { now: 1_000_000 };
  const throttle = new LoginThrottle({ freeFailures: 2, maxEntries: 100, now: () => clock.now });
  throttle.fail('ip:locked');
  throttle.fail('ip:locked');
  assert.ok(throttle.retryAfterMs('ip:locked') > 0);
  // Many distinct user names and addresses: the map stays bounded.
  for (let i = 0; i < 10_000; i++) throttle.fail(`ip:198.51.${i >> 8}.${i & 255}`);
  assert.equal(throttle.size, 100);
  // Every other entry is at its first (free) failure, so the locked one was never evicted.
  assert.ok(throttle.retryAfterMs('ip:locked') > 0);
});

test('IPv6 clients are throttled by /64 (one host owns the whole prefix); IPv4-mapped addresses as IPv4', () => {
  assert.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:db8:1:2:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:0db8:0001:0002::9'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(addressKey('::1'), '0:0:0:0::/64');
  assert.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(addressKey('192.0.2.7'), '192.0.2.7');
});

test('sessions are bounded: beyond the limit the least recently used one ends', () => {
  const clock = { now: 0 };
  const sessions = new SessionStore(3_600_000, () => clock.now, 3);
  const made = Array.from({ length: 3 }, () => {
    clock.now++;
    return sessions.create('admin');
  });
  clock.now++;
  assert.ok(sessions.get(made[0]!.id), 'the oldest, used again, is now the most recent');
  clock.now++;
  const fourth = sessions.create('admin');
  assert.equal(sessions.get(made[1]!.id), null, 'the least recently used one went');
  for (const s of [made[0]!, made[2]!, fourth]) assert.ok(sessions.get(s.id));
  assert.equal(sessions.size, 3);
});
