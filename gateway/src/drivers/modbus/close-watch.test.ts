import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CloseWatch } from './close-watch.ts';

/** A full garbage collection on demand (the flag set at runtime: the test runner passes no node flags). */
function collector(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

test('a transaction settles with its own result or error and leaves nothing registered', async () => {
  const watch = new CloseWatch();
  assert.deepEqual(await watch.guard(Promise.resolve([1, 2, 3])), [1, 2, 3]);
  await assert.rejects(watch.guard(Promise.reject(new Error('exception 2: illegal address'))), /illegal address/);
  assert.equal(watch.inFlight(), 0);
});

test('the link closing fails the transaction in flight at once; its late answer is ignored', async () => {
  const watch = new CloseWatch();
  const work = deferred<number[]>();
  const guarded = watch.guard(work.promise);
  assert.equal(watch.inFlight(), 1);
  watch.close(Object.assign(new Error('the link closed before the device answered'), { code: 'ECONNCLOSED' }));
  await assert.rejects(guarded, { code: 'ECONNCLOSED' });
  assert.equal(watch.inFlight(), 0);
  // modbus-serial may still fail the abandoned request later: no unhandled rejection, no second outcome.
  work.reject(new Error('Timed out'));
  await nextTurn();
});

test('a transaction started after the link closed fails at once, whatever its work does later', async () => {
  const watch = new CloseWatch();
  watch.close(new Error('the link closed before the device answered'));
  const work = deferred<number[]>();
  await assert.rejects(watch.guard(work.promise), /link closed/);
  work.reject(new Error('Port Not Open'));
  await nextTurn();
  assert.equal(watch.inFlight(), 0);
});

test('the results of settled transactions are not kept alive by a link that stays open (the Promise.race leak)', async () => {
  const gc = collector();
  const watch = new CloseWatch();
  const refs: WeakRef<object>[] = [];
  const POLLS = 200;
  // Each poll in its own finished call: no frame of this test holds a result.
  const poll = async (i: number) => {
    const registers = { data: new Array(100).fill(i) };
    refs.push(new WeakRef(registers));
    await watch.guard(Promise.resolve(registers));
  };
  for (let i = 0; i < POLLS; i++) await poll(i);
  // WeakRefs are cleared only after the job that created them: collect on a later turn.
  await nextTurn();
  gc();
  await nextTurn();
  gc();
  const alive = refs.filter((r) => r.deref() !== undefined).length;
  assert.equal(alive, 0, `${alive} of ${POLLS} poll results still reachable while the link is open`);
  assert.equal(watch.inFlight(), 0);
});
