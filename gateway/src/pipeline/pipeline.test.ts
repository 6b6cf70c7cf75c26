import test from 'node:test';
import assert from 'node:assert/strict';
import type { Reading } from '@kedge/cloud-sync/model.ts';
import { ClockWatch, OffsetClock } from '@kedge/cloud-sync/clock.ts';
import type { Sample } from '../drivers/driver.ts';
import { Pipeline, scale, type PipelinePoint } from './pipeline.ts';

const T0 = 1_700_000_000_000;

function point(key: string, extra: Partial<PipelinePoint> = {}): PipelinePoint {
  return { key, scale: 1, offset: 0, deadband: 0, heartbeatMs: 0, ...extra };
}

function good(pointId: string, ts: number, value: Sample['value']): Sample {
  return { point: pointId, ts, value, quality: 'good' };
}

/** The monotonic clock of the pipelines below (heartbeats); the tests move it. */
let mono = 0;

/** A pipeline over the given points whose sink calls are recorded. */
function pipelineOf(...points: PipelinePoint[]) {
  const sinkCalls: Reading[][] = [];
  const pipeline = new Pipeline(points, (readings) => sinkCalls.push(readings), { mono: () => mono });
  return { pipeline, sinkCalls };
}

/** Ingests one sample `dt` ms after T0 on both clocks (wall stamp and monotonic). */
function at(pipeline: Pipeline, dt: number, sample: (ts: number) => Sample): Reading[] {
  mono = dt;
  return pipeline.ingest('m', [sample(T0 + dt)]);
}

// --- scaling -------------------------------------------------------------------------------

test('a uint16 raw value 2315 with scale 0.1 is logged as exactly 231.5', () => {
  const { pipeline } = pipelineOf(point('m/u', { scale: 0.1 }));
  const out = pipeline.ingest('m', [good('u', T0, 2315)]);
  assert.deepEqual(out, [{ point: 'm/u', ts: T0, value: 231.5, quality: 'good' }]);
});

test('the binary noise of decimal scales is dropped: raw 3 with scale 0.1 is 0.3, not 0.30000000000000004', () => {
  const { pipeline } = pipelineOf(point('m/n', { scale: 0.1 }));
  assert.notEqual(3 * 0.1, 0.3, 'premise: the plain product carries noise');
  assert.deepEqual(pipeline.ingest('m', [good('n', T0, 3)]), [{ point: 'm/n', ts: T0, value: 0.3, quality: 'good' }]);
});

test('12345 with scale 0.001 is logged as exactly 12.345', () => {
  const { pipeline } = pipelineOf(point('m/e', { scale: 0.001 }));
  assert.deepEqual(pipeline.ingest('m', [good('e', T0, 12345)]), [{ point: 'm/e', ts: T0, value: 12.345, quality: 'good' }]);
});

test('the offset is added after scaling: value * scale + offset', () => {
  const { pipeline } = pipelineOf(point('m/t', { scale: 0.5, offset: -40 }), point('m/o', { offset: 273.15 }));
  const out = pipeline.ingest('m', [good('t', T0, 130), good('o', T0, 20)]);
  assert.deepEqual(
    out.map((r) => r.value),
    [25, 293.15],
  );
});

test('a bigint raw value with a scale becomes a number', () => {
  const { pipeline } = pipelineOf(point('m/big', { scale: 0.001 }));
  const [r] = pipeline.ingest('m', [good('big', T0, 123_456_789_012n)]);
  assert.equal(typeof r!.value, 'number');
  assert.equal(r!.value, 123_456_789.012); // the plain product is 123456789.01200001
});

test('a bigint without scale or offset stays a bigint, beyond 2^53 and exactly', () => {
  const { pipeline } = pipelineOf(point('m/big'));
  const big = 2n ** 63n + 5n;
  assert.deepEqual(pipeline.ingest('m', [good('big', T0, big)]), [{ point: 'm/big', ts: T0, value: big, quality: 'good' }]);
});

