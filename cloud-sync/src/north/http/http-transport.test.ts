/**
 * The HTTP(S) POST transport against real node:http / node:https servers on 127.0.0.1: a 2xx is
 * delivery and nothing else is; 5xx, timeouts, dead servers and garbage fail the send (the
 * driver sends again from the cursor); refusals are said clearly and held back, never dropped.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestPki } from '@kedge/testkit/certs.ts';
import { compactCodec, jsonCodec, type Batch } from '../../codec/index.ts';
import type { SendResult } from '../transport.ts';
import { HttpTransport, retryAfterMs, type HttpTransportOptions } from './http-transport.ts';
import { startTestServer } from './test-server.ts';

/** Long enough that a loaded 2-core machine never hits it on a healthy request. */
const GENEROUS_TIMEOUT_MS = 20_000;

const batch: Batch = {
  gateway: 'gw-1',
  epoch: 'e1',
  first: 1,
  last: 3,
  evicted: [],
  readings: [1, 2, 3].map((seq) => ({ seq, ts: 1_700_000_000_000 + seq, point: 'pump-1/flow', value: seq * 1.5, quality: 'good' as const })),
};

interface Logged {
  level: string;
  obj: object;
  msg: string;
}

function transport(t: test.TestContext, o: Partial<HttpTransportOptions> & { url: string }) {
  const logged: Logged[] = [];
  const logger = {
    info: (obj: object, msg = '') => logged.push({ level: 'info', obj, msg }),
    warn: (obj: object, msg = '') => logged.push({ level: 'warn', obj, msg }),
    error: (obj: object, msg = '') => logged.push({ level: 'error', obj, msg }),
  };
  let now = 1000;
  const tr = new HttpTransport({ codec: jsonCodec, timeoutMs: GENEROUS_TIMEOUT_MS, refusedRetryMs: 300_000, maxRetryAfterMs: 600_000, logger, clock: () => now, ...o });
  t.after(() => tr.close());
  const send = (b: Batch = batch) => new Promise<SendResult>((resolve) => tr.send(b, resolve));
  const ready = () => new Promise<void>((resolve) => tr.connect({ ready: resolve, down: () => {} }));
  return { tr, send, ready, logged, advanceClock: (ms: number) => (now += ms) };
}

test('a batch is POSTed in the chosen codec with its Content-Type, and a 2xx is delivery', async (t) => {
  const server = await startTestServer();
  t.after(() => server.kill());
  for (const codec of [jsonCodec, compactCodec]) {
    const { send } = transport(t, { url: server.url, codec });
    server.handle((_req, res) => res.writeHead(200).end('{"stored":true}'));
    assert.deepEqual(await send(), { ok: true });
    const req = server.seen.at(-1)!;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/ingest');
    assert.equal(req.headers['content-type'], codec.contentType);
    assert.equal(req.headers['idempotency-key'], 'gw-1:e1:1-3');
    assert.deepEqual(codec.decode(req.body), codec.decode(codec.encode(batch)), `${codec.name}: the body is the batch`);
    assert.equal(req.headers.authorization, undefined, 'no token configured: none sent');
  }
});

test('5xx, 408 and 429 fail the send (sent again later); Retry-After holds the next attempt back within its bound', async (t) => {
  const server = await startTestServer();
  t.after(() => server.kill());
  const { tr, send, logged } = transport(t, { url: server.url, maxRetryAfterMs: 60_000 });
  for (const status of [500, 502, 503, 408]) {
    server.handle((_req, res) => res.writeHead(status).end('busy'));
    const r = await send();
    assert.equal(r.ok, false);
    assert.match((r as { error: string }).error, new RegExp(`HTTP ${status}`));
  }
  assert.equal(tr.heldForMs(), 0, 'no Retry-After: the driver backoff alone decides');
  server.handle((_req, res) => res.writeHead(429, { 'retry-after': '7' }).end());
  assert.match(((await send()) as { error: string }).error, /HTTP 429.*retry after 7 s/);
  assert.equal(tr.heldForMs(), 7000);
  server.handle((_req, res) => res.writeHead(503, { 'retry-after': '86400' }).end());
  await send();
  assert.equal(tr.heldForMs(), 60_000, 'a Retry-After of a day is capped at maxRetryAfterMs');
  assert.equal(logged.filter((l) => l.level === 'error').length, 0, 'transient failures are not refusals');
  server.handle((_req, res) => res.writeHead(201).end());
  assert.deepEqual(await send(), { ok: true }, 'the same batch goes through once the server is well');
});

