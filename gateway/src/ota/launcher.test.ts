import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@kedge/scripts/testing/wait.ts';
import { installOffer } from './install.ts';
import { tempDir } from './testing.ts';
import { markerLines, installed, launch, settled, last } from './launcher-fixture.ts';

test('a good release boots on trial, passes its health check, and becomes current', async (t) => {
  const work = tempDir(t);
  const { slots, opts } = await installed(t, work, 'healthy');
  await installOffer(opts);
  const marker = join(work, 'marker');
  launch(t, slots, marker);
  const s = await settled(slots);
  assert.deepEqual({ current: s.current, previous: s.previous, link: readlinkSync(join(slots, 'current')) }, { current: 'b', previous: 'a', link: 'b' });
  assert.deepEqual({ event: last(s).event, version: last(s).version }, { event: 'good', version: '1.1.0' });
  assert.deepEqual(markerLines(marker), ['1.1.0 healthy trial=1']);
});

test('a release that reports a failed health check is rolled back with its reason', async (t) => {
  const work = tempDir(t);
  const { slots, opts } = await installed(t, work, 'unhealthy');
  await installOffer(opts);
  const marker = join(work, 'marker');
  launch(t, slots, marker);
  const s = await settled(slots);
  assert.deepEqual({ current: s.current, link: readlinkSync(join(slots, 'current')) }, { current: 'a', link: 'a' });
  assert.deepEqual(last(s), { ...last(s), event: 'rollback', slot: 'b', version: '1.1.0', reason: 'uplink never connected and the log did not grow' });
  await waitFor(() => markerLines(marker).length === 2, { what: 'the old release to start again' });
  assert.deepEqual(markerLines(marker), ['1.1.0 unhealthy trial=1', '1.0.0 healthy trial=0']);
});

test('a release that never reports healthy is rolled back when the deadline passes', async (t) => {
  const work = tempDir(t);
  const { slots, opts } = await installed(t, work, 'hang');
  await installOffer(opts);
  launch(t, slots, join(work, 'marker'), { deadline: 1000 });
  const s = await settled(slots);
  assert.equal(s.current, 'a');
  assert.deepEqual({ event: last(s).event, reason: last(s).reason }, { event: 'rollback', reason: 'no healthy report within 1000 ms' });
});

test('a release that crashes on every boot is rolled back after maxCrashes boots', async (t) => {
  const work = tempDir(t);
  const { slots, opts } = await installed(t, work, 'crash');
  await installOffer(opts);
  const marker = join(work, 'marker');
  launch(t, slots, marker, { maxCrashes: 3 });
  const s = await settled(slots);
  assert.equal(s.current, 'a');
  assert.deepEqual({ event: last(s).event, reason: last(s).reason }, { event: 'rollback', reason: 'did not pass its health check in 3 boots (last: exit code 1)' });
  await waitFor(() => markerLines(marker).length === 4, { what: 'the old release to start again' });
  assert.deepEqual(markerLines(marker), ['1.1.0 crash trial=1', '1.1.0 crash trial=1', '1.1.0 crash trial=1', '1.0.0 healthy trial=0']);
});

test('a rolled-back version offered again (a retained offer) is refused instead of looping', async (t) => {
  const work = tempDir(t);
  const { slots, opts } = await installed(t, work, 'unhealthy');
  await installOffer(opts);
  launch(t, slots, join(work, 'marker'));
  await settled(slots);
  await assert.rejects(installOffer(opts), /version 1\.1\.0 was rolled back on this gateway before \(uplink never connected and the log did not grow\); publish a newer version/);
});
