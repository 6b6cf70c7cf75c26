import test from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TIMER_MS, OffsetClock, type Clock } from '@kedge/cloud-sync/clock.ts';
import type { DeviceDriver, PollResult } from '../drivers/driver.ts';
import { Scheduler } from './scheduler.ts';

const YEAR = 365 * 86_400_000;
const INTERVAL = 1000;
/** Generous: a test that hangs on a loaded machine must still end with a message. */
const TEST_LIMIT_MS = 60_000;

const OK: PollResult = { samples: [], requests: 1, failed: false };

/** A driver that records the monotonic time of every poll and can tell when the n-th has come. */
function recordingDriver(mono: () => number, result: () => PollResult = () => OK) {
  const at: number[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const driver: DeviceDriver = {
    deviceId: 'meter',
    async poll() {
      at.push(mono());
      for (const w of waiters.filter((x) => at.length >= x.n)) w.resolve();
      return result();
    },
    async close() {},
  };
  const polled = (n: number) => new Promise<void>((resolve) => (at.length >= n ? resolve() : waiters.push({ n, resolve })));
  return { driver, at, polled };
}

const JUMPS = [
  ['back a year', -YEAR],
  ['back ten minutes', -600_000],
  ['ahead a year', YEAR],
  ['ahead ten minutes', 600_000],
] as const;

for (const [name, jump] of JUMPS) {
  test(`with the wall clock set ${name}, polling stays on its ${INTERVAL} ms grid (injected clock, mock timers)`, async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const base: Clock & { t: number } = { t: 0, mono: () => base.t, wall: () => Date.UTC(2026, 11, 1) + base.t };
    const clock = new OffsetClock(base);
    const { driver, at } = recordingDriver(() => clock.mono());
    const scheduler = new Scheduler([{ driver, groups: [{ intervalMs: INTERVAL, pointIds: ['p'] }], backoff: { minMs: 100, maxMs: 400 } }], () => {}, clock);
    // Moves both the test's monotonic clock and the mocked timers, in steps, letting each poll settle.
    const advance = async (ms: number) => {
      for (let done = 0; done < ms; done += 50) {
        base.t += 50;
        t.mock.timers.tick(50);
        await new Promise((r) => setImmediate(r));
      }
    };
    scheduler.start();
    t.mock.timers.tick(0);
    await new Promise((r) => setImmediate(r));
    await advance(5 * INTERVAL);
    const before = at.length;
    clock.jump(jump);
    await advance(5 * INTERVAL);
    await scheduler.stop();

    assert.equal(before, 6, `polls at 0..5 s: ${at.join(', ')}`);
    assert.equal(at.length, 11, `five more polls after the jump, no more (no spinning), no fewer: ${at.join(', ')}`);
    assert.deepEqual(
      at.map((x, i) => x - i * INTERVAL),
      at.map(() => 0),
      'every poll on the grid',
    );
    const s = scheduler.states()[0]!;
    assert.equal(s.lastPollMono, 10 * INTERVAL);
    assert.equal(s.lastPollAt, Date.UTC(2026, 11, 1) + 10 * INTERVAL + jump, 'the UI still sees the wall clock (as wrong as it is)');
  });
}

test('the default clock is monotonic: Date.now() set back a year and ahead again does not stop polling (the field failure)', { timeout: TEST_LIMIT_MS }, async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: Date.UTC(2026, 11, 1) });
  const { driver, at, polled } = recordingDriver(() => performance.now());
  const scheduler = new Scheduler([{ driver, groups: [{ intervalMs: 20, pointIds: ['p'] }], backoff: { minMs: 20, maxMs: 20 } }], () => {});
  t.after(() => scheduler.stop());
  scheduler.start();
  await polled(3);
  t.mock.timers.setTime(Date.UTC(2025, 11, 1));
  await polled(8);
  t.mock.timers.setTime(Date.UTC(2026, 11, 1) + 600_000);
  await polled(13);
  await scheduler.stop();
  // Only a lower bound: on the interval's grid a loaded machine polls later (and skips what it
  // missed), never earlier; a spinning or bursting loop would run ahead of the grid.
  const ahead = at.map((x, i) => at[0]! + i * 20 - 1 - x).filter((d) => d > 0);
  assert.deepEqual(ahead, [], `polls ahead of the 20 ms grid: ${at.map((x) => (x - at[0]!).toFixed(1)).join(', ')}`);
});

test('an interval or a backoff beyond 2^31 ms is waited in parts: setTimeout never gets a delay it would turn into 1 ms', { timeout: TEST_LIMIT_MS }, async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));

  const huge = 2 ** 32;
  const slow = recordingDriver(() => performance.now());
  const dead = recordingDriver(
    () => performance.now(),
    () => ({ samples: [], requests: 1, failed: true, error: 'timeout' }),
  );
  const fast = recordingDriver(() => performance.now());
  const scheduler = new Scheduler(
    [
      { driver: { ...slow.driver, deviceId: 'yearly' }, groups: [{ intervalMs: huge, pointIds: ['p'] }], backoff: { minMs: 100, maxMs: 400 } },
      { driver: { ...dead.driver, deviceId: 'dead' }, groups: [{ intervalMs: 20, pointIds: ['p'] }], backoff: { minMs: huge, maxMs: huge } },
      { driver: { ...fast.driver, deviceId: 'fast' }, groups: [{ intervalMs: 10, pointIds: ['p'] }], backoff: { minMs: 10, maxMs: 10 } },
    ],
    () => {},
  );
  t.after(() => scheduler.stop());
  scheduler.start();
  // The positive event that proves the window passed: the fast device polled 30 times.
  await fast.polled(30);
  await scheduler.stop();
  assert.equal(slow.at.length, 1, 'the yearly device polled once');
  assert.equal(dead.at.length, 1, 'the dead device waits out its backoff');
  assert.deepEqual(
    warnings.filter((w) => w.startsWith('TimeoutOverflowWarning')),
    [],
    `no delay above ${MAX_TIMER_MS} ms reached setTimeout`,
  );
  const dueIn = scheduler.states().find((s) => s.deviceId === 'dead')!.backoffUntil! - Date.now();
  assert.ok(dueIn > MAX_TIMER_MS, 'the backoff itself is kept, only the timer is split');
});
