/**
 * Where an unsigned offer can make the box connect (SECURITY.md, left open after issue 13):
 * its manifestUrl and url are anyone's choice on the broker. Loopback, link-local (cloud
 * metadata) and unspecified addresses are refused before any request unless
 * ota.allowLocalOfferUrls is set; a manifest redirect to another origin is not followed; a
 * manifest is read up to 16 MiB and no further. Performed against a running agent and real
 * HTTP servers on 127.0.0.1 that count what reaches them.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import test from 'node:test';
import assert from 'node:assert/strict';
import { serveFile } from '@kedge/testkit/file-server.ts';
import type { OtaAgent } from './agent.ts';
import { MAX_MANIFEST_BYTES } from './bundle.ts';
import { readState } from './slots.ts';
import { fakeBundle, newKey, seededSlots, signedOffer, tempDir, testAgent } from './testing.ts';
import { checkOfferUrl, guardedLookup, isLocalAddress } from './url-guard.ts';

const KEY = newKey('ota-1');
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

/** A server on 127.0.0.1 that records every request and answers with `handler`. */
async function recorder(t: test.TestContext, handler: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_q, r) => r.end('{}')) {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    handler(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as AddressInfo).port, seen };
}

function agentFor(t: test.TestContext, work: string, slots: string, allowLocalOfferUrls?: boolean): OtaAgent {
  return testAgent(t, work, slots, KEY, { downloadAttempts: 1, ...(allowLocalOfferUrls !== undefined ? { allowLocalOfferUrls } : {}) });
}

async function offered(agent: OtaAgent, offer: object): Promise<string | null> {
  await agent.offer(offer);
  await agent.settled();
  return agent.otaStatus().lastError;
}

test('an unsigned offer naming this box or a link-local address is refused before any request (every spelling of loopback)', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const { path } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  const box = await recorder(t);
  const agent = agentFor(t, work, slots);
  const base = { version: '1.1.0', sha256: sha(path), size: statSync(path).size };
  const cases: Array<[string, string, string]> = [
    [`http://127.0.0.1:${box.port}/api/config`, `http://127.0.0.1:${box.port}/b`, '127.0.0.1'],
    [`http://localhost:${box.port}/api/config`, `http://127.0.0.1:${box.port}/b`, '(127.0.0.1|::1)'],
    [`http://[::1]:${box.port}/api/config`, `http://127.0.0.1:${box.port}/b`, '::1'],
    [`http://[::ffff:127.0.0.1]:${box.port}/api/config`, `http://127.0.0.1:${box.port}/b`, '::ffff:7f00:1'],
    [`http://0x7f000001:${box.port}/api/config`, `http://127.0.0.1:${box.port}/b`, '127.0.0.1'],
    [`http://0.0.0.0:${box.port}/api/config`, `http://127.0.0.1:${box.port}/b`, '0.0.0.0'],
    ['http://169.254.169.254/latest/meta-data/iam/security-credentials/', `http://127.0.0.1:${box.port}/b`, '169.254.169.254'],
    // A harmless-looking manifest host, and the bundle URL aimed at the box: refused too, before the manifest is asked for.
    ['http://192.0.2.10/manifest.json', `http://127.0.0.1:${box.port}/api/system/restart`, '127.0.0.1'],
  ];
  for (const [manifestUrl, url, address] of cases) {
    const err = await offered(agent, { ...base, manifestUrl, url });
    assert.match(err ?? '', new RegExp(`points at ${address}, a loopback or link-local address: refused for an unsigned offer \\(set ota\\.allowLocalOfferUrls`), manifestUrl);
  }
  assert.deepEqual(box.seen, [], 'no request reached the box');
});

test('a signed offer (the maintainer chose the URL) and an unsigned one with ota.allowLocalOfferUrls may use a local server', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const { path, manifest } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  const server = await serveFile(path, 'b.tar.gz');
  const manifestFile = join(work, 'manifest.json');
  writeFileSync(manifestFile, JSON.stringify(manifest));
  const manifestServer = await serveFile(manifestFile, 'manifest.json');
  t.after(() => Promise.all([server.close(), manifestServer.close()]));

  const strict = agentFor(t, work, slots);
  assert.equal(await offered(strict, signedOffer(KEY, path, server.url, '1.1.0', { manifestUrl: manifestServer.url })), null);
  assert.equal(readState(slots)!.pending?.version, '1.1.0');

  const work2 = tempDir(t);
  const slots2 = seededSlots(work2, '1.0.0');
  const lenient = agentFor(t, work2, slots2, true);
  assert.equal(await offered(lenient, { version: '1.1.0', url: server.url, sha256: sha(path), size: statSync(path).size, manifestUrl: manifestServer.url }), null);
  assert.equal(readState(slots2)!.pending?.version, '1.1.0');
});

