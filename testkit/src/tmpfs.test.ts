import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess } from './proc.ts';
import { tsEntry } from './entry.ts';
import { tmpfsUnavailable } from './tmpfs.ts';

const FIXTURE = join(import.meta.dirname, 'tmpfs-left-mounted.fixture.ts');
/** Loading the fixture through the TypeScript loader and mounting, on a loaded box. */
const FIXTURE_TIMEOUT_MS = 60_000;

const mounted = (dir: string) => readFileSync('/proc/mounts', 'utf8').split('\n').some((line) => line.split(' ')[1] === dir);

test('a tmpfs whose unmount was skipped (an earlier clean-up hook threw) is unmounted and removed when the process exits', { skip: tmpfsUnavailable() ?? false }, async (t) => {
  const fixture = await startProcess(process.execPath, [...tsEntry(FIXTURE)], { name: 'tmpfs fixture' });
  t.after(() => fixture.stop());
  const exit = await fixture.exitedWithin(FIXTURE_TIMEOUT_MS, 'the end of its test');
  const dir = /mounted (\S+)/.exec(fixture.output())?.[1];
  assert.ok(dir, `the fixture mounted a tmpfs: ${fixture.output()}`);
  // Should the fallback fail, this run must not leave the mount behind either.
  t.after(() => {
    if (mounted(dir)) execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  assert.equal(exit.code, 1, `the failed clean-up hook fails the fixture's run: ${fixture.output()}`);
  assert.match(fixture.output(), /a clean-up step failed/);
  assert.equal(mounted(dir), false, `${dir} is no longer mounted`);
  assert.equal(existsSync(dir), false, `${dir} is removed`);
});
