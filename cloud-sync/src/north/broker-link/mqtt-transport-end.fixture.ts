/**
 * For mqtt-transport-end.test.ts: a transport whose connection waits for a CONNACK that never
 * comes (a server that accepts and stays silent) is ended by `argv[2]` (close or disconnect),
 * the server closed, and `ENDED` printed. Nothing is left then: the process must exit by itself.
 */
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { MqttTransport, type PublisherFormat } from './mqtt-transport.ts';

/** Far longer than the test waits: a timer of it still running is what would hold the process. */
const CONNECT_TIMEOUT_MS = 600_000;

const how = process.argv[2];
if (how !== 'close' && how !== 'disconnect') throw new Error(`usage: ${process.argv[1]} close|disconnect`);
const status = { topic: 'kedge/test/status', payload: 'offline', retain: true };
const format: PublisherFormat = { label: 'uplink', will: () => status, onOnline: () => {}, encode: () => [], goodbye: () => status };

const sockets: Socket[] = [];
const server = createServer((s) => sockets.push(s));
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const transport = new MqttTransport(
  {
    url: `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`,
    clientId: `end-test-${how}`,
    keepaliveSec: 30,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    logger: { warn: () => {}, debug: () => {} },
  },
  format,
);
const accepted = once(server, 'connection');
transport.connect({ ready: () => console.log('UNEXPECTED CONNACK'), down: () => {} });
await accepted;
if (how === 'close') await transport.close();
else transport.disconnect();
for (const s of sockets) s.destroy();
server.close();
console.log('ENDED');