test('scale() passes booleans and strings through unchanged', () => {
  assert.equal(scale(true, { scale: 10, offset: 1 }), true);
  assert.equal(scale('Кемерово', { scale: 10, offset: 1 }), 'Кемерово');
  assert.equal(scale(null, { scale: 10, offset: 1 }), null);
  assert.equal(scale(7, { scale: 1, offset: 0 }), 7);
});

// --- deadband ------------------------------------------------------------------------------

test('deadband 0 logs every poll, even an unchanged value', () => {
  const { pipeline } = pipelineOf(point('m/v'));
  const logged = [1, 1, 1, 2, 2].map((v, i) => pipeline.ingest('m', [good('v', T0 + i * 1000, v)]).length);
  assert.deepEqual(logged, [1, 1, 1, 1, 1]);
});

test('deadband 0.5 suppresses changes smaller than 0.5 and logs a change of exactly 0.5 or more', () => {
  const { pipeline } = pipelineOf(point('m/v', { deadband: 0.5 }));
  const values = [10, 10.2, 10.4, 10.5, 10.9, 9.9, 9.5];
  const logged = values.flatMap((v, i) => pipeline.ingest('m', [good('v', T0 + i * 1000, v)]).map((r) => r.value));
  // 10 (first) | 10.2, 10.4 inside | 10.5 = 10 + 0.5 | 10.9 inside of 10.5 | 9.9 >= 0.5 below 10.5 | 9.5 inside of 9.9
  assert.deepEqual(logged, [10, 10.5, 9.9]);
});

test('the deadband is measured against the last logged value, not the last polled one (slow drift is logged)', () => {
  const { pipeline } = pipelineOf(point('m/v', { deadband: 0.5 }));
  // Each step is 0.2 from the previous poll: compared poll-to-poll nothing would ever be logged.
  const values = [0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2];
  const logged = values.flatMap((v, i) => pipeline.ingest('m', [good('v', T0 + i, v)]).map((r) => r.value));
  assert.deepEqual(logged, [0, 0.6, 1.2]);
});

test('the deadband applies to the scaled value', () => {
  const { pipeline } = pipelineOf(point('m/v', { scale: 0.1, deadband: 1 }));
  // raw 100 -> 10; raw 109 -> 10.9 (inside); raw 110 -> 11 (logged)
  const logged = [100, 109, 110].flatMap((v, i) => pipeline.ingest('m', [good('v', T0 + i, v)]).map((r) => r.value));
  assert.deepEqual(logged, [10, 11]);
});

// --- heartbeat -----------------------------------------------------------------------------

test('the heartbeat logs an unchanged value once heartbeatMs have passed since the last logged one', () => {
  const { pipeline } = pipelineOf(point('m/v', { deadband: 1, heartbeatMs: 60_000 }));
  const times = [0, 30_000, 59_999, 60_000, 90_000, 119_999, 120_000];
  const loggedTs = times.flatMap((dt) => at(pipeline, dt, (ts) => good('v', ts, 5)).map((r) => r.ts - T0));
  assert.deepEqual(loggedTs, [0, 60_000, 120_000]);
});

test('the heartbeat runs on the monotonic clock: a wall clock set back a year or ahead an hour neither stops nor hurries it', () => {
  const { pipeline } = pipelineOf(point('m/v', { deadband: 1, heartbeatMs: 60_000 }));
  const YEAR = 365 * 86_400_000;
  // [monotonic ms, wall stamp relative to T0]: the wall clock goes back a year at 30 s, then ahead.
  const polls: [number, number][] = [
    [0, 0],
    [30_000, 30_000 - YEAR],
    [59_999, 59_999 - YEAR],
    [60_000, 60_000 - YEAR],
    [90_000, 90_000 + 3_600_000],
    [119_999, 119_999 + 3_600_000],
    [120_000, 120_000 + 3_600_000],
  ];
  const logged = polls.flatMap(([m, dt]) => {
    mono = m;
    return pipeline.ingest('m', [good('v', T0 + dt, 5)]).map(() => m);
  });
  assert.deepEqual(logged, [0, 60_000, 120_000]);
});

