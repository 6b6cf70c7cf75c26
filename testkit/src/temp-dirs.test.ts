/**
 * A temp folder outlives the clean-up of what a test started in it, however late that clean-up
 * was registered: the removal must come after the stop of the child still writing there.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { startProcess, type ProcessExit } from './proc.ts';
import { afterEverything, tempDir } from './temp-dirs.ts';

const WRITER = `
const { writeFileSync } = require('node:fs');
const dir = process.argv[1];
let i = 0;
const write = () => writeFileSync(dir + '/f' + (i++ % 50), 'x');
write();
console.log('writing');
setInterval(write, 5);
`;

test('a temp folder is removed after the stop of a child writing there, though the stop was registered later', async (t) => {
  let dir = '';
  let atStop: string[] | null = null;
  let exit: ProcessExit | undefined;
  await t.test('a test that makes the folder, then starts a writer', async (inner) => {
    dir = tempDir(inner, 'kedge-temp-dirs-test-');
    const writer = await startProcess(process.execPath, ['-e', WRITER, dir], { name: 'writer', readyLine: /writing/ });
    inner.after(async () => {
      atStop = readdirSync(dir);
      await writer.stop();
      exit = await writer.exited;
    });
  });
  assert.ok(atStop !== null && (atStop as string[]).length > 0, 'the folder (with what the writer wrote) was still there when the writer was stopped');
  assert.deepEqual(exit, { code: null, signal: 'SIGTERM' }, 'the writer ran until its stop');
  assert.equal(existsSync(dir), false, 'then the folder was removed');
});

test('afterEverything runs after every hook of the test, also those registered after it', async (t) => {
  const order: string[] = [];
  await t.test('inner', (inner) => {
    afterEverything(inner, () => order.push('last'));
    inner.after(() => order.push('registered second'));
    inner.after(async () => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      order.push('registered third, async');
    });
  });
  assert.deepEqual(order, ['registered second', 'registered third, async', 'last']);
});
