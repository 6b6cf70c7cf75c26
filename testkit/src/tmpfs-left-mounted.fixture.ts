/**
 * A test file whose clean-up fails before its unmount (tmpfs.test.ts runs it): node:test skips
 * the test's later `after` hooks, so only the exit fallback can unmount. Prints the mount point.
 */
import test from 'node:test';
import { mountTmpfs } from './tmpfs.ts';
import { afterEverything } from './temp-dirs.ts';

test('mounts, then a clean-up step throws before the unmount', (t) => {
  const fs = mountTmpfs(1024 * 1024, 'kedge-tmpfs-fixture');
  afterEverything(t, () => fs.unmount());
  t.after(() => {
    throw new Error('a clean-up step failed');
  });
  console.log(`mounted ${fs.dir}`);
});
