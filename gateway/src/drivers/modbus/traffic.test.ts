import assert from 'node:assert/strict';
import test from 'node:test';
import { recordTraffic, TrafficRing } from './traffic.ts';
import type { ModbusTransport } from './transport.ts';

/** A transport whose next answer the test decides. */
function scripted(): ModbusTransport & { next: () => Promise<number[] | boolean[]> } {
  const t = {
    next: async (): Promise<number[] | boolean[]> => [1, 2],
    read: async () => t.next(),
    write: async () => {
      await t.next();
    },
    reset: async () => {},
    close: async () => {},
  };
  return t;
}

const exception = (code: number) => Object.assign(new Error(`Modbus exception ${code}`), { modbusCode: code });

test('every request lands in the ring with its function, range, duration and outcome', async () => {
  const ring = new TrafficRing(10);
  let clock = 1000;
  const t = recordTraffic(scripted(), ring, () => clock);
  t.next = async () => {
    clock += 7;
    return [0x1234, 0x5678];
  };
  assert.deepEqual(await t.read(3, 'input', 100, 2, 500), [0x1234, 0x5678]);
  t.next = async () => Promise.reject(exception(2));
  await assert.rejects(t.read(3, 'holding', 900, 1, 500));
  t.next = async () => Promise.reject(Object.assign(new Error('Timed out'), { name: 'TransactionTimedOutError' }));
  await assert.rejects(t.read(3, 'coil', 0, 8, 500));
  t.next = async () => Promise.reject(new Error('CRC error'));
  await assert.rejects(t.read(3, 'holding', 0, 1, 500));
  t.next = async () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
  await assert.rejects(t.read(3, 'holding', 0, 1, 500));
  t.next = async () => [];
  await t.write!(3, 'holding', 10, [42], 500);
  await t.write!(3, 'coil', 5, [true, false], 500);

  const recent = ring.recent(3);
  assert.deepEqual(
    recent.map((e) => [e.fn, e.table, e.address, e.count, e.outcome, e.exception ?? null]),
    [
      [15, 'coil', 5, 2, 'ok', null],
      [6, 'holding', 10, 1, 'ok', null],
      [3, 'holding', 0, 1, 'link', null],
      [3, 'holding', 0, 1, 'frame', null],
      [1, 'coil', 0, 8, 'timeout', null],
      [3, 'holding', 900, 1, 'exception', 2],
      [4, 'input', 100, 2, 'ok', null],
    ],
  );
  assert.equal(recent[recent.length - 1]!.durationMs, 7);
  assert.deepEqual(recent[recent.length - 1]!.answer, [0x1234, 0x5678]);
  assert.deepEqual(ring.countersOf(3), { ok: 3, exception: 1, timeout: 1, frame: 1, link: 1 });
  // Another unit on the same link has its own view.
  assert.deepEqual(ring.recent(4), []);
  assert.deepEqual(ring.countersOf(4), { ok: 0, exception: 0, timeout: 0, frame: 0, link: 0 });
});

test('the ring keeps the newest entries; the counters keep counting past its size', async () => {
  const ring = new TrafficRing(3);
  const t = recordTraffic(scripted(), ring);
  for (let a = 0; a < 7; a++) await t.read(1, 'holding', a, 1, 500);
  assert.deepEqual(ring.recent(1).map((e) => e.address), [6, 5, 4]);
  assert.deepEqual(ring.recent(1, 2).map((e) => e.address), [6, 5]);
  assert.equal(ring.countersOf(1).ok, 7);
});
