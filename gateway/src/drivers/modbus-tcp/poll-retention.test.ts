import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { startModbusSim } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { TcpTransport } from './tcp-transport.ts';

/**
 * A box polls the same connections for months: nothing a finished poll returned may stay
 * reachable through the link (issue 20). Two ways it did: a `Promise.race` against the link's
 * close signal per request (close-watch.ts) and modbus-serial's table of transactions, which
 * keeps every request's callback until its id (0..255) comes round again.
 */
test('the results of finished polls are not kept alive by a TCP link that stays open', async (t) => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const sim = await startModbusSim();
  t.after(() => sim.close());
  const transport = new TcpTransport('127.0.0.1', sim.port, 5_000);
  t.after(() => transport.close());
  // More polls than modbus-serial has transaction ids, on one connection.
  const POLLS = 300;
  const refs: WeakRef<object>[] = [];
  // Each poll in its own finished call: no frame of this test holds a result.
  const poll = async () => {
    const registers = await transport.read(1, 'holding', 0, 5, 5_000);
    assert.equal(registers.length, 5);
    refs.push(new WeakRef(registers));
  };
  for (let i = 0; i < POLLS; i++) await poll();
  // WeakRefs are cleared only after the job that made them: collect on later turns.
  await nextTurn();
  gc();
  await nextTurn();
  gc();
  const alive = refs.filter((r) => r.deref() !== undefined).length;
  assert.equal(alive, 0, `${alive} of ${POLLS} poll results still reachable while the link is open`);
  // The link is still the same, working connection.
  assert.equal((await transport.read(1, 'holding', 0, 5, 5_000)).length, 5);
});
