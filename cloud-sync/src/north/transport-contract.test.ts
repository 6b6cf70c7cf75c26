/** Every SinkTransport held to one contract (transport-contract.ts), each against a real far end. */
import mqtt from 'mqtt';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { jsonCodec, type Batch } from '../codec/index.ts';
import { sinkTransportContract } from './transport-contract.ts';
import { MqttTransport, type PublisherFormat } from './broker-link/mqtt-transport.ts';
import { HttpTransport } from './http/http-transport.ts';
import { startTestServer } from './http/test-server.ts';

/** Long enough that a loaded 2-core machine never hits it on a healthy link. */
const GENEROUS_TIMEOUT_MS = 20_000;

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

/** The smallest wire format: one json message per batch, a retained status as Will and goodbye. */
function jsonFormat(topic: string): PublisherFormat {
  return {
    label: 'contract mqtt',
    will: () => ({ topic: `${topic}/status`, payload: 'lost', retain: true }),
    onOnline: () => {},
    encode: (_session, batch) => [{ topic: `${topic}/data`, payload: jsonCodec.encode(batch) }],
    goodbye: () => ({ topic: `${topic}/status`, payload: 'bye', retain: true }),
  };
}

// MQTT 5 against a broker whose Receive Maximum (max_inflight_messages) is below the contract's bursts.
for (const [name, protocolVersion, extraConf] of [
  ['MqttTransport (mosquitto)', 4, ''],
  ['MqttTransport (mosquitto, MQTT 5, Receive Maximum 2)', 5, 'max_inflight_messages 2'],
] as const)
sinkTransportContract(name, async (t) => {
  const broker = await startMosquitto({ extraConf });
  t.after(() => broker.stop());
  const topic = `contract/${process.pid}-${Math.random().toString(16).slice(2)}`;
  const far = await mqtt.connectAsync(broker.url, { clientId: `far-${topic}` });
  t.after(() => far.endAsync());
  const got: Batch[] = [];
  let probes = 0;
  const probed: Array<() => void> = [];
  far.on('message', (tp, payload) => {
    if (tp === `${topic}/data`) got.push(jsonCodec.decode(payload));
    if (tp === `${topic}/probe`) probed.shift()?.();
  });
  await far.subscribeAsync([`${topic}/data`, `${topic}/probe`], { qos: 1 });
  const transport = new MqttTransport(
    { url: broker.url, clientId: `kedge-${topic}`, keepaliveSec: 30, connectTimeoutMs: GENEROUS_TIMEOUT_MS, logger: quiet, protocolVersion },
    jsonFormat(topic),
  );
  t.after(() => transport.close());
  return {
    transport,
    received: () => got,
    probe: () =>
      new Promise<void>((resolve) => {
        probed.push(resolve);
        far.publish(`${topic}/probe`, String(++probes), { qos: 1 });
      }),
  };
});

sinkTransportContract('HttpTransport (node:http server)', async (t) => {
  const server = await startTestServer();
  t.after(() => server.kill());
  const transport = new HttpTransport({ url: server.url, codec: jsonCodec, timeoutMs: GENEROUS_TIMEOUT_MS, refusedRetryMs: 300_000, maxRetryAfterMs: 600_000, logger: quiet });
  t.after(() => transport.close());
  const probeUrl = server.url.replace(/\/ingest$/, '/probe');
  return {
    transport,
    received: () => server.seen.filter((r) => r.url === '/ingest').map((r) => jsonCodec.decode(r.body)),
    probe: async () => {
      await (await fetch(probeUrl, { method: 'POST', body: '{}' })).arrayBuffer();
    },
  };
});
