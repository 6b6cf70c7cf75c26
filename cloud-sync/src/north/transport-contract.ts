/**
 * The SinkTransport contract (./transport.ts), one suite for every transport: run by
 * transport-contract.test.ts against the MQTT transport on a real broker and the HTTP
 * transport on a real server. A new transport adds one line there.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@kedge/testkit/wait.ts';
import type { Batch } from '../codec/index.ts';
import type { SendResult, SinkTransport, TransportEvents } from './transport.ts';

/** One transport under test and its far end. */
export interface ContractRig {
  transport: SinkTransport;
  /** The batches the far end received so far, decoded, in arrival order. */
  received(): Batch[];
  /**
   * A round trip to the far end that does not involve the transport (MQTT: a message through
   * the broker; HTTP: a request to the server). Once it is back, anything the transport would
   * have reported by then has been reported: the positive event behind a "nothing happened".
   */
  probe(): Promise<void>;
}

/** Every event a transport reported to one connect(), in order. */
interface Recorder {
  events: TransportEvents;
  log: string[];
}

function recorder(): Recorder {
  const log: string[] = [];
  return {
    log,
    events: {
      ready: () => log.push('ready'),
      down: (reason) => log.push(`down: ${reason}`),
      confirmed: (seq) => log.push(`confirmed ${seq}`),
      problem: (message) => log.push(`problem: ${message}`),
    },
  };
}

function batchOf(first: number, count: number): Batch {
  return {
    gateway: 'gw-contract',
    epoch: 'e-contract',
    first,
    last: first + count - 1,
    evicted: [],
    readings: Array.from({ length: count }, (_, i) => ({ seq: first + i, ts: 1_700_000_000_000 + first + i, point: 'pump-1/flow', value: first + i, quality: 'good' as const })),
  };
}

async function connected(transport: SinkTransport): Promise<Recorder> {
  const r = recorder();
  transport.connect(r.events);
  await waitFor(() => r.log.length > 0, { what: `${transport.label}: the first event of the link` });
  assert.deepEqual(r.log, ['ready'], 'a link is ready before anything else');
  return r;
}

/** Sends and collects every call of `done` (more than one would be a breach). */
function send(transport: SinkTransport, batch: Batch): { results: SendResult[]; bytes: number } {
  const results: SendResult[] = [];
  const bytes = transport.send(batch, (r) => results.push(r));
  return { results, bytes };
}

export function sinkTransportContract(name: string, make: (t: test.TestContext) => Promise<ContractRig>): void {
  test(`${name}: connect reports ready once; a send is done exactly once, delivered, and reaches the far end`, async (t) => {
    const rig = await make(t);
    const r = await connected(rig.transport);
    const one = send(rig.transport, batchOf(1, 3));
    assert.ok(one.bytes > 0, 'a send says what it put on the wire');
    await waitFor(() => one.results.length > 0, { what: 'the first send done' });
    await waitFor(() => rig.received().length === 1, { what: 'the far end to have the batch' });
    await rig.probe();
    assert.deepEqual(one.results, [{ ok: true }], 'done once, delivered');
    const got = rig.received()[0]!;
    assert.deepEqual([got.first, got.last, got.readings.map((x) => x.value)], [1, 3, [1, 2, 3]]);
    assert.deepEqual(r.log, ['ready'], 'a healthy link reports nothing more');
  });

  test(`${name}: several sends outstanding at once are each done exactly once`, async (t) => {
    const rig = await make(t);
    await connected(rig.transport);
    const sends = [1, 4, 7, 10].map((first) => send(rig.transport, batchOf(first, 3)));
    await waitFor(() => sends.every((s) => s.results.length > 0), { what: 'all four sends done' });
    await waitFor(() => rig.received().length === 4, { what: 'the far end to have all four' });
    await rig.probe();
    assert.deepEqual(
      sends.map((s) => s.results),
      sends.map(() => [{ ok: true }]),
    );
    assert.deepEqual(
      rig.received().map((b) => b.first).sort((a, b) => a - b),
      [1, 4, 7, 10],
    );
  });

  test(`${name}: after disconnect() the old link reports nothing; connect() opens a new one that works`, async (t) => {
    const rig = await make(t);
    const old = await connected(rig.transport);
    rig.transport.disconnect();
    const fresh = await connected(rig.transport);
    const s = send(rig.transport, batchOf(1, 2));
    await waitFor(() => s.results.length > 0, { what: 'a send on the new link' });
    await rig.probe();
    assert.deepEqual(s.results, [{ ok: true }]);
    assert.deepEqual(old.log, ['ready'], 'no down, no confirmation of a link the driver dropped');
    assert.deepEqual(fresh.log, ['ready']);
  });

  test(`${name}: a send outstanding when the link is dropped is done at most once, and never as delivered`, async (t) => {
    const rig = await make(t);
    await connected(rig.transport);
    const cut = send(rig.transport, batchOf(1, 2));
    rig.transport.disconnect();
    // The driver resends from its cursor on the next link: a late "delivered" of the old one would move it past a loss.
    await connected(rig.transport);
    const next = send(rig.transport, batchOf(1, 2));
    await waitFor(() => next.results.length > 0, { what: 'the send on the next link' });
    await rig.probe();
    assert.ok(cut.results.length <= 1, `done at most once: ${JSON.stringify(cut.results)}`);
    assert.ok(cut.results.every((r) => !r.ok), `not delivered: ${JSON.stringify(cut.results)}`);
    assert.deepEqual(next.results, [{ ok: true }]);
  });

  test(`${name}: close() resolves and nothing is reported after it`, async (t) => {
    const rig = await make(t);
    const r = await connected(rig.transport);
    const s = send(rig.transport, batchOf(1, 2));
    await waitFor(() => s.results.length > 0, { what: 'the send before the close' });
    await rig.transport.close();
    await rig.probe();
    assert.deepEqual(r.log, ['ready'], 'a clean stop is not a link going down');
    assert.deepEqual(s.results, [{ ok: true }]);
  });
}
