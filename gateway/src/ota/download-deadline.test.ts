/**
 * A bundle server that drips (SECURITY.md, left open after issue 13): an unsigned offer may
 * name any server, and one that sends a byte now and then never trips the per-chunk stall
 * guard. The download has an overall deadline from the offered size and
 * ota.minDownloadBytesPerSec, after which the install slot is free again, and a signed offer
 * takes the slot from an unsigned one at once. Performed against a running agent and real
 * HTTP servers on 127.0.0.1; the deadline's timer is injected and fired by the test, so no
 * test waits for it.
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
import { waitFor } from '@kedge/testkit/wait.ts';
import { DOWNLOAD_DEADLINE_FLOOR_MS, downloadDeadlineMs } from './install.ts';
import { readState } from './slots.ts';
import { fakeBundle, newKey, seededSlots, signedOffer, tempDir, testAgent } from './testing.ts';

const KEY = newKey('ota-1');
const RATE = 4096;
/** The drip's pace: far inside any stall guard, far below any real bundle's rate. */
const DRIP_EVERY_MS = 20;

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

/** Answers 200 with the full length, then one byte every DRIP_EVERY_MS, never finishing. */
async function dripServer(t: test.TestContext, size: number): Promise<{ url: string; sent: () => number; openRequests: () => number }> {
  let sent = 0;
  const open = new Set<http.ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': String(size) });
    open.add(res);
    const timer = setInterval(() => {
      res.write(Buffer.from([0x1f]));
      sent++;
    }, DRIP_EVERY_MS);
    timers.add(timer);
    req.socket.on('close', () => {
      clearInterval(timer);
      timers.delete(timer);
      open.delete(res);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    for (const timer of timers) clearInterval(timer);
    for (const r of open) r.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundle.tar.gz`, sent: () => sent, openRequests: () => open.size };
}

/** The deadline timer, injected: records each deadline asked for and expires when the test says. */
function injectedDeadlines() {
  const asked: number[] = [];
  const controllers: AbortController[] = [];
  return {
    asked,
    factory: (ms: number) => {
      asked.push(ms);
      const c = new AbortController();
      controllers.push(c);
      return c.signal;
    },
    expireLast: () => controllers.at(-1)!.abort(new Error('deadline')),
  };
}

async function setup(t: test.TestContext) {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const { path, manifest } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  const size = statSync(path).size;
  const manifestFile = join(work, 'manifest.json');
  writeFileSync(manifestFile, JSON.stringify(manifest));
  const manifestServer = await serveFile(manifestFile, 'manifest.json');
  const genuine = await serveFile(path, 'b.tar.gz');
  t.after(() => Promise.all([manifestServer.close(), genuine.close()]));
  const drip = await dripServer(t, size);
  const deadlines = injectedDeadlines();
  const agent = testAgent(t, work, slots, KEY, {
    downloadAttempts: 1,
    minDownloadBytesPerSec: RATE,
    downloadDeadline: deadlines.factory,
    allowLocalOfferUrls: true, // every server of this test is on 127.0.0.1
  });
  const unsigned = { version: '1.1.0', url: drip.url, sha256: sha(path), size, manifestUrl: manifestServer.url };
  return { slots, path, size, drip, deadlines, agent, unsigned, genuine };
}

test('the deadline is the offered size at ota.minDownloadBytesPerSec, never under the floor', () => {
  assert.equal(downloadDeadlineMs(100 * 1024 * 1024, 2048), 51_200_000);
  assert.equal(downloadDeadlineMs(1000, 2048), DOWNLOAD_DEADLINE_FLOOR_MS);
});

test('an unsigned offer whose bundle server drips a byte at a time holds the slot only until the download deadline; then the genuine offer installs', async (t) => {
  const { slots, path, size, drip, deadlines, agent, unsigned, genuine } = await setup(t);
  assert.equal((await agent.offer(unsigned)).started, true);
  await waitFor(() => drip.sent() >= 3, { what: 'the drip server sending its first bytes' });
  assert.equal(agent.otaStatus().state, 'downloading');
  assert.deepEqual(deadlines.asked, [downloadDeadlineMs(size, RATE)], 'one deadline for the whole download, from the offered size');
  // While it drips, the slot is taken: another unsigned offer is refused.
  await assert.rejects(agent.offer({ ...unsigned, url: `${genuine.url}` }), /already in progress \(downloading\)/);

  deadlines.expireLast();
  await agent.settled();
  assert.match(agent.otaStatus().lastError!, new RegExp(`download of ${size} bytes from ${drip.url.replace(/[.]/g, '\\.')} did not finish within ${downloadDeadlineMs(size, RATE)} ms \\(ota\\.minDownloadBytesPerSec ${RATE}\\)`));
  await waitFor(() => drip.openRequests() === 0, { what: 'the dripping connection closed by the box' });

  assert.equal((await agent.offer(signedOffer(KEY, path, genuine.url, '1.1.0'))).started, true, 'the slot is free again');
  await agent.settled();
  assert.equal(agent.otaStatus().lastError, null);
  assert.equal(readState(slots)!.pending?.version, '1.1.0');
});

test('a signed offer pre-empts an unsigned one in progress at once, without waiting for its deadline', async (t) => {
  const { slots, path, drip, deadlines, agent, unsigned, genuine } = await setup(t);
  await agent.offer(unsigned);
  await waitFor(() => drip.sent() >= 3, { what: 'the drip server sending its first bytes' });

  const taken = await agent.offer(signedOffer(KEY, path, genuine.url, '1.1.0'));
  assert.equal(taken.started, true);
  assert.match(taken.message, /pre-empted the unsigned offer of 1\.1\.0/);
  await agent.settled();
  assert.equal(agent.otaStatus().lastError, null, 'the signed install ran to the end');
  assert.equal(readState(slots)!.pending?.version, '1.1.0');
  assert.equal(drip.openRequests(), 0, 'the dripping download was dropped');
  assert.equal(deadlines.asked.length, 2, 'neither deadline had to expire');
});

test('an unsigned offer never pre-empts a signed one, nor a signed one another', async (t) => {
  const { path, drip, agent, unsigned, genuine } = await setup(t);
  // A signed offer whose server is slow (the maintainer's link, say): it keeps the slot.
  await agent.offer(signedOffer(KEY, path, drip.url, '1.1.0'));
  await waitFor(() => drip.sent() >= 3, { what: 'the signed download under way' });
  await assert.rejects(agent.offer({ ...unsigned, url: genuine.url }), /already in progress/);
  await assert.rejects(agent.offer(signedOffer(KEY, path, genuine.url, '1.1.0')), /already in progress/);
  assert.equal(agent.otaStatus().state, 'downloading');
  assert.ok(drip.openRequests() === 1, 'the signed download still runs');
});
