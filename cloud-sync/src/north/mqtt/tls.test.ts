import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { MemoryLog } from '../memory-log.ts';
import { makeTestPki, type TestPki } from '@kedge/testkit/certs.ts';
import { startMosquitto, type MosquittoHandle } from '@kedge/testkit/mosquitto.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { jsonCodec } from '../../codec/json.ts';
import { Uplink, type UplinkOptions } from './uplink.ts';

const logger = pino({ level: 'silent' });

interface Fixture {
  pki: TestPki;
  broker: MosquittoHandle;
  url: string;
  dir: string;
}

/** mosquitto with a TLS-only listener that demands a client certificate from our CA. */
async function tlsBroker(t: test.TestContext): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pki = makeTestPki(join(dir, 'pki'));
  const broker = await startMosquitto({
    extraConf: [
      `cafile ${pki.caCert}`,
      `certfile ${pki.serverCert}`,
      `keyfile ${pki.serverKey}`,
      'require_certificate true',
      'use_identity_as_username true',
    ].join('\n'),
  });
  t.after(() => broker.stop());
  return { pki, broker, url: `mqtts://127.0.0.1:${broker.port}`, dir };
}

function uplink(t: test.TestContext, f: Fixture, tls: UplinkOptions['tls']) {
  const log = new MemoryLog();
  const up = new Uplink({
    log,
    identity: { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'gw-tls' },
    url: f.url,
    clientId: `gw-tls-${Math.random().toString(16).slice(2)}`,
    tls,
    codec: jsonCodec,
    batchMaxReadings: 100,
    batchMaxDelayMs: 10,
    inflight: 2,
    keepaliveSec: 10,
    reconnectMinMs: 100,
    reconnectMaxMs: 300,
    logger,
  });
  t.after(async () => {
    await up.stop();
    log.close();
  });
  return { log, up };
}

const file = (p: string) => readFileSync(p);

test('over TLS with our CA and a client certificate, readings reach a broker that requires certificates', async (t) => {
  const f = await tlsBroker(t);
  const sub = await mqtt.connectAsync(f.url, { ca: file(f.pki.caCert), cert: file(f.pki.clientCert), key: file(f.pki.clientKey) });
  t.after(() => sub.endAsync());
  const got: Buffer[] = [];
  sub.on('message', (topic, payload) => topic.endsWith('/data') && got.push(payload));
  await sub.subscribeAsync('kedge/#', { qos: 1 });

  const { log, up } = uplink(t, f, { ca: file(f.pki.caCert), cert: file(f.pki.clientCert), key: file(f.pki.clientKey) });
  log.append([{ point: 'm/flow', ts: Date.now(), value: 4.5, quality: 'good' }]);
  log.flush();
  up.start();
  await waitFor(() => log.cursor('uplink') === 1, { what: 'the reading acknowledged over TLS' });
  await waitFor(() => got.length === 1, { what: 'the subscriber to receive it' });
  assert.equal(jsonCodec.decode(got[0]!).readings[0]?.value, 4.5);
});

test('without a client certificate the broker refuses the gateway, which keeps its readings and says why', async (t) => {
  const f = await tlsBroker(t);
  const { log, up } = uplink(t, f, { ca: file(f.pki.caCert) });
  log.append([{ point: 'm/flow', ts: Date.now(), value: 1, quality: 'good' }]);
  log.flush();
  up.start();
  await waitFor(() => up.status().reconnects >= 2, { what: 'refused attempts' });
  assert.notEqual(up.status().state, 'online');
  assert.equal(log.cursor('uplink'), 0, 'nothing acknowledged, nothing lost');
  assert.match(up.status().lastError ?? '', /certificate|handshake|ECONNRESET|socket|closed/i);
});

test('a client certificate from another CA is refused', async (t) => {
  const f = await tlsBroker(t);
  const { up } = uplink(t, f, { ca: file(f.pki.caCert), cert: file(f.pki.otherClientCert), key: file(f.pki.otherClientKey) });
  up.start();
  await waitFor(() => up.status().reconnects >= 2, { what: 'refused attempts' });
  assert.notEqual(up.status().state, 'online');
});

test('a broker whose certificate our CA did not sign is refused by the gateway', async (t) => {
  const f = await tlsBroker(t);
  const { up } = uplink(t, f, { ca: file(f.pki.otherCaCert), cert: file(f.pki.clientCert), key: file(f.pki.clientKey) });
  up.start();
  await waitFor(() => up.status().lastError, { what: 'a verification error' });
  assert.match(up.status().lastError ?? '', /self[- ]signed|unable to verify|certificate/i);
  assert.notEqual(up.status().state, 'online');
});