test('heartbeatMs 0 means no heartbeat: an unchanged value inside the deadband is never logged again', () => {
  const { pipeline } = pipelineOf(point('m/v', { deadband: 1, heartbeatMs: 0 }));
  const n = [0, 3_600_000, 86_400_000].map((dt) => pipeline.ingest('m', [good('v', T0 + dt, 5)]).length);
  assert.deepEqual(n, [1, 0, 0]);
});

// --- quality -------------------------------------------------------------------------------

test('a change of quality is always logged, even inside the deadband; a bad reading carries value null', () => {
  const { pipeline } = pipelineOf(point('m/v', { deadband: 100, heartbeatMs: 60_000 }));
  const seq: Sample[] = [
    good('v', T0, 50),
    { point: 'v', ts: T0 + 1000, value: 50, quality: 'bad_no_response', error: 'timeout after 1000 ms' },
    { point: 'v', ts: T0 + 2000, value: null, quality: 'bad_no_response', error: 'timeout after 1000 ms' },
    { point: 'v', ts: T0 + 3000, value: null, quality: 'bad_no_response', error: 'timeout after 1000 ms' },
    good('v', T0 + 4000, 50),
  ];
  const logged = seq.flatMap((s) => pipeline.ingest('m', [s]));
  assert.deepEqual(logged, [
    { point: 'm/v', ts: T0, value: 50, quality: 'good' },
    { point: 'm/v', ts: T0 + 1000, value: null, quality: 'bad_no_response' },
    { point: 'm/v', ts: T0 + 4000, value: 50, quality: 'good' },
  ]);
});

test('a repeated bad state is not logged again until the heartbeat', () => {
  const { pipeline } = pipelineOf(point('m/v', { heartbeatMs: 10_000 }));
  const bad = (dt: number): Sample => ({ point: 'v', ts: T0 + dt, value: null, quality: 'bad_comm', error: 'ECONNREFUSED' });
  const loggedTs = [0, 1000, 9_999, 10_000, 15_000, 20_000].flatMap((dt) => {
    mono = dt;
    return pipeline.ingest('m', [bad(dt)]).map((r) => r.ts - T0);
  });
  // deadband 0 does not matter for bad readings: only the heartbeat logs them again
  assert.deepEqual(loggedTs, [0, 10_000, 20_000]);
});

test('a change from one bad quality to another is logged', () => {
  const { pipeline } = pipelineOf(point('m/v'));
  const out = [
    pipeline.ingest('m', [{ point: 'v', ts: T0, value: null, quality: 'bad_no_response' }]),
    pipeline.ingest('m', [{ point: 'v', ts: T0 + 1, value: null, quality: 'bad_device_error' }]),
  ].flat();
  assert.deepEqual(
    out.map((r) => r.quality),
    ['bad_no_response', 'bad_device_error'],
  );
});

// --- non-numeric values --------------------------------------------------------------------

test('booleans and strings: deadband 0 logs every poll, a deadband > 0 logs on change only (whatever its size)', () => {
  const every = pipelineOf(point('m/b'), point('m/s'));
  const onChange = pipelineOf(point('m/b', { deadband: 5 }), point('m/s', { deadband: 5 }));
  const bools = [true, true, false, false, true];
  const strings = ['ок', 'ок', 'авария', 'авария', 'ок'];
  for (const { pipeline } of [every, onChange]) {
    bools.forEach((b, i) => pipeline.ingest('m', [good('b', T0 + i, b), good('s', T0 + i, strings[i]!)]));
  }
  const values = (calls: Reading[][], key: string) => calls.flat().filter((r) => r.point === key).map((r) => r.value);
  assert.deepEqual(values(every.sinkCalls, 'm/b'), bools);
  assert.deepEqual(values(every.sinkCalls, 'm/s'), strings);
  assert.deepEqual(values(onChange.sinkCalls, 'm/b'), [true, false, true]);
  assert.deepEqual(values(onChange.sinkCalls, 'm/s'), ['ок', 'авария', 'ок']);
});

// --- points, live values, sink -------------------------------------------------------------

