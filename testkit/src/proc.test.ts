import test from 'node:test';
import assert from 'node:assert/strict';
import { startProcess } from './proc.ts';

test('exitedWithin: a process that does not exit in time is SIGKILLed and the error names the step and carries its output', async () => {
  const p = await startProcess(process.execPath, ['-e', "console.log('still serving'); setInterval(() => {}, 1000)"], { name: 'hanging fixture', readyLine: /still serving/ });
  // Never exits by itself: the bound is what ends it, however loaded the machine is.
  await assert.rejects(p.exitedWithin(100, 'the power-loss step'), (err: Error) => {
    assert.match(err.message, /hanging fixture: still running 100 ms into the power-loss step, killed \(SIGKILL\)/);
    assert.match(err.message, /still serving/);
    return true;
  });
  assert.deepEqual(await p.exited, { code: null, signal: 'SIGKILL' });
});

test('exitedWithin: a process that exits in time resolves with its exit', async () => {
  const p = await startProcess(process.execPath, ['-e', 'process.exit(3)'], { name: 'quick fixture' });
  assert.deepEqual(await p.exitedWithin(60_000, 'a quick exit'), { code: 3, signal: null });
});
