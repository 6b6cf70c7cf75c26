import test from 'node:test';
import assert from 'node:assert/strict';
import type { PollResult } from '../drivers/driver.ts';
import { DeviceHealthLog } from './health-log.ts';
import type { DeviceState } from './scheduler.ts';

const REPEAT_MS = 60_000;

function harness() {
  const lines: Array<{ level: 'warn' | 'info'; msg: string; event: unknown }> = [];
  let now = 1_000_000;
  const log = new DeviceHealthLog(
    {
      warn: (o, msg) => lines.push({ level: 'warn', msg, event: o['event'] }),
      info: (o, msg) => lines.push({ level: 'info', msg, event: o['event'] }),
    },
    REPEAT_MS,
    () => now,
  );
  const state = (failed: boolean): DeviceState => ({
    deviceId: 'water-1',
    polls: 1,
    failures: 0,
    consecutiveFailures: failed ? 1 : 0,
    requests: 1,
    lastPollAt: now - 10,
    lastOkAt: null,
    lastDurationMs: 10,
    lastError: null,
    backoffUntil: failed ? now + 2000 : null,
    lastPollMono: 0,
    blockErrors: [],
    findings: [],
  });
  const poll = (result: PollResult, advanceMs = 1000) => {
    now += advanceMs;
    log.observe('water-1', result, state(result.failed));
  };
  return { lines, poll };
}

const DEAD: PollResult = {
  samples: [{ point: 'flow', ts: 0, value: null, quality: 'bad_no_response', error: 'no response (timeout) reading holding 101 (protocol 100)' }],
  requests: 1,
  failed: true,
  error: 'no response (timeout) reading holding 101 (protocol 100)',
};
const OK: PollResult = { samples: [{ point: 'flow', ts: 0, value: 1, quality: 'good' }], requests: 1, failed: false };
const REFUSED: PollResult = {
  samples: [
    { point: 'flow', ts: 0, value: 1, quality: 'good' },
    { point: 'ghost', ts: 0, value: null, quality: 'bad_device_error', error: 'Modbus exception 2 (illegal data address) reading holding 115 (protocol 114)' },
  ],
  requests: 2,
  failed: false,
  blockErrors: ['Modbus exception 2 (illegal data address) reading holding 115 (protocol 114)'],
};

test('a failing device: one line when it stops, one reminder per minute, one line when it answers again', () => {
  const { lines, poll } = harness();
  poll(OK);
  for (let i = 0; i < 150; i++) poll(DEAD); // 150 s of failed polls, one a second
  poll(OK);
  assert.deepEqual(
    lines.map((l) => [l.level, l.event]),
    [
      ['warn', 'device_failed'],
      ['warn', 'device_still_failing'],
      ['warn', 'device_still_failing'],
      ['info', 'device_recovered'],
    ],
  );
  assert.equal(lines[0]!.msg, 'device "water-1" stopped answering: no response (timeout) reading holding 101 (protocol 100); next try in 2.0 s');
  assert.match(lines[1]!.msg, /^device "water-1" still not answering after 60 s \(61 failed polls\)/);
  assert.equal(lines[3]!.msg, 'device "water-1" answers again after 150 s (150 failed polls)');
});

test('a refused read is said once, not once per poll, and its end once; a poll of other points changes nothing', () => {
  const { lines, poll } = harness();
  for (let i = 0; i < 30; i++) poll(REFUSED);
  poll({ ...OK, samples: [{ point: 'other', ts: 0, value: 2, quality: 'good' }] }); // another interval group
  for (let i = 0; i < 20; i++) poll(OK);
  poll({ ...OK, samples: [{ point: 'ghost', ts: 0, value: 5, quality: 'good' }] });
  assert.deepEqual(
    lines.map((l) => l.event),
    ['reads_refused', 'reads_answer_again'],
  );
  assert.equal(
    lines[0]!.msg,
    'device "water-1" refuses reads of 1 point (its other points are polled as usual): Modbus exception 2 (illegal data address) reading holding 115 (protocol 114)',
  );
});

test('register-map findings are said once each', () => {
  const { lines, poll } = harness();
  poll({ ...REFUSED, findings: ['holding 101..115 (protocol 100..114) answered ...'] });
  poll({ ...REFUSED, findings: ['holding 101..115 (protocol 100..114) answered ...'] });
  assert.deepEqual(lines.filter((l) => l.event === 'register_map_finding').length, 1);
});

test('a flapping device (failing every other poll for 10 minutes) writes at most two lines a minute, not two per flap, and counts every outage once', () => {
  const { lines, poll } = harness();
  const FLAPS = 300; // one poll a second: 10 minutes
  for (let i = 0; i < FLAPS; i++) {
    poll(DEAD);
    poll(OK);
  }
  const events = lines.map((l) => l.event);
  assert.deepEqual(events.slice(0, 2), ['device_failed', 'device_recovered'], 'the first outage of a quiet device is said at once');
  const minutes = Math.ceil((FLAPS * 2 * 1000) / REPEAT_MS);
  assert.ok(lines.length <= 2 * (minutes + 1), `${lines.length} lines: ${events.join(',')}`);
  // The stopped-answering lines count the brief outages since the last line.
  assert.match(lines[2]!.msg, /^device "water-1" stopped answering: no response \(timeout\) reading holding 101 \(protocol 100\); it also failed \d+ times briefly since the last line/);
  // Flapping stops: what was not counted yet is said once the repeat interval has passed.
  for (let i = 0; i < REPEAT_MS / 1000; i++) poll(OK);
  const flapping = lines.filter((l) => l.event === 'device_flapping');
  assert.equal(flapping.length, 1);
  assert.match(flapping[0]!.msg, /^device "water-1" failed \d+ more times briefly since the last line \(last: no response \(timeout\) reading holding 101 \(protocol 100\)\); it answers now$/);
  const counted = lines.reduce((n, l) => n + Number(/failed (\d+) (more )?times briefly/.exec(l.msg)?.[1] ?? 0), 0);
  const announced = lines.filter((l) => l.event === 'device_failed').length;
  assert.equal(counted + announced, FLAPS, 'every outage is said or counted, none twice');

});

test('an outage that begins right after another is said once it has lasted a sixth of the repeat interval, and its end too', () => {
  const { lines, poll } = harness();
  poll(DEAD);
  poll(OK);
  lines.length = 0;
  poll(DEAD); // a second after the last line: not said at once
  assert.equal(lines.length, 0);
  for (let i = 0; i < REPEAT_MS / 6000; i++) poll(DEAD);
  poll(OK);
  assert.deepEqual(lines.map((l) => l.event), ['device_failed', 'device_recovered']);
  assert.match(lines[0]!.msg, /^device "water-1" stopped answering 10 s ago: no response/);
});