test('samples of unknown points are ignored: not logged, not live', () => {
  const { pipeline, sinkCalls } = pipelineOf(point('m/v'));
  const out = pipeline.ingest('m', [good('nope', T0, 1), good('v', T0, 2)]);
  assert.deepEqual(out, [{ point: 'm/v', ts: T0, value: 2, quality: 'good' }]);
  assert.deepEqual(pipeline.ingest('other', [good('v', T0, 3)]), []);
  assert.deepEqual([...pipeline.liveValues().keys()], ['m/v']);
  assert.equal(sinkCalls.length, 1);
});

test('live values show the newest sample, suppressed ones included, with the time it was last logged', () => {
  const { pipeline } = pipelineOf(point('m/v', { scale: 0.1, deadband: 1 }));
  pipeline.ingest('m', [good('v', T0, 100)]);
  assert.deepEqual(pipeline.liveValues().get('m/v'), { value: 10, quality: 'good', ts: T0, loggedTs: T0 });
  assert.deepEqual(pipeline.ingest('m', [good('v', T0 + 1000, 103)]), []);
  assert.deepEqual(pipeline.liveValues().get('m/v'), { value: 10.3, quality: 'good', ts: T0 + 1000, loggedTs: T0 });
});

test('a live value carries the error text of a bad sample, and loses it when the point recovers', () => {
  const { pipeline } = pipelineOf(point('m/v'));
  pipeline.ingest('m', [good('v', T0, 1)]);
  pipeline.ingest('m', [{ point: 'v', ts: T0 + 1, value: null, quality: 'bad_no_response', error: 'timeout after 1000 ms' }]);
  assert.deepEqual(pipeline.liveValues().get('m/v'), {
    value: null,
    quality: 'bad_no_response',
    ts: T0 + 1,
    error: 'timeout after 1000 ms',
    loggedTs: T0 + 1,
  });
  // repeated bad state: not logged, but live still moves on
  pipeline.ingest('m', [{ point: 'v', ts: T0 + 2, value: null, quality: 'bad_no_response', error: 'timeout again' }]);
  assert.deepEqual(pipeline.liveValues().get('m/v'), {
    value: null,
    quality: 'bad_no_response',
    ts: T0 + 2,
    error: 'timeout again',
    loggedTs: T0 + 1,
  });
  pipeline.ingest('m', [good('v', T0 + 3, 4)]);
  assert.deepEqual(pipeline.liveValues().get('m/v'), { value: 4, quality: 'good', ts: T0 + 3, loggedTs: T0 + 3 });
});

test('a point never polled has no live value', () => {
  const { pipeline } = pipelineOf(point('m/v'));
  assert.equal(pipeline.liveValues().get('m/v'), undefined);
  assert.equal(pipeline.liveValues().size, 0);
});

test('the sink is called once per ingest call with every reading that passed, and not at all when none did', () => {
  const { pipeline, sinkCalls } = pipelineOf(
    point('m/a', { deadband: 1 }),
    point('m/b', { deadband: 1 }),
    point('m/c', { deadband: 1 }),
  );
  const first = pipeline.ingest('m', [good('a', T0, 1), good('b', T0, 2), good('c', T0, 3)]);
  assert.equal(sinkCalls.length, 1);
  assert.deepEqual(sinkCalls[0], first);
  assert.deepEqual(
    first.map((r) => r.point),
    ['m/a', 'm/b', 'm/c'],
  );

  const second = pipeline.ingest('m', [good('a', T0 + 1, 1.5), good('b', T0 + 1, 5), good('c', T0 + 1, 3)]);
  assert.equal(sinkCalls.length, 2);
  assert.deepEqual(sinkCalls[1], [{ point: 'm/b', ts: T0 + 1, value: 5, quality: 'good' }]);
  assert.deepEqual(second, sinkCalls[1]);

  assert.deepEqual(pipeline.ingest('m', [good('a', T0 + 2, 1.2)]), []);
  assert.equal(sinkCalls.length, 2, 'no sink call for an ingest where nothing passed');
});

