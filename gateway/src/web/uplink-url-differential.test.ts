/**
 * Finding 5 of issue 13, second way in: "the stored password goes only to the stored broker" was
 * checked with the WHATWG URL parser while mqtt.js connects where Node's legacy url.parse points.
 * `mqtt://<evil>\@<stored broker>` is the stored broker to the first and <evil> to the second:
 * the uplink test and the saved uplink both sent the stored password to <evil>. Here a fake
 * broker plays <evil> and records every CONNECT it gets.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import test from 'node:test';
import { waitFor } from '@kedge/testkit/wait.ts';
import { webFixture, type Client, type Fixture } from './test-fixture.ts';

const STORED_PASSWORD = 'stored-broker-secret-41d9';

let f: Fixture;
let owner: Client;
let evil: Server;
let evilPort: number;
const received: string[] = [];

test.before(async () => {
  f = await webFixture();
  owner = await f.setup();
  const stored = await owner.request('PUT', '/api/uplink', { url: 'mqtt://127.0.0.1:1', username: 'box', password: STORED_PASSWORD });
  assert.equal(stored.statusCode, 200, stored.body);
  evil = createServer((socket) => {
    let bytes = '';
    socket.on('data', (d) => {
      bytes += d.toString('latin1');
      socket.destroy();
    });
    socket.on('close', () => received.push(bytes));
  });
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
  evilPort = (evil.address() as { port: number }).port;
});
test.after(async () => {
  await new Promise((resolve) => evil.close(resolve));
  await f.close();
});

/** Spellings that the WHATWG parser reads as the stored broker and url.parse as the fake one. */
const disguised = () => [`mqtt://127.0.0.1:${evilPort}\\@127.0.0.1:1`, `mqtt://box:x@127.0.0.1:${evilPort}\\@127.0.0.1:1`];

test('a broker URL that names the stored broker to one parser and another to the MQTT client gets no stored password', async () => {
  const configBefore = readFileSync(f.configPath, 'utf8');
  for (const url of disguised()) {
    const tried = await owner.request('POST', '/api/uplink/test', { url, username: 'box' });
    assert.equal(tried.statusCode, 400, `${url}: ${tried.body}`);
    const saved = await owner.request('PUT', '/api/uplink', { url, username: 'box' });
    assert.equal(saved.statusCode, 400, `${url}: ${saved.body}`);
    // The raw editor: the URL is refused by the config schema itself, naming the field.
    const raw = await owner.request('PUT', '/api/config', { text: configBefore.replace('mqtt://127.0.0.1:1', url) });
    assert.equal(raw.statusCode, 400, raw.body);
    assert.ok(raw.json<{ issues: Array<{ path: string }> }>().issues.some((i) => i.path === 'uplink.url'), raw.body);
  }
  assert.equal(readFileSync(f.configPath, 'utf8'), configBefore);
  assert.equal(f.gateway.currentConfig().uplink.url, 'mqtt://127.0.0.1:1');

  // The fake broker works: a test with a typed password reaches it. That connection is the event
  // proving the refused ones above never connected (they would have arrived first).
  const typed = await owner.request('POST', '/api/uplink/test', { url: `mqtt://127.0.0.1:${evilPort}`, username: 'box', password: 'typed-for-this-test' });
  assert.equal(typed.statusCode, 200, typed.body);
  await waitFor(() => received.length > 0, { what: 'the typed-password test to reach the fake broker' });
  assert.equal(received.length, 1, 'only the typed-password test connected');
  assert.ok(received[0]!.includes('typed-for-this-test'));
  assert.ok(!received.some((r) => r.includes(STORED_PASSWORD)), 'the stored password reached the fake broker');
});

test('the refusal of an ambiguous URL does not quote it: the marker in it was already replaced by the stored password', async () => {
  const URL_PASSWORD = 'url-inline-secret-2b6e';
  const text = readFileSync(f.configPath, 'utf8');
  const withUrlPassword = await owner.request('PUT', '/api/config', { text: text.replace('mqtt://127.0.0.1:1', `mqtt://box:${URL_PASSWORD}@127.0.0.1:1`) });
  assert.equal(withUrlPassword.statusCode, 200, withUrlPassword.body);
  const shown = (await owner.request('GET', '/api/config')).json<{ text: string }>().text;
  assert.ok(!shown.includes(URL_PASSWORD));
  const [, marked] = /url: (mqtt:\/\/box:[^@\s]+@127\.0\.0\.1:1)/.exec(shown) ?? [];
  assert.ok(marked, shown);
  // Host "127.0.0.1%2eevil" to one parser, "127.0.0.1" to the other: refused, and the answer must not carry the password.
  const res = await owner.request('PUT', '/api/config', { text: shown.replace(marked, marked.replace('127.0.0.1:1', `127.0.0.1%2eevil:${evilPort}`)) });
  assert.equal(res.statusCode, 400, res.body);
  assert.ok(!res.body.includes(URL_PASSWORD), res.body);
});