test('a refusal (4xx) is logged once, clearly, naming the status, and held back for refusedRetryMs; the data is not dropped', async (t) => {
  const server = await startTestServer();
  t.after(() => server.kill());
  const { tr, send, logged, advanceClock } = transport(t, { url: server.url, refusedRetryMs: 300_000 });
  server.handle((_req, res) => res.writeHead(400, 'Bad Request').end('no'));
  const r = await send();
  assert.deepEqual(r, { ok: false, error: 'refused: HTTP 400 Bad Request' });
  assert.equal(tr.heldForMs(), 300_000);
  await send();
  const errors = logged.filter((l) => l.level === 'error');
  assert.equal(errors.length, 1, 'the same refusal again is not logged again');
  assert.match(errors[0]!.msg, /refused the batch with HTTP 400 Bad Request; the readings stay in the log and are sent again every 300 s/);
  server.handle((_req, res) => res.writeHead(413, 'Payload Too Large').end());
  await send();
  const e413 = logged.filter((l) => l.level === 'error')[1]!;
  assert.match(e413.msg, /HTTP 413/);
  assert.match(String((e413.obj as { hint: string }).hint), /batchMaxReadings/);
  server.handle((_req, res) => res.writeHead(302, { location: 'https://elsewhere.example/ingest' }).end());
  await send();
  assert.match(String((logged.filter((l) => l.level === 'error')[2]!.obj as { hint: string }).hint), /redirects are not followed.*elsewhere/);
  advanceClock(300_000);
  assert.equal(tr.heldForMs(), 0);
  server.handle((_req, res) => res.writeHead(200).end());
  assert.deepEqual(await send(), { ok: true });
  assert.ok(logged.some((l) => l.level === 'info' && l.msg.includes('accepts batches again')));
});

test('a bearer token is sent when configured; a server that requires it refuses without it (401)', async (t) => {
  const server = await startTestServer();
  t.after(() => server.kill());
  server.handle((req, res) => res.writeHead(req.headers.authorization === 'Bearer s3cret-token' ? 204 : 401, req.headers.authorization ? 'Forbidden' : 'Unauthorized').end());
  const without = transport(t, { url: server.url });
  const r = await without.send();
  assert.deepEqual(r, { ok: false, error: 'refused: HTTP 401 Unauthorized' });
  assert.match(String((without.logged.find((l) => l.level === 'error')!.obj as { hint: string }).hint), /tokenFile/);
  const wrong = transport(t, { url: server.url, bearerToken: 'guess' });
  assert.equal((await wrong.send()).ok, false);
  const right = transport(t, { url: server.url, bearerToken: 's3cret-token' });
  assert.deepEqual(await right.send(), { ok: true });
});

test('HTTPS with a client certificate: delivered with the right certificate and CA, refused without or with a foreign one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-http-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pki = makeTestPki(dir);
  const f = (p: string) => readFileSync(p);
  const server = await startTestServer({
    tls: { key: f(pki.serverKey), cert: f(pki.serverCert), ca: f(pki.caCert), requestCert: true, rejectUnauthorized: true },
  });
  t.after(() => server.kill());
  const good = transport(t, { url: server.url, tls: { ca: f(pki.caCert), cert: f(pki.clientCert), key: f(pki.clientKey) } });
  assert.deepEqual(await good.send(), { ok: true });
  assert.equal(server.seen.at(-1)!.clientCn, 'gw-tls', 'the server saw the box certificate');
  const noCert = transport(t, { url: server.url, tls: { ca: f(pki.caCert) } });
  assert.equal((await noCert.send()).ok, false, 'no client certificate: the handshake fails');
  const intruder = transport(t, { url: server.url, tls: { ca: f(pki.caCert), cert: f(pki.otherClientCert), key: f(pki.otherClientKey) } });
  assert.equal((await intruder.send()).ok, false, 'a certificate of another CA is refused');
  const untrusted = transport(t, { url: server.url, tls: { ca: f(pki.otherCaCert), cert: f(pki.clientCert), key: f(pki.clientKey) } });
  const r = await untrusted.send();
  assert.equal(r.ok, false);
  assert.match((r as { error: string }).error, /certificate|self.signed|UNABLE/i, 'a server certificate of an unknown CA is not trusted');
  assert.equal(server.seen.length, 1, 'only the good client got a request through');
});