test('an uncertain sample keeps its scaled value and is logged on change like a good one', () => {
  const logged: Reading[] = [];
  const p = new Pipeline([{ key: 'd/x', scale: 2, offset: 0, deadband: 0.5, heartbeatMs: 0 }], (r) => logged.push(...r));
  p.ingest('d', [{ point: 'x', ts: 1, value: 10, quality: 'uncertain' }]);
  p.ingest('d', [{ point: 'x', ts: 2, value: 10.1, quality: 'uncertain' }]);
  p.ingest('d', [{ point: 'x', ts: 3, value: 11, quality: 'uncertain' }]);
  assert.deepEqual(
    logged.map((r) => [r.ts, r.value, r.quality]),
    [
      [1, 20, 'uncertain'],
      [3, 22, 'uncertain'],
    ],
  );
});

// --- wrong wall clock ----------------------------------------------------------------------

test('readings with a value taken while the wall clock is known wrong are marked uncertain_clock; bad ones keep their reason', () => {
  const base = { t: 0, mono: () => base.t, wall: () => T0 + base.t };
  const clock = new OffsetClock(base);
  const watch = new ClockWatch(clock);
  const logged: Reading[] = [];
  const p = new Pipeline([point('m/v', { deadband: 1, heartbeatMs: 60_000 }), point('m/s')], (r) => logged.push(...r), {
    mono: clock.mono.bind(clock),
    clockWrong: (since) => watch.wrongSince(since),
  });
  const poll = (value: number) => {
    base.t += 1000;
    p.ingest('m', [
      { point: 'v', ts: clock.wall(), value, quality: 'good' },
      { point: 's', ts: clock.wall(), value: null, quality: 'bad_no_response', error: 'timeout' },
    ]);
  };
  poll(5);
  clock.jump(-365 * 86_400_000); // a year back: a power loss without RTC, or a bad time source
  poll(5);
  poll(5);
  clock.jump(365 * 86_400_000); // set right again
  poll(5);
  const v = logged.filter((r) => r.point === 'm/v').map((r) => r.quality);
  // The value never changed: the marks are quality changes, logged at once despite the deadband.
  assert.deepEqual(v, ['good', 'uncertain_clock', 'good']);
  assert.ok(logged.filter((r) => r.point === 'm/s').every((r) => r.quality === 'bad_no_response'));
});

test('a poll that started while the clock was wrong is marked even when the clock was set right before its samples arrived', () => {
  const base = { t: 0, mono: () => base.t, wall: () => T0 + base.t };
  const clock = new OffsetClock(base);
  const watch = new ClockWatch(clock);
  const p = new Pipeline([point('m/v')], () => {}, { mono: clock.mono.bind(clock), clockWrong: (since) => watch.wrongSince(since) });
  clock.jump(-600_000); // ten minutes back
  base.t = 1000;
  const started = clock.mono();
  const ts = clock.wall(); // stamped with the wrong clock...
  assert.equal(watch.check().state, 'wrong');
  base.t = 1500;
  clock.jump(600_000); // ...which is set right while the poll is still running
  const [r] = p.ingest('m', [{ point: 'v', ts, value: 1, quality: 'good' }], started);
  assert.equal(r!.quality, 'uncertain_clock');
  // A poll that started after the correction is not marked.
  base.t = 2500;
  const [next] = p.ingest('m', [{ point: 'v', ts: clock.wall(), value: 1, quality: 'good' }], clock.mono());
  assert.equal(next!.quality, 'good');
});

// --- per-point state by point number ------------------------------------------------------

test('live values read as a Map: only polled points, in config order, the same objects Object.fromEntries gives the status API', () => {
  const { pipeline } = pipelineOf(point('m/a'), point('m/b'), point('n/c', { scale: 2 }));
  pipeline.ingest('n', [good('c', T0, 21)]);
  pipeline.ingest('m', [good('a', T0 + 1, 1)]);
  const live = pipeline.liveValues();
  assert.equal(live.size, 2);
  assert.equal(live.has('m/b'), false, 'never polled');
  assert.deepEqual([...live.keys()], ['m/a', 'n/c']);
  assert.deepEqual(Object.fromEntries(live), {
    'm/a': { value: 1, quality: 'good', ts: T0 + 1, loggedTs: T0 + 1 },
    'n/c': { value: 42, quality: 'good', ts: T0, loggedTs: T0 },
  });
  const seen: string[] = [];
  live.forEach((v, k) => seen.push(`${k}=${String(v.value)}`));
  assert.deepEqual(seen, ['m/a=1', 'n/c=42']);
});

