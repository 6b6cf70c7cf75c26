import test from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@kedge/testkit/wait.ts';
import type { DeviceDriver, PollResult, Sample } from '../drivers/driver.ts';
import type { Reading } from '@kedge/cloud-sync/model.ts';
import { Pipeline } from '../pipeline/pipeline.ts';
import { Scheduler, type DeviceState } from './scheduler.ts';

/** A device whose health the test switches; it answers every point it is asked for. */
class Meter implements DeviceDriver {
  readonly deviceId = 'meter';
  alive = true;
  refuse: string | null = null;
  readonly polls: string[][] = [];
  async poll(pointIds: readonly string[]): Promise<PollResult> {
    this.polls.push([...pointIds]);
    const ts = Date.now();
    if (!this.alive) {
      return {
        samples: pointIds.map((point) => ({ point, ts, value: null, quality: 'bad_no_response', error: 'no response (timeout)' })),
        requests: 1,
        failed: true,
        error: 'no response (timeout) reading holding 1',
      };
    }
    const samples: Sample[] = pointIds.map((point) =>
      point === this.refuse
        ? { point, ts, value: null, quality: 'bad_device_error', error: 'Modbus exception 2 (illegal data address) reading holding 9' }
        : { point, ts, value: 1, quality: 'good' },
    );
    const refused = samples.some((s) => s.quality !== 'good');
    return {
      samples,
      requests: 2,
      failed: false,
      ...(refused ? { blockErrors: ['Modbus exception 2 (illegal data address) reading holding 9'], findings: ['holding 9 is refused'] } : {}),
    };
  }
  async close(): Promise<void> {}
}

// The slow group is due once at start and then not for an hour: only the outage logic can make it speak.
const GROUPS = [
  { intervalMs: 20, pointIds: ['fast'] },
  { intervalMs: 3_600_000, pointIds: ['slow'] },
];

function start(t: test.TestContext, meter: Meter) {
  const reports: Array<{ result: PollResult; state: Readonly<DeviceState> }> = [];
  const scheduler = new Scheduler([{ driver: meter, groups: GROUPS, backoff: { minMs: 30, maxMs: 60 } }], (_id, result, _ms, state) =>
    reports.push({ result, state }),
  );
  scheduler.start();
  t.after(() => scheduler.stop());
  return { scheduler, reports };
}

const qualityOf = (r: { result: PollResult }, point: string) => r.result.samples.find((s) => s.point === point)?.quality;

test('a device that stops answering gives every point, even of a group not due, one bad sample in the failed poll', async (t) => {
  const meter = new Meter();
  const { reports } = start(t, meter);
  await waitFor(() => reports.length >= 3, { what: 'three good polls' });
  meter.alive = false;
  const failed = await waitFor(() => reports.find((r) => r.result.failed), { what: 'the failed poll' });
  assert.deepEqual(meter.polls[reports.indexOf(failed)], ['fast'], 'only the fast group was due');
  assert.equal(qualityOf(failed, 'fast'), 'bad_no_response');
  assert.equal(qualityOf(failed, 'slow'), 'bad_no_response', 'the slow point shows the outage too');
  assert.equal(failed.result.samples.find((s) => s.point === 'slow')?.error, 'no response (timeout) reading holding 1');
  assert.ok(failed.state.backoffUntil !== null);
});

test('the poll that finds the device back asks for every group, so every point gets a good reading again', async (t) => {
  const meter = new Meter();
  const { reports } = start(t, meter);
  await waitFor(() => reports.length >= 2, { what: 'good polls' });
  meter.alive = false;
  await waitFor(() => reports.filter((r) => r.result.failed).length >= 2, { what: 'two failed polls' });
  meter.alive = true;
  const back = await waitFor(() => reports.find((r, i) => i > 0 && !r.result.failed && reports[i - 1]!.result.failed), { what: 'recovery' });
  assert.deepEqual(meter.polls[reports.indexOf(back)]!.sort(), ['fast', 'slow']);
  assert.equal(qualityOf(back, 'slow'), 'good');
  assert.equal(back.state.backoffUntil, null);
  assert.equal(back.state.consecutiveFailures, 0);
  // Every failed poll retried every group too: the outage is bounded by the backoff, not the slow interval.
  for (const [i, r] of reports.entries()) if (i > 0 && reports[i - 1]!.result.failed) assert.equal(meter.polls[i]!.length, 2);
});

test('through the pipeline, whatever the deadband and heartbeat: each point logs one bad reading for the outage and one good reading after it', async (t) => {
  const meter = new Meter();
  const logged: Reading[] = [];
  // A deadband no change passes and no heartbeat: only quality changes reach the log.
  const pipeline = new Pipeline(
    ['fast', 'slow'].map((id) => ({ key: `meter/${id}`, scale: 1, offset: 0, deadband: 1000, heartbeatMs: 0 })),
    (rs) => logged.push(...rs),
  );
  const reports: PollResult[] = [];
  const scheduler = new Scheduler([{ driver: meter, groups: GROUPS, backoff: { minMs: 30, maxMs: 60 } }], (id, result) => {
    pipeline.ingest(id, result.samples);
    reports.push(result);
  });
  scheduler.start();
  t.after(() => scheduler.stop());
  await waitFor(() => reports.length >= 3, { what: 'good polls' });
  meter.alive = false;
  await waitFor(() => reports.filter((r) => r.failed).length >= 4, { what: 'four failed polls, backing off' });
  meter.alive = true;
  await waitFor(() => reports.at(-1)?.failed === false && reports.some((r) => r.failed), { what: 'the recovery' });
  await waitFor(() => reports.length >= reports.findIndex((r) => r.failed) + 10, { what: 'polls after the recovery' });
  for (const p of ['meter/fast', 'meter/slow']) {
    assert.deepEqual(
      logged.filter((r) => r.point === p).map((r) => r.quality),
      ['good', 'bad_no_response', 'good'],
      p,
    );
  }
});

test('a refused read is no device failure: no backoff, the fast group keeps polling, the UI state lists the refused read and the finding', async (t) => {
  const meter = new Meter();
  meter.refuse = 'fast';
  const { scheduler, reports } = start(t, meter);
  await waitFor(() => reports.length >= 5, { what: 'five polls' });
  for (const r of reports) {
    assert.equal(r.state.backoffUntil, null);
    assert.equal(r.state.consecutiveFailures, 0);
    assert.ok(r.state.lastOkAt !== null);
  }
  const [state] = scheduler.states();
  assert.deepEqual(state!.blockErrors, ['Modbus exception 2 (illegal data address) reading holding 9']);
  assert.deepEqual(state!.findings, ['holding 9 is refused'], 'a finding repeated by later polls is kept once');
  meter.refuse = null;
  await waitFor(() => scheduler.states()[0]!.blockErrors.length === 0, { what: 'the refused read to clear' });
  assert.deepEqual(scheduler.states()[0]!.findings, ['holding 9 is refused'], 'findings stay for the engineer');
});
