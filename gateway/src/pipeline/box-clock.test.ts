import test from 'node:test';
import assert from 'node:assert/strict';
import { OffsetClock } from '@kedge/cloud-sync/clock.ts';
import type { LogRecord } from '@kedge/cloud-sync/model.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { webFixture, type Fixture } from '../web/test-fixture.ts';

/**
 * A real gateway polling the Modbus simulator every 100 ms, on a clock whose wall time the test
 * jumps: polling goes on, /healthz and /metrics tell, the log marks what was stamped meanwhile.
 */
const YEAR = 365 * 86_400_000;
const clock = new OffsetClock();
let f: Fixture;

test.before(async () => {
  f = await webFixture({ clock });
});
test.after(() => f.close());

const polls = () => f.gateway.status().devices[0]?.polls ?? 0;
const pollsPast = (n: number) => waitFor(() => polls() >= n, { what: `${n} polls` });
const health = async () => (await f.web.app.inject({ method: 'GET', url: '/healthz' })) as { statusCode: number; json(): any };
const metric = async (line: RegExp) => line.exec((await f.web.app.inject({ method: 'GET', url: '/metrics' })).body)?.[1];
const loggedSince = (seq: number): LogRecord[] => {
  f.gateway.log.flush();
  return f.gateway.log.readAfter(seq, 100_000);
};

for (const [name, size] of [
  ['a year', YEAR],
  ['ten minutes', 600_000],
] as const) {
  test(`the wall clock set back ${name}: polling goes on, /healthz is degraded and says why, readings are marked until it is set right`, async () => {
    await pollsPast(polls() + 2);
    const jumpsBefore = Number((await metric(/^kedge_clock_jumps_total\{direction="back"\} (\d+)/m)) ?? 0);
    f.gateway.log.flush();
    const seqBefore = f.gateway.log.lastSeq();
    clock.jump(-size);
    const pollsAtJump = polls();
    await pollsPast(pollsAtJump + 5);

    const h = await health();
    assert.equal(h.statusCode, 200, 'a wrong clock is not cured by a restart: 200, degraded');
    const body = h.json();
    assert.equal(body.status, 'degraded');
    assert.equal(body.checks.clock.ok, false);
    assert.match(body.checks.clock.detail, /stepped back by .*uncertain_clock/);
    assert.equal(body.checks.scheduler.ok, true);
    assert.equal(body.clock.state, 'wrong');
    assert.equal(body.clock.lastJump.direction, 'back');
    assert.ok(Math.abs(body.clock.lastJump.deltaMs + size) < 5000, `jump of ${body.clock.lastJump.deltaMs} ms`);
    assert.equal(await metric(/^kedge_clock_wrong (\S+)/m), '1');
    assert.equal(Number(await metric(/^kedge_clock_jumps_total\{direction="back"\} (\d+)/m)), jumpsBefore + 1);
    assert.ok(Math.abs(Number(await metric(/^kedge_clock_offset_seconds (\S+)/m)) + size / 1000) < 5);

    const during = loggedSince(seqBefore);
    const withValue = during.filter((r) => r.value !== null);
    assert.ok(withValue.length > 0, 'readings were logged during the jump');
    // Drivers stamp with the process clock, which this test does not move; what counts is that
    // everything ingested after the jump (all of seq > seqBefore: the jump came between two
    // synchronous lines) is marked.
    assert.ok(
      withValue.every((r) => r.quality === 'uncertain_clock'),
      `every reading taken while the clock was wrong is marked: ${JSON.stringify(withValue.find((r) => r.quality !== 'uncertain_clock'))}`,
    );

    clock.jump(size);
    await waitFor(async () => (await health()).json().status === 'ok', { what: '/healthz ok again' });
    // A poll in flight when the clock was found right started while it was wrong and is still
    // marked (conservative): let it end and be logged before taking the position.
    await pollsPast(polls() + 1);
    f.gateway.log.flush();
    const seqRight = f.gateway.log.lastSeq();
    await pollsPast(polls() + 3);
    const after = loggedSince(seqRight).filter((r) => r.value !== null);
    assert.ok(after.length > 0);
    assert.ok(after.every((r) => r.quality === 'good'), 'set right: no more marks');
    const back = (await health()).json();
    assert.equal(back.clock.state, 'ok');
    assert.equal(back.clock.lastJump.direction, 'forward', 'the jump stays visible after the clock is right');
    assert.equal(await metric(/^kedge_clock_wrong (\S+)/m), '0');
  });
}

test('the wall clock set ahead a year: taken as a correction, counted and shown, polling goes on, nothing marked', async () => {
  await pollsPast(polls() + 2);
  f.gateway.log.flush();
  const seqBefore = f.gateway.log.lastSeq();
  clock.jump(YEAR);
  await pollsPast(polls() + 5);
  const body = (await health()).json();
  assert.equal(body.status, 'ok');
  assert.equal(body.clock.lastJump.direction, 'forward');
  assert.match(body.checks.clock.detail, /trusted; \d+ jump\(s\) since start, the last forward/);
  const logged = loggedSince(seqBefore).filter((r) => r.value !== null);
  assert.ok(logged.length > 0);
  assert.ok(logged.every((r) => r.quality === 'good'));
});
