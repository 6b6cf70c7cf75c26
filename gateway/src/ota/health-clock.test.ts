import test from 'node:test';
import assert from 'node:assert/strict';
import { HealthReporter, type HealthProbe, type LauncherMessage } from './health.ts';

const YEAR = 365 * 86_400_000;
/** Started, not connected, log not growing: not healthy yet, so only the deadline can end the trial. */
const NOT_YET: HealthProbe = { started: true, uplinkState: 'connecting', uplinkError: null, lastSeq: 0, unavailable: [] };

function reporter(t: test.TestContext, deadlineMs: number) {
  const verdicts: LauncherMessage[] = [];
  const r = new HealthReporter({
    probe: () => NOT_YET,
    trial: true,
    deadlineMs,
    pollMs: 500,
    aliveMs: 5000,
    onOrphaned: () => {},
    send: (m) => void (m.kedgeOta !== 'alive' && verdicts.push(m)),
  });
  t.after(() => r.stop());
  return { r, verdicts };
}

test('a release on trial is not failed by NTP setting the clock ahead a year: the health deadline is monotonic', (t) => {
  // Only the interval is mocked: a mocked Date moved a year would make tick() run a year of checks.
  t.mock.timers.enable({ apis: ['setInterval'] });
  const realNow = Date.now;
  t.after(() => {
    Date.now = realNow;
  });
  const { r, verdicts } = reporter(t, 120_000);
  r.start();
  // A box without an RTC boots into the new release a year behind; NTP sets it right at once.
  Date.now = () => realNow() + YEAR;
  t.mock.timers.tick(500);
  assert.deepEqual(verdicts, [], 'the trial has run one check, not a year: no verdict, no rollback');
});

test('the deadline still ends a trial that never gets healthy', (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const { r, verdicts } = reporter(t, 0);
  r.start();
  t.mock.timers.tick(500);
  assert.equal(verdicts.length, 1);
  assert.equal(verdicts[0]!.kedgeOta, 'unhealthy');
});
