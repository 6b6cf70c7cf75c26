import { existsSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import assert from 'node:assert/strict';
import { startProcess } from '@kedge/testkit/proc.ts';
import { nodeEntry, tsEntry } from '@kedge/testkit/entry.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { installOffer } from './install.ts';
import { readReleaseInfo, readState } from './slots.ts';
import { tempDir } from './testing.ts';
import { BOOT, INSTALL_AND_DIE, markerLines, installed, launch, settled, last } from './launcher-fixture.ts';

/** How long a fixture process may take to exit once it should (generous: a loaded 2-core box). */
const FIXTURE_EXIT_TIMEOUT_MS = 60_000;

/** The current link must name a slot holding a complete release. */
function assertBootable(slots: string): void {
  const link = readlinkSync(join(slots, 'current'));
  const info = readReleaseInfo(join(slots, link));
  assert.ok(info, `current -> ${link} holds no release`);
  assert.ok(existsSync(join(slots, link, 'daemon.mjs')), `current -> ${link} has no entry point`);
}

const installerSteps: Array<[string, string]> = [
  ['mid-download', '1.0.0'],
  ['verifying', '1.0.0'],
  ['extracting', '1.0.0'],
  ['staged', '1.0.0'],
  ['slot-written', '1.0.0'],
  ['trial-recorded', '1.0.0'],
  ['switched', '1.1.0'],
];

for (const [step, expected] of installerSteps) {
  test(`power loss in the installer at "${step}" leaves a bootable current, and the next boot runs ${expected}`, async (t) => {
    const work = tempDir(t);
    const { slots, opts } = await installed(t, work, 'healthy');
    const p = await startProcess(process.execPath, [...tsEntry(INSTALL_AND_DIE), JSON.stringify(opts), step], { name: `install dying at ${step}` });
    const exit = await p.exitedWithin(FIXTURE_EXIT_TIMEOUT_MS, `the installer dying at "${step}"`);
    assert.equal(exit.signal, 'SIGKILL', p.output());
    assertBootable(slots);
    const marker = join(work, 'marker');
    launch(t, slots, marker);
    const s = await settled(slots);
    assert.equal(s.versions[s.current], expected);
    await waitFor(() => markerLines(marker).at(-1)?.startsWith(expected), { what: `${expected} running` });
  });
}

for (const step of ['first boot', 'health check'] as const) {
  test(`power loss of the launcher during the ${step} of a new release leaves a bootable current, and the next boot finishes the trial`, async (t) => {
    const work = tempDir(t);
    const { slots, opts } = await installed(t, work, 'healthy');
    await installOffer(opts);
    const marker = join(work, 'marker');
    const env = { ...process.env, KEDGE_TEST_MARKER: marker, KEDGE_TEST_HEALTHY_DELAY_MS: step === 'health check' ? '60000' : '100' };
    const boot = await startProcess(process.execPath, [...nodeEntry(BOOT), '--slots', slots, '--health-deadline-ms', '30000'], {
      name: 'kedge-boot',
      env,
      readyLine: /starting 1\.1\.0 from slot b \(trial, boot 1 of 3\)/,
    });
    if (step === 'health check') await waitFor(() => markerLines(marker).length === 1, { what: 'the trial daemon to run' });
    boot.kill('SIGKILL');
    await boot.exitedWithin(FIXTURE_EXIT_TIMEOUT_MS, `the launcher killed during the ${step}`);
    assertBootable(slots);
    assert.deepEqual(readState(slots)!.pending?.attempts, 1);
    launch(t, slots, marker);
    const s = await settled(slots);
    assert.deepEqual({ current: s.current, version: s.versions[s.current], event: last(s).event }, { current: 'b', version: '1.1.0', event: 'good' });
  });
}
