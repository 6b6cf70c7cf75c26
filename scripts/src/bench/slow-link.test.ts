/**
 * The slow-link bench on a tiny backlog: it runs end to end and its figures come out and mean
 * what they say (which run had the snapshot, what was drained). Never their values: timing is
 * the bench's business, not a test's.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { benchReconnect, benchSlowLink } from './slow-link.ts';
import { tempDir } from '@kedge/testkit/temp-dirs.ts';

/** Generous: two runs of 3,000 readings over the 20 KB/s link on a loaded machine. */
const BUDGET_MS = 120_000;

test('the slow-link bench measures live-first on and off over the shaped link', async (t) => {
  const dir = tempDir(t, 'kedge-slow-link-');
  const r = await benchSlowLink(dir, 3, BUDGET_MS, () => {});
  assert.equal(r.backlogReadings, 3000);
  for (const run of [r.on, r.off]) {
    assert.equal(run.complete, true, `live-first ${run.liveFirst}: backlog drained`);
    assert.ok(run.drainSec > 0 && Number.isFinite(run.drainSec));
    assert.ok(run.bytesUp > 0);
    assert.notEqual(run.firstNewestSec, null, 'the newest values reached the center');
  }
  assert.equal(r.on.snapshotReadings, 1000, 'live-first sent the newest value of each of the 1,000 points');
  assert.ok(r.on.extraBytes > 0);
  assert.equal(r.off.snapshotReadings, 0);
  assert.equal(r.off.extraBytes, 0);
  assert.ok(Number.isFinite(r.drainRatio));
});

test('the reconnect bench times each outage and gives a p95', async () => {
  const r = await benchReconnect(2, { min: 100, max: 200 }, () => {});
  assert.equal(r.runs, 2);
  assert.equal(r.reconnectSec.length, 2);
  assert.ok(r.outagesSec.every((s) => s >= 0.1 && s <= 0.2));
  assert.ok(r.p95Sec > 0 && r.p95Sec <= r.maxSec);
});