test('a server killed and restarted: sends fail while it is down and succeed after a reconnect', async (t) => {
  const server = await startTestServer();
  t.after(() => server.kill());
  const { tr, send, ready } = transport(t, { url: server.url });
  await ready();
  assert.deepEqual(await send(), { ok: true });
  await server.kill();
  const down = await send();
  assert.equal(down.ok, false);
  assert.match((down as { error: string }).error, /ECONNREFUSED|ECONNRESET|socket hang up/);
  tr.disconnect();
  await server.restart();
  await ready();
  assert.deepEqual(await send(), { ok: true });
});

test('a server slower than the timeout fails the send exactly once, even when it answers later', async (t) => {
  const server = await startTestServer();
  t.after(() => server.kill());
  let answerLate: () => void = () => {};
  const answered = new Promise<void>((resolve) => {
    server.handle((_req, res) => {
      answerLate = () => {
        res.on('close', resolve);
        res.writeHead(200).end();
      };
    });
  });
  const { tr } = transport(t, { url: server.url, timeoutMs: 300 });
  const results: SendResult[] = [];
  const first = new Promise<void>((resolve) =>
    tr.send(batch, (r) => {
      results.push(r);
      resolve();
    }),
  );
  await first;
  assert.deepEqual(results, [{ ok: false, error: 'no response within 300 ms' }]);
  answerLate();
  await answered;
  // A positive event after the late answer: a new request completes, so any late callback has run.
  server.handle((_req, res) => res.writeHead(200).end());
  await new Promise<void>((resolve) => tr.send(batch, () => resolve()));
  assert.equal(results.length, 1, 'the late answer does not count as a second result');
});

test('an oversized 2xx body is cut off and still counts as delivered; garbage and giant headers fail the send', async (t) => {
  const server = await startTestServer();
  t.after(() => server.kill());
  server.handle((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let n = 0;
    const more = () => {
      while (n++ < 1000) if (!res.write(chunk)) return res.once('drain', more);
      res.end();
    };
    more();
  });
  const { send } = transport(t, { url: server.url, maxResponseBytes: 1024 });
  assert.deepEqual(await send(), { ok: true });

  const raw = net.createServer((socket) => {
    socket.on('error', () => {}); // the client cuts the connection once it gives up parsing
    socket.once('data', () => {
      const mode = nextMode.shift() ?? 'garbage';
      if (mode === 'garbage') socket.end('this is not HTTP at all\r\n\r\n');
      else socket.end(`HTTP/1.1 200 OK\r\nX-Big: ${'x'.repeat(200_000)}\r\n\r\n`);
    });
  });
  const nextMode = ['garbage', 'headers'];
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', () => resolve()));
  t.after(() => new Promise<void>((resolve) => raw.close(() => resolve())));
  const port = (raw.address() as net.AddressInfo).port;
  const g = transport(t, { url: `http://127.0.0.1:${port}/ingest` });
  const garbage = await g.send();
  assert.equal(garbage.ok, false);
  assert.match((garbage as { error: string }).error, /HPE_|Parse Error/);
  const h = transport(t, { url: `http://127.0.0.1:${port}/ingest` });
  const headers = await h.send();
  assert.equal(headers.ok, false);
  assert.match((headers as { error: string }).error, /HPE_HEADER_OVERFLOW|Header overflow/i);
});

test('disconnect ends every outstanding send exactly once, as failed', async (t) => {
  const server = await startTestServer();
  t.after(() => server.kill());
  let arrived = 0;
  const bothArrived = new Promise<void>((resolve) =>
    server.handle(() => {
      if (++arrived === 2) resolve();
    }),
  );
  const { tr } = transport(t, { url: server.url });
  const results: SendResult[] = [];
  tr.send(batch, (r) => results.push(r));
  tr.send({ ...batch, first: 4, last: 4, readings: [{ ...batch.readings[0]!, seq: 4 }] }, (r) => results.push(r));
  await bothArrived;
  tr.disconnect();
  assert.deepEqual(results, [
    { ok: false, error: 'disconnected' },
    { ok: false, error: 'disconnected' },
  ]);
});

test('Retry-After is read as seconds or as an HTTP date', () => {
  assert.equal(retryAfterMs('120'), 120_000);
  assert.equal(retryAfterMs('Wed, 21 Oct 2015 07:28:30 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')), 30_000);
  assert.equal(retryAfterMs('soon'), undefined);
  assert.equal(retryAfterMs(undefined), undefined);
});

test('only http and https URLs are taken', () => {
  assert.throws(
    () => new HttpTransport({ url: 'ftp://x/y', codec: jsonCodec, timeoutMs: 1000, refusedRetryMs: 1, maxRetryAfterMs: 1, logger: { info() {}, warn() {}, error() {} } }),
    /not an http:\/\/ or https:\/\/ URL/,
  );
});
