import test from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '@kedge/cloud-sync/clock.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import type { DeviceDriver, PollResult } from '../drivers/driver.ts';
import { Scheduler, type DeviceState, type PollGroup, type ScheduledDevice } from './scheduler.ts';

interface Call {
  pointIds: string[];
  /** Date.now() when poll() was entered. */
  at: number;
  /** Scheduler state of this device as poll() was entered: the outcome of the previous poll. */
  stateBefore: DeviceState | undefined;
}

type Behaviour = (n: number, pointIds: readonly string[]) => PollResult | Promise<PollResult>;

const OK: PollResult = { samples: [], requests: 1, failed: false };
const FAILED: PollResult = { samples: [], requests: 1, failed: true, error: 'timeout after 1000 ms' };

/** A DeviceDriver that records every poll call (points, time, the scheduler's view of the device). */
class FakeDriver implements DeviceDriver {
  readonly calls: Call[] = [];
  inFlight = 0;
  maxInFlight = 0;
  closed = false;
  /** Set once the scheduler exists, so a poll can see the state the previous poll left. */
  stateOf: () => DeviceState | undefined = () => undefined;

  constructor(
    readonly deviceId: string,
    private readonly behave: Behaviour = () => OK,
  ) {}

  async poll(pointIds: readonly string[]): Promise<PollResult> {
    const n = this.calls.length;
    this.calls.push({ pointIds: [...pointIds].sort(), at: Date.now(), stateBefore: this.stateOf() });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      return await this.behave(n, pointIds);
    } finally {
      this.inFlight--;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

interface Reported {
  deviceId: string;
  result: PollResult;
}

function device(driver: DeviceDriver, groups: PollGroup[], backoff = { minMs: 100, maxMs: 400 }): ScheduledDevice {
  return { driver, groups, backoff };
}

/** Starts a scheduler over the devices; stopped after the test. */
function run(t: test.TestContext, devices: ScheduledDevice[], clock?: Clock) {
  const reported: Reported[] = [];
  const scheduler = new Scheduler(devices, (deviceId, result) => reported.push({ deviceId, result }), clock);
  for (const d of devices) {
    if (d.driver instanceof FakeDriver) {
      const id = d.driver.deviceId;
      d.driver.stateOf = () => scheduler.states().find((s) => s.deviceId === id);
    }
  }
  t.after(() => scheduler.stop());
  scheduler.start();
  return { scheduler, reported };
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Backoff the scheduler chose after a poll: backoffUntil is counted from the end of the poll. */
function backoffAfter(s: DeviceState): number | null {
  return s.backoffUntil === null ? null : s.backoffUntil - s.lastPollAt! - s.lastDurationMs!;
}

test('groups that fall due together are read in ONE poll with the union of their points', async (t) => {
  const driver = new FakeDriver('meter');
  run(t, [
    device(driver, [
      { intervalMs: 100, pointIds: ['a', 'b'] },
      { intervalMs: 300, pointIds: ['c'] },
    ]),
  ]);
  await waitFor(() => driver.calls.filter((c) => c.pointIds.includes('c')).length >= 3, { intervalMs: 5, what: '3 polls of c' });

  assert.deepEqual(driver.calls[0]!.pointIds, ['a', 'b', 'c'], 'both groups are due at start: one poll');
  const shapes = new Set(driver.calls.map((c) => c.pointIds.join(',')));
  assert.deepEqual([...shapes].sort(), ['a,b', 'a,b,c'], 'c is never read on its own: when it is due, so is the 100 ms group');
});

test('a 50 ms group is polled about 3 times as often as a 150 ms group of the same device', async (t) => {
  const time = virtualTime(t);
  const driver = new FakeDriver('meter');
  const { scheduler } = run(
    t,
    [
      device(driver, [
        { intervalMs: 50, pointIds: ['fast'] },
        { intervalMs: 150, pointIds: ['slow'] },
      ]),
    ],
    time.clock,
  );
  await time.advance(600);
  await scheduler.stop();
  const fast = driver.calls.filter((c) => c.pointIds.includes('fast')).length;
  const slow = driver.calls.filter((c) => c.pointIds.includes('slow')).length;
  // 0..600 ms inclusive: 13 fast polls for 5 slow ones (3 per slow cycle, plus the one at start).
  assert.deepEqual({ fast, slow }, { fast: 13, slow: 5 });
  assert.equal(driver.calls.length, fast, 'every poll contains the fast group (none asks for no points)');
});

test('a point listed in two groups due together is asked for once', async (t) => {
  const driver = new FakeDriver('meter');
  const { scheduler } = run(t, [
    device(driver, [
      { intervalMs: 100, pointIds: ['a', 'b'] },
      { intervalMs: 100, pointIds: ['b', 'c'] },
    ]),
  ]);
  await waitFor(() => driver.calls.length >= 1, { intervalMs: 5 });
  await scheduler.stop();
  assert.deepEqual(driver.calls[0]!.pointIds, ['a', 'b', 'c']);
});

test('a failing device backs off exponentially from minMs, capped at maxMs: 100, 200, 400, 400', async (t) => {
  const time = virtualTime(t);
  const driver = new FakeDriver('dead', () => FAILED);
  const { scheduler, reported } = run(t, [device(driver, [{ intervalMs: 50, pointIds: ['p'] }], { minMs: 100, maxMs: 400 })], time.clock);
  await time.advance(1100); // 0, 100, 300, 700, 1100
  await scheduler.stop();
  assert.equal(driver.calls.length, 5);

  const after = driver.calls.slice(1, 5).map((c) => c.stateBefore!);
  assert.deepEqual(after.map(backoffAfter), [100, 200, 400, 400]);
  assert.deepEqual(
    after.map((s) => s.consecutiveFailures),
    [1, 2, 3, 4],
  );
  assert.deepEqual(
    after.map((s) => s.failures),
    [1, 2, 3, 4],
  );
  assert.ok(after.every((s) => s.lastError === 'timeout after 1000 ms' && s.lastOkAt === null));
  // The loop really waits: poll starts are exactly the backoff apart.
  const gaps = driver.calls.slice(0, 5).map((c, i, a) => (i === 0 ? 0 : c.at - a[i - 1]!.at)).slice(1);
  assert.deepEqual(gaps, [100, 200, 400, 400]);
  assert.ok(reported.slice(0, 5).every((r) => r.deviceId === 'dead' && r.result.failed));
});

test('a successful poll resets the backoff: the next failure starts again from minMs', async (t) => {
  // fail, fail, fail, ok, fail, ok...
  const driver = new FakeDriver('flaky', (n) => (n < 3 || n === 4 ? FAILED : OK));
  const { scheduler } = run(t, [device(driver, [{ intervalMs: 20, pointIds: ['p'] }], { minMs: 50, maxMs: 1000 })]);
  await waitFor(() => driver.calls.length >= 6, { intervalMs: 5, timeoutMs: 5000, what: '6 polls' });
  await scheduler.stop();

  const after = driver.calls.slice(1, 6).map((c) => c.stateBefore!);
  assert.deepEqual(after.map(backoffAfter), [50, 100, 200, null, 50]);
  assert.deepEqual(
    after.map((s) => s.consecutiveFailures),
    [1, 2, 3, 0, 1],
  );
  assert.deepEqual(
    after.map((s) => s.failures),
    [1, 2, 3, 3, 4],
  );
  const recovered = after[3]!;
  assert.equal(recovered.lastError, null);
  assert.equal(recovered.backoffUntil, null);
  assert.equal(recovered.lastOkAt, recovered.lastPollAt! + recovered.lastDurationMs!);
});

test('a driver that throws (or rejects) is treated as a failed poll and the loop goes on', async (t) => {
  const rejecting = new FakeDriver('rejects', () => Promise.reject(new Error('boom')));
  const throwing: DeviceDriver & { polls: number } = {
    deviceId: 'throws',
    polls: 0,
    poll() {
      this.polls++;
      throw new Error('sync boom');
    },
    async close() {},
  };
  const { scheduler, reported } = run(t, [
    device(rejecting, [{ intervalMs: 10, pointIds: ['p'] }], { minMs: 10, maxMs: 20 }),
    device(throwing, [{ intervalMs: 10, pointIds: ['p'] }], { minMs: 10, maxMs: 20 }),
  ]);
  await waitFor(() => rejecting.calls.length >= 4 && throwing.polls >= 4, { intervalMs: 5, what: '4 polls of each throwing driver' });
  await scheduler.stop();

  const failedOf = (id: string) => reported.filter((r) => r.deviceId === id).map((r) => r.result);
  // Even a driver bug shows at the center: its points get one bad reading with the reason.
  const outage = (error: string) => ({ samples: [{ point: 'p', ts: 0, value: null, quality: 'bad_comm', error }], requests: 0, failed: true, error });
  const zeroTs = (r: PollResult | undefined) => r && { ...r, samples: r.samples.map((s) => ({ ...s, ts: 0 })) };
  assert.deepEqual(zeroTs(failedOf('rejects')[0]), outage('driver error: boom'));
  assert.deepEqual(zeroTs(failedOf('throws')[0]), outage('driver error: sync boom'));
  const [a, b] = scheduler.states();
  assert.equal(a!.polls, rejecting.calls.length);
  assert.equal(a!.failures, a!.polls);
  assert.equal(a!.consecutiveFailures, a!.polls);
  assert.equal(a!.lastError, 'driver error: boom');
  assert.equal(b!.polls, throwing.polls);
  assert.equal(b!.lastError, 'driver error: sync boom');
});

/**
 * Virtual time for the tests about timing: setTimeout and Date are node:test's mock timers and
 * the scheduler's clock reads the mocked Date, so "nothing happened for 5 intervals" means five
 * intervals of the scheduler's own time passed, however loaded the machine is.
 */
function virtualTime(t: test.TestContext): { clock: Clock; advance(ms: number): Promise<void> } {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  const clock: Clock = { mono: () => Date.now(), wall: () => Date.now() };
  // setImmediate is not mocked: one turn runs every promise continuation a timer started.
  const settle = () => new Promise<void>((r) => setImmediate(r));
  return {
    clock,
    async advance(ms: number) {
      t.mock.timers.tick(0); // timers due now (setTimeout 0)
      await settle();
      for (let done = 0; done < ms; done++) {
        t.mock.timers.tick(1);
        await settle();
      }
    },
  };
}

/** A promise resolved by a (mocked) timer: a poll that takes `ms` of virtual time. */
const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

test('stop() waits for the poll in progress, reports it, and no poll happens after stop', async (t) => {
  const time = virtualTime(t);
  const release = deferred<PollResult>();
  const driver = new FakeDriver('meter', (n) => (n === 0 ? release.promise : OK));
  const { scheduler, reported } = run(t, [device(driver, [{ intervalMs: 20, pointIds: ['p'] }])], time.clock);
  await time.advance(0);
  assert.equal(driver.inFlight, 1, 'the first poll is in progress');

  let stopped = false;
  const stopping = scheduler.stop().then(() => (stopped = true));
  await time.advance(60); // three intervals
  assert.equal(stopped, false, 'stop() returned while a poll was still in progress');

  const last: PollResult = { samples: [{ point: 'p', ts: 1, value: 42, quality: 'good' }], requests: 1, failed: false };
  release.resolve(last);
  await stopping;
  assert.equal(stopped, true);
  assert.deepEqual(reported, [{ deviceId: 'meter', result: last }], 'the readings of the last poll are not thrown away');

  await time.advance(100); // five intervals
  assert.equal(driver.calls.length, 1, 'no poll after stop()');
  assert.equal(reported.length, 1);
  assert.equal(scheduler.states()[0]!.polls, 1);
});

test('stop() right after start() means no poll at all', async (t) => {
  const time = virtualTime(t);
  const driver = new FakeDriver('meter');
  const { scheduler } = run(t, [device(driver, [{ intervalMs: 10, pointIds: ['p'] }])], time.clock);
  await scheduler.stop();
  await time.advance(50); // five intervals
  assert.equal(driver.calls.length, 0);
});

test('devices are independent: a device whose poll takes 500 ms does not hold up another one', async (t) => {
  const time = virtualTime(t);
  const slow = new FakeDriver('slow', () => after(500, OK));
  const fast = new FakeDriver('fast');
  const { scheduler, reported } = run(
    t,
    [device(slow, [{ intervalMs: 100, pointIds: ['s'] }]), device(fast, [{ intervalMs: 50, pointIds: ['f'] }])],
    time.clock,
  );
  await time.advance(500);
  assert.ok(reported.some((r) => r.deviceId === 'slow'), 'the slow poll finished');
  const slowEnd = Date.now();
  await scheduler.stop();

  const slowStart = slow.calls[0]!.at;
  const fastMeanwhile = fast.calls.filter((c) => c.at >= slowStart && c.at <= slowEnd).length;
  // On the 50 ms grid from 0 to 500 ms inclusive: 11 polls, none waiting for the slow device.
  assert.equal(fastMeanwhile, 11, `fast device polled ${fastMeanwhile} times during the slow poll`);
  assert.equal(slow.maxInFlight, 1, 'a device is never polled twice at once, even when a poll outlasts its interval');
});

test('cycles missed during a long poll are skipped, not caught up in a burst', async (t) => {
  const time = virtualTime(t);
  // Interval 100 ms, the first poll takes 250 ms: the next poll is on the grid at 300 ms, not at once.
  const driver = new FakeDriver('meter', (n) => (n === 0 ? after(250, OK) : OK));
  const { scheduler } = run(t, [device(driver, [{ intervalMs: 100, pointIds: ['p'] }])], time.clock);
  await time.advance(450);
  await scheduler.stop();
  const [c0, c1, c2, c3] = driver.calls;
  assert.equal(c1!.at - c0!.at, 300, 'second poll on the grid after the long one');
  assert.equal(c2!.at - c0!.at, 400, 'third poll one interval later');
  assert.equal(c3, undefined, 'no burst of catch-up polls');
});

test('a poll listener that throws does not stop the device loop', async (t) => {
  let polls = 0;
  const driver: DeviceDriver = {
    deviceId: 'd',
    async poll() {
      polls++;
      return { samples: [], requests: 1, failed: false };
    },
    async close() {},
  };
  const scheduler = new Scheduler([{ driver, groups: [{ intervalMs: 20, pointIds: ['p'] }], backoff: { minMs: 20, maxMs: 20 } }], () => {
    throw new Error('disk full');
  });
  scheduler.start();
  t.after(() => scheduler.stop());
  await waitFor(() => polls >= 3, { what: 'three polls despite the failing listener' });
  assert.match(scheduler.states()[0]!.lastError ?? '', /poll listener failed: disk full/);
});
