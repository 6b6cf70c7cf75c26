/**
 * What an offer may cost before it is refused (security review of issue 13, finding 7): an
 * unsigned offer's manifest URL is anyone's choice, so a server that never finishes its answer
 * must not hold the agent's one install slot, nor may the partial file it leaves make the
 * genuine offer fail; and a replayed signed offer of an older version must be refused before
 * its bundle is downloaded, not after.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import test from 'node:test';
import assert from 'node:assert/strict';
import { serveFile } from '@kedge/testkit/file-server.ts';
import { readState } from './slots.ts';
import { fakeBundle, newKey, seededSlots, signedOffer, tempDir, testAgent } from './testing.ts';

const KEY = newKey('ota-1');
/** Short on purpose: the tarpit never completes, so the outcome does not depend on the machine's speed. */
const MANIFEST_DEADLINE_MS = 300;

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

/** A server that sends its headers and one byte, then nothing: every request stays open. */
async function tarpit(t: test.TestContext): Promise<{ url: string; requests: () => number }> {
  const open: http.ServerResponse[] = [];
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{');
    open.push(res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    for (const r of open) r.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => open.length };
}

test('an unsigned offer whose manifest server never finishes is refused at the manifest deadline, and the agent then takes the genuine offer', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const { path } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  const pit = await tarpit(t);
  const agent = testAgent(t, work, slots, KEY, {
    downloadAttempts: 1,
    manifestTimeoutMs: MANIFEST_DEADLINE_MS,
    allowLocalOfferUrls: true, // the tarpit listens on 127.0.0.1
  });

  const jam = await agent.offer({ version: '1.1.0', url: `${pit.url}/bundle.tar.gz`, sha256: sha(path), size: statSync(path).size, manifestUrl: `${pit.url}/manifest.json` });
  assert.equal(jam.started, true);
  await agent.settled();
  assert.match(agent.otaStatus().lastError!, new RegExp(`manifest ${pit.url}/manifest\\.json did not arrive within ${MANIFEST_DEADLINE_MS} ms: offer refused, nothing downloaded`));
  assert.equal(pit.requests(), 1, 'only the manifest was asked for, never the bundle');

  const server = await serveFile(path, 'b.tar.gz');
  t.after(() => server.close());
  assert.equal((await agent.offer(signedOffer(KEY, path, server.url, '1.1.0'))).started, true, 'the agent is free again');
  await agent.settled();
  assert.equal(agent.otaStatus().lastError, null);
  assert.equal(readState(slots)!.pending?.version, '1.1.0');
});

test("a partial download planted by an unsigned offer (another server's bytes under the genuine sha256) does not make the genuine offer fail", async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const { path, manifest } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  const size = statSync(path).size;
  const junk = join(work, 'junk.tar.gz');
  writeFileSync(junk, randomBytes(size));
  const junkServer = await serveFile(junk, 'b.tar.gz', { cutAfter: Math.floor(size / 2) });
  const manifestFile = join(work, 'manifest.json');
  writeFileSync(manifestFile, JSON.stringify(manifest));
  const manifestServer = await serveFile(manifestFile, 'manifest.json');
  const genuine = await serveFile(path, 'b.tar.gz');
  t.after(() => Promise.all([junkServer.close(), manifestServer.close(), genuine.close()]));
  const agent = testAgent(t, work, slots, KEY, { downloadAttempts: 1, allowLocalOfferUrls: true });

  // The attacker: a genuine manifest, its bundle's sha256, and a URL serving other bytes that stops halfway.
  await agent.offer({ version: '1.1.0', url: junkServer.url, sha256: sha(path), size, manifestUrl: manifestServer.url });
  await agent.settled();
  assert.match(agent.otaStatus().lastError!, /download truncated/);
  assert.equal(statSync(join(work, 'incoming', `${sha(path)}.tar.gz.part`)).size, Math.floor(size / 2), 'the planted partial file');

  await agent.offer(signedOffer(KEY, path, genuine.url, '1.1.0'));
  await agent.settled();
  assert.equal(agent.otaStatus().lastError, null);
  assert.equal(readState(slots)!.pending?.version, '1.1.0');
  assert.deepEqual(genuine.ranges(), [`bytes=${Math.floor(size / 2)}-`, 'none'], 'resumed, refused by the hash, then fetched whole once');
});

test('a replayed signed offer of an older version is refused before its bundle is requested', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const { path } = await fakeBundle(work, KEY, '0.9.0', 'healthy');
  const server = await serveFile(path, 'b.tar.gz');
  t.after(() => server.close());
  const agent = testAgent(t, work, slots, KEY, { downloadAttempts: 1 });

  await agent.offer(signedOffer(KEY, path, server.url, '0.9.0'));
  await agent.settled();
  assert.match(agent.otaStatus().lastError!, /version downgrade refused: bundle is 0\.9\.0, the gateway runs 1\.0\.0/);
  assert.deepEqual(server.ranges(), [], 'not a byte of the old bundle was downloaded');
});