test('a point key given twice keeps its later definition (as a map of points would)', () => {
  const { pipeline } = pipelineOf(point('m/v', { scale: 1 }), point('m/v', { scale: 10 }));
  assert.deepEqual(pipeline.ingest('m', [good('v', T0, 3)]), [{ point: 'm/v', ts: T0, value: 30, quality: 'good' }]);
});

test('two devices with the same point ids keep separate state', () => {
  const { pipeline } = pipelineOf(point('a/v', { deadband: 5 }), point('b/v', { deadband: 5 }));
  pipeline.ingest('a', [good('v', T0, 100)]);
  assert.deepEqual(pipeline.ingest('b', [good('v', T0, 102)]).length, 1, "b's first reading is logged whatever a logged");
  assert.deepEqual(pipeline.ingest('a', [good('v', T0 + 1, 103)]), [], 'inside a\'s deadband');
  assert.equal(pipeline.ingest('b', [good('v', T0 + 1, 108)]).length, 1, "outside b's deadband");
});

// --- sample order ----------------------------------------------------------------------------

test('samples are matched to their points by id whatever their order, poll after poll, unknown ids skipped', () => {
  const { pipeline } = pipelineOf(point('m/a', { scale: 10 }), point('m/b'), point('n/a', { scale: 100 }));
  assert.deepEqual(pipeline.ingest('m', [good('a', T0, 1), good('b', T0, 2)]).map((r) => [r.point, r.value]), [['m/a', 10], ['m/b', 2]]);
  // The same positions now carry other points, and an id the config does not have.
  assert.deepEqual(pipeline.ingest('m', [good('b', T0 + 1, 3), good('a', T0 + 1, 4), good('x', T0 + 1, 5)]).map((r) => [r.point, r.value]), [['m/b', 3], ['m/a', 40]]);
  // Another device with the same point id is its own point.
  assert.deepEqual(pipeline.ingest('n', [good('a', T0 + 2, 6)]).map((r) => [r.point, r.value]), [['n/a', 600]]);
  assert.deepEqual(pipeline.ingest('m', [good('x', T0 + 3, 7), good('a', T0 + 3, 8)]).map((r) => [r.point, r.value]), [['m/a', 80]]);
  assert.deepEqual(pipeline.ingest('zz', [good('a', T0 + 4, 9)]), [], 'a device the config does not have');
});

test('a device id that prefixes another one, or holds a slash, finds its own points and no others', () => {
  // Keys sort together by prefix: 'm/...' sits next to 'm/x/...' and 'm2/...'; the sorted lookup must not mix them.
  const { pipeline } = pipelineOf(point('m/a', { scale: 2 }), point('m/x/a', { scale: 3 }), point('m2/a', { scale: 5 }), point('m/b', { scale: 7 }), point('/a', { scale: 11 }));
  const one = (device: string, id: string) => pipeline.ingest(device, [good(id, T0, 1)]).map((r) => [r.point, r.value]);
  assert.deepEqual(one('m/x', 'a'), [['m/x/a', 3]]);
  assert.deepEqual(one('m', 'a'), [['m/a', 2]]);
  assert.deepEqual(one('m2', 'a'), [['m2/a', 5]]);
  assert.deepEqual(one('m', 'b'), [['m/b', 7]]);
  assert.deepEqual(one('', 'a'), [['/a', 11]]);
  // The key 'm/x/a' read as device 'm', point 'x/a': the same string, so the same point (as with one Map of keys).
  assert.deepEqual(one('m', 'x/a'), [['m/x/a', 3]]);
  assert.deepEqual(one('m', 'c'), []);
  assert.deepEqual(one('m', 'a '), []);
  assert.deepEqual(one('m', ''), []);
  assert.deepEqual(one('m/', 'a'), []);
  assert.equal(pipeline.liveValues().get('m/a')?.value, 2);
  assert.equal(pipeline.liveValues().get('m/x/a')?.value, 3);
  assert.equal(pipeline.liveValues().get('m/c'), undefined);
  assert.equal(pipeline.liveValues().get('m'), undefined);
});

