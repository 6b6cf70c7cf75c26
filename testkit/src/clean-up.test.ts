import test from 'node:test';
import assert from 'node:assert/strict';
import { closeAll } from './clean-up.ts';

test('closeAll runs the steps after one that throws, then fails with that error', async () => {
  const ran: string[] = [];
  const removal = new Error('cannot remove /tmp/x');
  await assert.rejects(
    closeAll(
      () => ran.push('gateway stopped'),
      async () => {
        ran.push('center closing');
        throw removal;
      },
      undefined,
      async () => {
        await new Promise<void>((resolve) => setImmediate(resolve));
        ran.push('sim closed');
      },
    ),
    (err) => err === removal,
  );
  assert.deepEqual(ran, ['gateway stopped', 'center closing', 'sim closed']);
});

test('closeAll names every failed step when several throw', async () => {
  await assert.rejects(
    closeAll(
      () => {
        throw new Error('first');
      },
      () => Promise.reject(new Error('second')),
    ),
    (err) => err instanceof AggregateError && err.errors.length === 2 && /first; second/.test(err.message),
  );
});

test('closeAll resolves when every step succeeds', async () => {
  let n = 0;
  await closeAll(
    () => n++,
    async () => n++,
  );
  assert.equal(n, 2);
});
