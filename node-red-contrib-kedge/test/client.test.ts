import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import test from 'node:test';
import { freePort } from '@kedge/testkit/ports.ts';
import { waitFor } from '@kedge/testkit/wait.ts';

const require = createRequire(import.meta.url);

interface LiveHandlers {
  onReading(r: unknown): void;
  onState(state: string, detail?: string): void;
}
const { KedgeClient, sseParser, backoffMs } = require('../nodes/lib/client.js') as {
  KedgeClient: new (o: { url: string; token?: string }) => { live(filter: object, h: LiveHandlers): { close(): void } };
  sseParser(onEvent: (e: { event: string; data: string }) => void): { push(chunk: string): void };
  backoffMs(attempt: number): number;
};

test('the SSE parser joins events split across chunks, handles CRLF, comments and multi-line data', () => {
  const events: Array<{ event: string; data: string }> = [];
  const p = sseParser((e) => events.push(e));
  p.push('retry: 2000\nevent: hello\ndata: {"gate');
  p.push('way":"g1"}\n\n: keepalive\n\nevent: reading\r\ndata: a\r\ndata: b\r\n\r\n');
  p.push('data: no event name\n');
  assert.deepEqual(events, [
    { event: 'hello', data: '{"gateway":"g1"}' },
    { event: 'reading', data: 'a\nb' },
  ]);
  p.push('\n');
  assert.deepEqual(events[2], { event: 'message', data: 'no event name' });
});

test('reconnect backoff doubles from 1 s and stays at 30 s', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 20].map(backoffMs), [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
});

test('a bad gateway URL is refused with the URL named', () => {
  assert.throws(() => new KedgeClient({ url: 'kedge.local:8080' }), /kedge gateway URL "kedge.local:8080" must start with http:\/\/ or https:\/\//);
  assert.throws(() => new KedgeClient({ url: 'not a url' }), /kedge gateway URL "not a url" is not a URL/);
});

test('the live stream reports disconnected while the gateway is down and connects once it is up, with the token', async () => {
  const port = await freePort();
  const states: string[] = [];
  const readings: unknown[] = [];
  const stream = new KedgeClient({ url: `http://127.0.0.1:${port}`, token: 'kedge_t' }).live(
    { points: ['d/p'] },
    { onReading: (r) => readings.push(r), onState: (s, detail) => states.push(detail ? `${s}: ${detail.split(':')[0]}` : s) },
  );
  const seen: Array<{ url?: string; auth?: string }> = [];
  try {
    await waitFor(() => states.includes('disconnected: cannot reach the kedge gateway at http'), { what: 'disconnected' });
    const server = createServer((req, res) => {
      seen.push({ url: req.url, auth: req.headers.authorization });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: reading\ndata: {"point":"d/p","value":1}\n\n');
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      await waitFor(() => readings.length === 1, { what: 'a reading after the gateway came up', timeoutMs: 8000 });
      assert.deepEqual(readings, [{ point: 'd/p', value: 1 }]);
      assert.deepEqual(seen, [{ url: '/api/live?points=d%2Fp', auth: 'Bearer kedge_t' }]);
      assert.equal(states.at(-1), 'connected');
    } finally {
      stream.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  } finally {
    stream.close();
  }
});

test('the README shows exactly the example flow of examples/river-level-alarm.json', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const block = /## Example: river level alarm[\s\S]*?```json\n([\s\S]*?)\n```/.exec(readme)?.[1];
  assert.ok(block, 'no json block in the example section');
  assert.deepEqual(JSON.parse(block), JSON.parse(readFileSync(new URL('../examples/river-level-alarm.json', import.meta.url), 'utf8')));
});