test('points with equal settings share a settings row, points with other settings keep theirs', () => {
  const keys = Array.from({ length: 50 }, (_, i) => `d${i % 5}/p${i}`);
  // Every fifth point differs in one setting only: a shared row must not leak into it.
  const points = keys.map((key, i) => point(key, i % 5 === 0 ? { deadband: 10 } : i % 5 === 1 ? { scale: 2 } : i % 5 === 2 ? { offset: 1 } : i % 5 === 3 ? { heartbeatMs: 1000 } : { deadband: 1 }));
  const { pipeline } = pipelineOf(...points);
  mono = 0;
  const poll = (value: number) => keys.flatMap((key) => {
    const [device, id] = key.split('/') as [string, string];
    return pipeline.ingest(device, [good(id, T0, value)]).map((r) => `${r.point}=${String(r.value)}`);
  });
  assert.equal(poll(100).length, 50, 'first readings all logged');
  mono = 500;
  const second = poll(103);
  // deadband 10: not logged; scale 2 / offset 1 / heartbeat with deadband 0: logged; deadband 1: logged.
  assert.deepEqual(second.filter((r) => r.startsWith('d0/')), [], 'deadband 10 holds 103 against 100');
  assert.deepEqual(second.filter((r) => r.startsWith('d1/')), keys.filter((_, i) => i % 5 === 1).map((k) => `${k}=206`));
  assert.deepEqual(second.filter((r) => r.startsWith('d2/')), keys.filter((_, i) => i % 5 === 2).map((k) => `${k}=104`));
  assert.equal(second.filter((r) => r.startsWith('d3/')).length, 10);
  assert.equal(second.filter((r) => r.startsWith('d4/')).length, 10);
});

test('every quality round-trips through the live and last-logged columns', async () => {
  const { QUALITIES } = await import('@kedge/cloud-sync/model.ts');
  const { pipeline } = pipelineOf(point('m/v', { heartbeatMs: 0, deadband: 1000 }));
  let ts = T0;
  for (const quality of [...QUALITIES, ...QUALITIES]) {
    const hasValue = quality === 'good' || quality === 'uncertain' || quality === 'uncertain_clock';
    const logged = pipeline.ingest('m', [{ point: 'v', ts: ++ts, value: hasValue ? 1 : null, quality }]);
    assert.equal(logged.length, 1, `${quality}: a change of quality is logged`);
    assert.equal(logged[0]!.quality, quality);
    assert.equal(pipeline.liveValues().get('m/v')?.quality, quality);
    assert.deepEqual(pipeline.ingest('m', [{ point: 'v', ts: ++ts, value: hasValue ? 1 : null, quality }]), [], `${quality} again: not logged`);
  }
});

test("a quality outside QUALITIES (a driver's bug) is logged once and shown live like any other, each one apart", () => {
  const { pipeline } = pipelineOf(point('m/v'), point('m/w'));
  // Names an object's prototype has: a lookup table with a prototype would find these.
  const odd = ['bad_sensor', 'toString', '__proto__', 'constructor'] as unknown as Sample['quality'][];
  let ts = T0;
  for (const quality of [...odd, ...odd]) {
    const sample = (): Sample => ({ point: 'v', ts: ++ts, value: null, quality });
    const first = pipeline.ingest('m', [sample()]);
    assert.deepEqual(first.map((r) => r.quality), [quality], `${quality}: a change of quality is logged`);
    assert.deepEqual(pipeline.ingest('m', [sample()]), [], `${quality} again: not logged`);
    assert.deepEqual(pipeline.liveValues().get('m/v'), { value: null, quality, ts, loggedTs: ts - 1 });
  }
  // The codes are the pipeline's, not the point's: another point meets the same ones.
  assert.deepEqual(pipeline.ingest('m', [{ point: 'w', ts: ++ts, value: null, quality: odd[1]! }]).map((r) => r.quality), ['toString']);
  assert.deepEqual(pipeline.ingest('m', [good('w', ++ts, 1)]).map((r) => r.quality), ['good']);
  assert.equal(pipeline.liveValues().get('m/v')?.quality, 'constructor');
});

