import test from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fc from 'fast-check';
import { runs } from '@kedge/testkit/fuzz.ts';
import { parseConfig } from '../../config/load.ts';
import type { ModbusTcpDeviceConfig } from './schema.ts';
import { createModbusTcpDriver } from './index.ts';

type Behaviour = (request: Buffer, socket: net.Socket) => void;

/** A Modbus TCP peer whose answer to each request is up to the test. */
async function fakeDevice(t: test.TestContext, behave: () => Behaviour): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.on('data', (request) => behave()(request, socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

/** A correct FC 3 answer with the given registers, echoing the request's transaction id. */
function holdingAnswer(request: Buffer, words: number[]): Buffer {
  const body = Buffer.alloc(3 + words.length * 2);
  body[0] = request[6]!; // unit
  body[1] = 3;
  body[2] = words.length * 2;
  words.forEach((w, i) => body.writeUInt16BE(w, 3 + i * 2));
  const head = Buffer.alloc(6);
  request.copy(head, 0, 0, 2);
  head.writeUInt16BE(0, 2);
  head.writeUInt16BE(body.length, 4);
  return Buffer.concat([head, body]);
}

function device(port: number, timeoutMs = 300): ModbusTcpDeviceConfig {
  const cfg = parseConfig(
    JSON.stringify({
      gateway: { id: 'gw-chaos', region: 'kuzbass', municipality: 'kemerovo' },
      uplink: { url: 'mqtt://127.0.0.1:1' },
      devices: [
        {
          id: 'flaky',
          driver: 'modbus-tcp',
          host: '127.0.0.1',
          port,
          timeoutMs,
          points: [
            { id: 'a', table: 'holding', address: 0, type: 'uint16' },
            { id: 'b', table: 'holding', address: 1, type: 'int32' },
          ],
        },
      ],
    }),
  );
  return cfg.devices[0] as ModbusTcpDeviceConfig;
}

/** Where a test needs the next answer to arrive in time: generous, a loaded box may stall for a second. */
const LATE_ANSWER_TIMEOUT_MS = 2000;

const BAD = new Set(['bad_comm', 'bad_decode', 'bad_no_response', 'bad_device_error']);

test('a device answering random bytes gets bad quality on every point, and the driver never throws', async (t) => {
  let garbage = Buffer.alloc(0);
  const port = await fakeDevice(t, () => (_req, socket) => socket.write(garbage));
  const driver = createModbusTcpDriver(device(port, 150));
  t.after(() => driver.close());
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 40 }), async (bytes) => {
      garbage = Buffer.from(bytes);
      const result = await driver.poll(['a', 'b']);
      assert.equal(result.samples.length, 2);
      for (const s of result.samples) assert.ok(BAD.has(s.quality) && s.value === null, `${s.quality} ${String(s.value)}`);
      assert.equal(result.failed, true);
    }),
    { numRuns: runs(25) },
  );
});

test('a frame with our transaction id but a wrong byte count is a bad frame, and the next good answer is read', async (t) => {
  let lie = true;
  const port = await fakeDevice(t, () => (req, socket) => {
    const answer = holdingAnswer(req, [7, 0, 9]);
    if (lie) answer[8] = 200; // byte count says 200, only 6 follow
    socket.write(answer);
  });
  const driver = createModbusTcpDriver(device(port, LATE_ANSWER_TIMEOUT_MS));
  t.after(() => driver.close());
  const bad = await driver.poll(['a', 'b']);
  assert.ok(bad.samples.every((s) => BAD.has(s.quality)), JSON.stringify(bad.samples));
  lie = false;
  const good = await driver.poll(['a', 'b']);
  assert.deepEqual(
    good.samples.map((s) => [s.point, s.value, s.quality]),
    [
      ['a', 7, 'good'],
      ['b', 9, 'good'],
    ],
  );
});

test("a slow device's late answer is never taken for the answer to the next request", async (t) => {
  // Request 1 gets no answer until request 2 has arrived, i.e. until after its own timeout:
  // then the late answer 1 and answer 2 go out back to back. Ordered by events, not by delays,
  // so a loaded box cannot turn answer 2 late as well.
  let call = 0;
  let first: Buffer | undefined;
  const port = await fakeDevice(t, () => (req, socket) => {
    call++;
    if (call === 1) {
      first = req;
      return;
    }
    socket.write(holdingAnswer(first!, [111, 0, 111]));
    socket.write(holdingAnswer(req, [222, 0, 222]));
  });
  const driver = createModbusTcpDriver(device(port, LATE_ANSWER_TIMEOUT_MS));
  t.after(() => driver.close());
  const timedOut = await driver.poll(['a', 'b']);
  assert.deepEqual(timedOut.samples.map((s) => s.quality), ['bad_no_response', 'bad_no_response']);
  const second = await driver.poll(['a', 'b']);
  assert.deepEqual(second.samples.map((s) => [s.value, s.quality]), [
    [222, 'good'],
    [222, 'good'],
  ]);
});

test('a device that drops the connection mid-frame is bad_comm, and the next poll reconnects', async (t) => {
  let drop = true;
  const port = await fakeDevice(t, () => (req, socket) => {
    if (drop) {
      socket.end(holdingAnswer(req, [1, 2, 3]).subarray(0, 7));
      return;
    }
    socket.write(holdingAnswer(req, [5, 0, 6]));
  });
  const driver = createModbusTcpDriver(device(port, 300));
  t.after(() => driver.close());
  const broken = await driver.poll(['a', 'b']);
  assert.ok(broken.samples.every((s) => BAD.has(s.quality)));
  drop = false;
  let next = await driver.poll(['a', 'b']);
  if (next.failed) next = await driver.poll(['a', 'b']); // the first retry may still see the closing socket
  assert.deepEqual(next.samples.map((s) => s.value), [5, 6]);
});
