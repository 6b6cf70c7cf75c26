import { existsSync, mkdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@kedge/testkit/wait.ts';
import { installOffer } from './install.ts';
import { startLauncher } from './launcher.ts';
import { seed } from './slots.ts';
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

/** The launcher's kill grace in the test below (production: LAUNCHER_STOP_KILL_MS). */
const STOP_KILL_MS = 300;

test('stopping the launcher ends a daemon that ignores SIGTERM: it is killed after the stop grace, and done resolves', async (t) => {
  const work = tempDir(t);
  const release = join(work, 'stubborn');
  mkdirSync(release);
  // Reports alive, then ignores SIGTERM for ever: what a daemon stuck in its shutdown looks like from outside.
  writeFileSync(join(release, 'daemon.mjs'), "process.on('SIGTERM', () => {}); setInterval(() => process.send?.({ kedgeOta: 'alive' }), 200);\n");
  const slots = join(work, 'slots');
  seed(slots, release, { version: '1.0.0', entry: ['daemon.mjs'] });
  const heartbeat = join(work, 'heartbeat');
  const logged: string[] = [];
  const l = startLauncher({ slotsDir: slots, healthDeadlineMs: 60_000, maxCrashes: 3, daemonArgs: [], log: (m) => logged.push(m), stopKillMs: STOP_KILL_MS, heartbeatFile: heartbeat });
  // Its first sign of life comes after it installed the SIGTERM handler that ignores the signal.
  await waitFor(() => existsSync(heartbeat), { what: 'the daemon to report alive' });
  const pid = l.pid()!;
  l.stop();
  assert.equal(await l.done, 0);
  assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the daemon is gone');
  assert.match(logged.join('\n'), new RegExp(`the daemon did not stop within ${STOP_KILL_MS} ms of SIGTERM: killing it`), 'it was the SIGKILL that ended it');
});