test('a sample that throws (more unknown qualities than there are codes) ends its batch, but the readings marked logged before it reach the log', () => {
  const { pipeline, sinkCalls } = pipelineOf(point('m/a'), point('m/b', { deadband: 1 }));
  let ts = T0;
  let codes = 0;
  // Unknown qualities until there is no code left for one more.
  for (;;) {
    const quality = `weird${codes}` as unknown as Sample['quality'];
    try {
      pipeline.ingest('m', [{ point: 'a', ts: ++ts, value: null, quality }]);
    } catch (err) {
      assert.ok(err instanceof TypeError && /unknown quality "weird\d+"/.test(err.message), String(err));
      break;
    }
    codes++;
    assert.ok(codes < 1000, 'the codes are bounded');
  }
  sinkCalls.length = 0;
  const last = `weird${codes}` as unknown as Sample['quality'];
  assert.throws(() => pipeline.ingest('m', [good('b', ++ts, 5), { point: 'a', ts: ++ts, value: null, quality: last }]), TypeError);
  assert.deepEqual(sinkCalls.flat().map((r) => [r.point, r.value]), [['m/b', 5]], 'the good reading before the throw is logged');
  assert.deepEqual(pipeline.ingest('m', [good('b', ++ts, 5)]), [], 'and its deadband state agrees: the same value is not logged again');
});

test('in a large config every point is found by its device and id, and near misses find nothing', () => {
  // Thousands of keys: the lookup table has collisions to walk past; near misses share a slot's neighbourhood.
  const devices = ['m', 'm2', 'm/x', 'meter-long-name.with.dots'];
  const ids = Array.from({ length: 1500 }, (_, k) => (k % 3 === 0 ? `reg${k}` : k % 3 === 1 ? `Plant.Line${k % 7}.Channel_${k}` : `a/${k}`));
  const points = devices.flatMap((d, di) => ids.map((id, k) => point(`${d}/${id}`, { scale: di * 10_000 + k + 1 })));
  const { pipeline } = pipelineOf(...points);
  devices.forEach((d, di) => {
    // One sample per call: each misses the order of the call before.
    ids.forEach((id, k) => {
      assert.deepEqual(pipeline.ingest(d, [good(id, T0, 1)]).map((r) => [r.point, r.value]), [[`${d}/${id}`, di * 10_000 + k + 1]]);
    });
    for (const id of ['reg1', 'reg', `reg${ids.length}`, 'a/1', 'Plant.Line1.Channel_', ' reg0', 'reg0 ']) {
      assert.deepEqual(pipeline.ingest(d, [good(id, T0, 1)]), [], `${d}/${id} is not configured`);
    }
  });
  assert.deepEqual(pipeline.ingest('m/x/reg0', [good('', T0, 1)]), []);
  assert.equal(pipeline.liveValues().size, points.length);
  for (const [k, p] of points.entries()) assert.equal(pipeline.liveValues().get(p.key)?.value, k + 1 + Math.floor(k / ids.length) * (10_000 - ids.length));
  assert.equal(pipeline.liveValues().get('m/reg1'), undefined);
});

test('a device polled in several interval groups, more than are remembered, gets each sample to its point', () => {
  const ids = Array.from({ length: 60 }, (_, k) => `p${k}`);
  const { pipeline } = pipelineOf(...ids.map((id, k) => point(`m/${id}`, { scale: k + 1 })));
  // Six groups, some sharing points, one starting like another, polled round-robin and out of turn.
  const groups = [ids.slice(0, 10), ids.slice(10, 30), ids.slice(5, 15), ids.slice(30, 60).reverse(), [ids[0]!, 'gone', ids[59]!], ids.slice(0, 3)];
  for (const g of [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 3, 3, 0, 5, 0, 4, 1]) {
    const got = pipeline.ingest('m', groups[g]!.map((id) => good(id, T0, 1))).map((r) => [r.point, r.value]);
    assert.deepEqual(got, groups[g]!.filter((id) => id !== 'gone').map((id) => [`m/${id}`, Number(id.slice(1)) + 1]), `group ${g}`);
  }
});
