/**
 * A clean close is bounded whatever the broker does. The close publishes a goodbye at QoS 1 and
 * waits for its PUBACK a while; a broker that stays connected (it answers the keepalive pings)
 * but has stalled on publishes never sends it, and mqtt.js's graceful end would then wait for
 * that PUBACK for as long as the link lives: a stop or a reload of the gateway behind it hangs.
 */
import net from 'node:net';
import test from 'node:test';
import assert from 'node:assert/strict';
import type { AuthorizePublishHandler } from 'aedes';
import { pino } from 'pino';
import { startEmbeddedBroker } from '../../broker/embedded.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { jsonCodec } from '../../codec/json.ts';
import { MemoryLog } from '../memory-log.ts';
import { TEST_UPLINK_TIMING } from '../test-timing.ts';
import { END_WAIT_MS } from '../broker-link/mqtt-transport.ts';
import { Uplink } from './uplink.ts';

const identity = { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'gw-stall' };
const CLIENT_ID = 'kedge-gw-stall';
/** The goodbye's wait (2 s) plus END_WAIT_MS, with a wide margin for a loaded machine: a close not done by then hangs. */
const HANG_LIMIT_MS = 2000 + END_WAIT_MS + 20_000;

async function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not end within ${HANG_LIMIT_MS} ms`)), HANG_LIMIT_MS);
  });
  try {
    return await Promise.race([p, hung]);
  } finally {
    clearTimeout(timer);
  }
}

test('a stop against a broker that stays connected but stalls on publishes ends, and the broker sees the link go', async (t) => {
  const stalled: string[] = [];
  const ctl = { stall: false };
  // Stalled: the publish is never authorized, so no PUBACK ever comes; pings are still answered.
  const authorizePublish: AuthorizePublishHandler = (client, packet, cb) => {
    if (ctl.stall && client?.id === CLIENT_ID) stalled.push(packet.topic);
    else cb(null);
  };
  const b = await startEmbeddedBroker({ port: 0, aedes: { authorizePublish } });
  t.after(() => b.close());
  const online = new Promise<void>((resolve) => b.broker.on('publish', (p) => void (p.topic.endsWith('/status') && resolve())));
  const gone = new Promise<void>((resolve) => b.broker.on('clientDisconnect', (c) => void (c.id === CLIENT_ID && resolve())));

  const uplink = new Uplink({
    log: new MemoryLog(),
    identity,
    url: b.url,
    clientId: CLIENT_ID,
    codec: jsonCodec,
    ...TEST_UPLINK_TIMING,
    logger: pino({ level: 'silent' }),
  });
  t.after(() => uplink.stop());
  uplink.start();
  await within(online, 'the birth');
  ctl.stall = true;
  await within(uplink.stop(), 'uplink.stop() with a stalled broker');
  assert.ok(
    stalled.some((topic) => topic === 'kedge/v1/kuzbass/kemerovo/gw-stall/status'),
    `the goodbye reached the broker and was stalled there: ${JSON.stringify(stalled)}`,
  );
  await within(gone, 'the broker seeing the uplink disconnect');
});

/**
 * A broker that acknowledges everything but, after the client's DISCONNECT, never closes the
 * link: just enough MQTT 3.1.1 (CONNACK, PUBACK, SUBACK, PINGRESP) to keep mqtt.js content.
 */
async function neverClosingBroker(t: test.TestContext) {
  const seen: string[] = [];
  const sockets = new Set<net.Socket>();
  // allowHalfOpen: the client's FIN after its DISCONNECT does not make this side end the link.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('end', () => seen.push('client end'));
    socket.on('close', () => sockets.delete(socket));
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        // Fixed header: type and flags, then the remaining length as a variable byte integer.
        let len = 0;
        let mul = 1;
        let i = 1;
        for (; i < buf.length && i <= 4; i++) {
          len += (buf[i]! & 0x7f) * mul;
          mul *= 128;
          if ((buf[i]! & 0x80) === 0) break;
        }
        if (i >= buf.length || buf.length < i + 1 + len) return;
        const type = buf[0]! >> 4;
        const body = buf.subarray(i + 1, i + 1 + len);
        const flags = buf[0]! & 0x0f;
        buf = buf.subarray(i + 1 + len);
        if (type === 1) socket.write(Buffer.from([0x20, 2, 0, 0]));
        else if (type === 3 && ((flags >> 1) & 3) === 1) {
          const topicLen = body.readUInt16BE(0);
          seen.push(`publish ${body.subarray(2, 2 + topicLen).toString()}`);
          socket.write(Buffer.concat([Buffer.from([0x40, 2]), body.subarray(2 + topicLen, 4 + topicLen)]));
        } else if (type === 8) {
          let filters = 0;
          for (let at = 2; at < body.length; at += 2 + body.readUInt16BE(at) + 1) filters++;
          socket.write(Buffer.concat([Buffer.from([0x90, 2 + filters]), body.subarray(0, 2), Buffer.alloc(filters, 1)]));
        } else if (type === 12) socket.write(Buffer.from([0xd0, 0]));
        else if (type === 14) seen.push('disconnect');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`, seen };
}

test('a stop against a broker that acknowledges the goodbye but never closes its half of the link after DISCONNECT ends within END_WAIT_MS', async (t) => {
  const broker = await neverClosingBroker(t);
  const uplink = new Uplink({
    log: new MemoryLog(),
    identity,
    url: broker.url,
    clientId: CLIENT_ID,
    codec: jsonCodec,
    ...TEST_UPLINK_TIMING,
    logger: pino({ level: 'silent' }),
  });
  t.after(() => uplink.stop());
  uplink.start();
  await waitFor(() => broker.seen.includes('publish kedge/v1/kuzbass/kemerovo/gw-stall/status'), { what: 'the birth' });
  await within(uplink.stop(), 'uplink.stop() with a broker that never closes');
  const statuses = broker.seen.filter((s) => s === 'publish kedge/v1/kuzbass/kemerovo/gw-stall/status');
  assert.equal(statuses.length, 2, `birth and goodbye, both acknowledged: ${JSON.stringify(broker.seen)}`);
  // The broker keeps its half of the link open: only the client's own limit ended the stop.
  assert.deepEqual(broker.seen.slice(-2), ['disconnect', 'client end']);
});