test('a manifest redirect to another origin is refused and not followed; one within the origin is followed', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const { path, manifest } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  const target = await recorder(t, (_q, r) => r.end(JSON.stringify(manifest)));
  const hop = await recorder(t, (req, res) => {
    if (req.url === '/elsewhere') res.writeHead(302, { location: `http://127.0.0.1:${target.port}/manifest.json` }).end();
    else if (req.url === '/moved') res.writeHead(301, { location: '/manifest.json' }).end();
    else res.end(JSON.stringify(manifest));
  });
  const bundle = await serveFile(path, 'b.tar.gz');
  t.after(() => bundle.close());
  // Loopback allowed here: the point is the redirect (the other origin differs by port).
  const agent = agentFor(t, work, slots, true);
  const base = { version: '1.1.0', url: bundle.url, sha256: sha(path), size: statSync(path).size };

  const err = await offered(agent, { ...base, manifestUrl: `http://127.0.0.1:${hop.port}/elsewhere` });
  assert.match(err ?? '', new RegExp(`manifest http://127\\.0\\.0\\.1:${hop.port}/elsewhere redirects to another origin \\(http://127\\.0\\.0\\.1:${target.port}\\): refused`));
  assert.deepEqual(target.seen, [], 'the other origin was never asked');
  assert.deepEqual(bundle.ranges(), [], 'nor the bundle');

  assert.equal(await offered(agent, { ...base, manifestUrl: `http://127.0.0.1:${hop.port}/moved` }), null);
  assert.deepEqual(hop.seen, ['/elsewhere', '/moved', '/manifest.json']);
  assert.equal(readState(slots)!.pending?.version, '1.1.0');
});

test('a manifest answer is read up to 16 MiB and no further, declared or not', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const { path } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  let streamed = 0;
  const huge = await recorder(t, (req, res) => {
    if (req.url === '/declared') {
      res.writeHead(200, { 'content-length': String(MAX_MANIFEST_BYTES + 1) }).end();
      return;
    }
    // Chunked, no length: a stream that would go on for ever.
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    const pump = () => {
      while (streamed <= 4 * MAX_MANIFEST_BYTES && res.write(chunk)) streamed += chunk.length;
      if (streamed <= 4 * MAX_MANIFEST_BYTES && !res.destroyed) res.once('drain', pump);
    };
    res.on('close', () => res.removeAllListeners('drain'));
    pump();
  });
  const agent = agentFor(t, work, slots, true);
  const base = { version: '1.1.0', url: `http://127.0.0.1:${huge.port}/b`, sha256: sha(path), size: statSync(path).size };
  assert.match((await offered(agent, { ...base, manifestUrl: `http://127.0.0.1:${huge.port}/declared` })) ?? '', new RegExp(`has ${MAX_MANIFEST_BYTES + 1} bytes, more than the ${MAX_MANIFEST_BYTES} allowed`));
  assert.match((await offered(agent, { ...base, manifestUrl: `http://127.0.0.1:${huge.port}/endless` })) ?? '', new RegExp(`is larger than the ${MAX_MANIFEST_BYTES} bytes allowed`));
  assert.ok(streamed < 4 * MAX_MANIFEST_BYTES, `the box hung up early (the server got ${streamed} bytes out)`);
  assert.deepEqual(huge.seen, ['/declared', '/endless'], 'the bundle was never asked for');
});

test('the address checks: every loopback, link-local and unspecified form, and a name that resolves to one at connect time', async () => {
  for (const a of ['127.0.0.1', '127.9.9.9', '0.0.0.0', '169.254.169.254', '::1', '::', 'fe80::1', 'febf::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:a9fe:a9fe', '[::1]']) {
    assert.equal(isLocalAddress(a), true, a);
  }
  for (const a of ['10.0.0.1', '192.168.1.10', '8.8.8.8', '2001:db8::1', '::ffff:808:808', 'fc00::1']) assert.equal(isLocalAddress(a), false, a);
  // A name whose answer changes between the check and the connection: the connection's own lookup refuses it.
  await assert.doesNotReject(checkOfferUrl('manifest', 'http://station.example/manifest.json', async () => [{ address: '192.0.2.10' }]));
  const lookup = guardedLookup('manifest', 'http://localhost/manifest.json');
  const err = await new Promise<Error | null>((resolve) => lookup('localhost', { all: true }, (e) => resolve(e)));
  assert.match(err?.message ?? '', /points at (127\.0\.0\.1|::1), a loopback or link-local address/);
});
