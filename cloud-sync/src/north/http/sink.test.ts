/**
 * The HTTP sink as a whole (window + driver + HttpTransport) against a real node:http server:
 * the cursor moves only on a 2xx, failures are sent again after a backoff, and across 5xx,
 * a killed server and a refusal every reading arrives, none twice on a healthy link.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@kedge/testkit/wait.ts';
import { jsonCodec } from '../../codec/index.ts';
import type { Reading } from '../../model.ts';
import { MemoryLog } from '../memory-log.ts';
import { httpSinkSchema } from './schema.ts';
import { createHttpSink } from './sink.ts';
import { startTestServer } from './test-server.ts';

/** Generous for a loaded 2-core machine: the waits end on events long before. */
const WAIT = { timeoutMs: 30_000 };

const quiet = { info() {}, warn() {}, debug() {}, error() {} };

function readings(n: number, from = 0): Reading[] {
  return Array.from({ length: n }, (_, i) => ({ point: `pump-${(from + i) % 3}/flow`, ts: Date.now(), value: from + i, quality: 'good' as const }));
}

/** Sequences the server accepted (2xx), ascending. */
function delivered(accepted: Set<number>): number[] {
  return [...accepted].sort((a, b) => a - b);
}

function sinkFor(t: test.TestContext, log: MemoryLog, url: string, extra: Record<string, unknown> = {}, logger: object = quiet) {
  const config = httpSinkSchema.parse({
    kind: 'http',
    name: 'city',
    url,
    codec: 'json',
    batchMaxReadings: 50,
    batchMaxDelayMs: 0,
    reconnectMinMs: 10,
    reconnectMaxMs: 50,
    liveFirst: false,
    ...extra,
  });
  const sink = createHttpSink(config, { log, gateway: 'gw-1', logger: logger as typeof quiet });
  t.after(() => sink.stop());
  return sink;
}

test('batches reach the server and the cursor follows the 2xx answers; the other cursors are untouched', async (t) => {
  const server = await startTestServer();
  t.after(() => server.kill());
  const accepted = new Set<number>();
  server.handle((req, res) => {
    for (const r of jsonCodec.decode(req.body).readings) accepted.add(r.seq);
    res.writeHead(200).end();
  });
  const log = new MemoryLog();
  log.append(readings(120));
  log.flush();
  const sink = sinkFor(t, log, server.url);
  sink.start();
  await waitFor(() => log.cursor('city') === 120, { ...WAIT, what: 'the cursor to reach 120' });
  assert.deepEqual(delivered(accepted), Array.from({ length: 120 }, (_, i) => i + 1));
  assert.equal(server.seen.length, 3, '120 readings in batches of 50: nothing sent twice');
  assert.equal(log.cursor('uplink'), 0, "another sink's cursor does not move");
  assert.equal(sink.status().state, 'online');
});

test('5xx answers are retried with backoff and the cursor waits; nothing is lost', async (t) => {
  const server = await startTestServer();
  t.after(() => server.kill());
  const accepted = new Set<number>();
  let failuresLeft = 4;
  server.handle((req, res) => {
    if (failuresLeft-- > 0) return res.writeHead(503).end();
    for (const r of jsonCodec.decode(req.body).readings) accepted.add(r.seq);
    res.writeHead(204).end();
  });
  const log = new MemoryLog();
  log.append(readings(60));
  log.flush();
  const sink = sinkFor(t, log, server.url, { inflight: 1 });
  sink.start();
  await waitFor(() => sink.status().sendFailures >= 1, { ...WAIT, what: 'a failed send' });
  assert.equal(log.cursor('city'), 0, 'a 503 does not move the cursor');
  await waitFor(() => log.cursor('city') === 60, { ...WAIT, what: 'delivery after the 503s' });
  assert.equal(sink.status().sendFailures, 4);
  assert.ok(sink.status().reconnects >= 4, 'each failure backed off and started again');
  assert.deepEqual([...accepted].sort((a, b) => a - b), Array.from({ length: 60 }, (_, i) => i + 1));
});

test('a server killed and restarted: the sink waits, then delivers what was logged meanwhile', async (t) => {
  const server = await startTestServer();
  t.after(() => server.kill());
  const accepted = new Set<number>();
  server.handle((req, res) => {
    for (const r of jsonCodec.decode(req.body).readings) accepted.add(r.seq);
    res.writeHead(200).end();
  });
  const log = new MemoryLog();
  const sink = sinkFor(t, log, server.url);
  sink.start();
  log.append(readings(10));
  log.flush();
  await waitFor(() => log.cursor('city') === 10, { ...WAIT, what: 'first delivery' });
  await server.kill();
  log.append(readings(40, 10));
  log.flush();
  await waitFor(() => sink.status().sendFailures >= 1, { ...WAIT, what: 'a send to the dead server failing' });
  assert.equal(log.cursor('city'), 10);
  await server.restart();
  await waitFor(() => log.cursor('city') === 50, { ...WAIT, what: 'catching up after the restart' });
  assert.deepEqual([...accepted].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
});

test('a refusal (401) keeps the readings: delivered once the server accepts the token', async (t) => {
  const server = await startTestServer();
  t.after(() => server.kill());
  let token = 'old';
  const accepted = new Set<number>();
  server.handle((req, res) => {
    if (req.headers.authorization !== `Bearer ${token}`) return res.writeHead(401).end();
    for (const r of jsonCodec.decode(req.body).readings) accepted.add(r.seq);
    res.writeHead(200).end();
  });
  const errors: string[] = [];
  const log = new MemoryLog();
  log.append(readings(30));
  log.flush();
  const config = httpSinkSchema.parse({ kind: 'http', name: 'city', url: server.url, batchMaxDelayMs: 0, reconnectMinMs: 10, reconnectMaxMs: 50, refusedRetryMs: 1000, liveFirst: false });
  const sink = createHttpSink(config, { log, gateway: 'gw-1', bearerToken: 'new', logger: { ...quiet, error: (_o: object, m?: string) => errors.push(m ?? '') } });
  t.after(() => sink.stop());
  sink.start();
  await waitFor(() => errors.length > 0, { ...WAIT, what: 'the refusal to be logged' });
  assert.match(errors[0]!, /refused the batch with HTTP 401/);
  assert.equal(log.cursor('city'), 0);
  token = 'new';
  await waitFor(() => log.cursor('city') === 30, { ...WAIT, what: 'delivery once the token is accepted' });
  assert.equal(accepted.size, 30);
});
