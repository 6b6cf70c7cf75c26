/**
 * Attacks on the OTA path (issue 13, finding 7 and the chained-symlink check), performed
 * against a running agent: offers published on the broker by anyone who can reach it,
 * downloads from real HTTP servers, bundles repacked with a gzip bomb, manifests with chained
 * links. Each test fails if the hole reopens: a request reaches the file server, a partial
 * file is left behind, or something unlisted lands on the disk.
 */
import { createHash } from 'node:crypto';
import { constants as zlibConstants } from 'node:zlib';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync, mkdirSync, writeFileSync, openSync, ftruncateSync, closeSync } from 'node:fs';
import { mkdir, writeFile, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import * as tar from 'tar';
import { startEmbeddedBroker } from '@kedge/cloud-sync/broker/embedded.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { otaTopic, type OtaAgent, type OtaAgentOptions } from './agent.ts';
import { extractPayload, payloadBytes, readBundleManifest } from './bundle.ts';
import { MANIFEST_NAME, parseManifest, type Manifest } from './manifest.ts';
import { readState } from './slots.ts';
import { fakeBundle, newKey, seededSlots, served, signedOffer, tempDir, TEST_IDENTITY, testAgent, watchStatus } from './testing.ts';

const KEY = newKey('ota-1');
const ID = TEST_IDENTITY;
const SELF = { region: ID.region, municipality: ID.municipality, gateway: ID.gateway };
const GiB = 1024 ** 3;
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

function snapshot(slots: string) {
  return { state: readFileSync(join(slots, 'state.json'), 'utf8'), link: readlinkSync(join(slots, 'current')), entries: readdirSync(slots).sort() };
}

const incoming = (work: string) => (existsSync(join(work, 'incoming')) ? readdirSync(join(work, 'incoming')).sort() : []);

function agentFor(t: test.TestContext, work: string, slots: string, o: Partial<OtaAgentOptions> = {}): OtaAgent {
  return testAgent(t, work, slots, KEY, {
    downloadAttempts: 1,
    retryDelayMs: 10,
    // The test's file servers listen on 127.0.0.1; the refusal of local URLs has its own test (offer-urls.test.ts).
    allowLocalOfferUrls: true,
    ...o,
  });
}

/**
 * How the test bundles are gzipped: run-length only. On the bombs' zeros it packs as small as
 * the default (~1/1000) for a quarter of the CPU, which went into compressing 300 MiB; any gzip
 * reader, the agent's included, reads it as any other stream. Each archive gets its own copy: tar
 * writes into the options it is given.
 */
const GZIP = { strategy: zlibConstants.Z_RLE };

/** Rewrites a bundle: manifest.json untouched and first, the payload changed by `change`, `extra` entries added. */
async function repack(work: string, bundle: string, name: string, extra: { before?: string[]; after?: string[] } = {}, change?: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(work, `repack-${name}`);
  await mkdir(dir, { recursive: true });
  await tar.x({ file: bundle, cwd: dir });
  await change?.(dir);
  const out = join(work, `${name}.tar.gz`);
  await tar.c({ gzip: { ...GZIP }, file: out, cwd: dir, portable: true }, [MANIFEST_NAME, ...(extra.before ?? []), 'payload', ...(extra.after ?? [])]);
  return out;
}

/** A file of `size` zero bytes that takes no disk blocks (sparse): gzip turns it into a bomb of ~1/1000 its size. */
function sparseZeros(path: string, size: number): void {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, size);
  closeSync(fd);
}

/** Total bytes of regular files under `dir`. */
function bytesUnder(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const p = join(e.parentPath, e.name);
    if (lstatSync(p).isFile()) n += statSync(p).size;
  }
  return n;
}

test('three unsigned 10 GiB offers on the broker are refused before any download: no request, no partial file', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const before = snapshot(slots);
  const b = await startEmbeddedBroker({ port: 0 });
  t.after(() => b.close());
  const { path } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  const server = await served(t, path);
  const agent = agentFor(t, work, slots, { mqtt: { url: b.url, clientId: 'kem-01-ota' } });
  const reported = await watchStatus(t, b.url);
  agent.start();
  await waitFor(() => reported.length > 0, { what: 'the agent online' });

  const attacker = await mqtt.connectAsync(b.url, { reconnectPeriod: 0 });
  t.after(() => attacker.endAsync());
  for (let i = 0; i < 3; i++) {
    const offer = { version: `1.${i + 1}.0`, url: server.url, sha256: String(i).repeat(64), size: 10 * GiB };
    await attacker.publishAsync(otaTopic(ID, 'ota'), JSON.stringify(offer), { qos: 1, retain: true });
    await waitFor(() => reported.filter((r) => r.state === 'failed').length > i, { what: `offer ${i + 1} refused` });
  }
  const failures = reported.filter((r) => r.state === 'failed');
  assert.equal(failures.length, 3);
  for (const f of failures) assert.match(f.lastError!, /unsigned OTA offer without manifestUrl refused/);
  assert.deepEqual(server.ranges(), [], 'the file server was never asked for a byte');
  assert.deepEqual(incoming(work), [], 'no partial download');
  assert.deepEqual(snapshot(slots), before);
});

test('a signed 10 GiB offer is refused by ota.maxBundleBytes, and an unsigned one by the size its signed manifest allows, before the bundle is requested', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const { path, manifest } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  const server = await served(t, path);
  const agent = agentFor(t, work, slots, { maxBundleBytes: 64 * 1024 * 1024 });

  await agent.offer(signedOffer(KEY, path, server.url, '1.1.0', { size: 10 * GiB }));
  await agent.settled();
  assert.match(agent.otaStatus().lastError!, /OTA offer of 10737418240 bytes refused: more than ota\.maxBundleBytes \(67108864\)/);

  const manifestFile = join(work, 'manifest.json');
  writeFileSync(manifestFile, JSON.stringify(manifest));
  const manifestServer = await served(t, manifestFile, 'manifest.json');
  await agent.offer({ version: '1.1.0', url: server.url, sha256: sha(path), size: 60 * 1024 * 1024, manifestUrl: manifestServer.url });
  await agent.settled();
  assert.match(agent.otaStatus().lastError!, /OTA offer of 62914560 bytes refused: a bundle of what the signed manifest lists is at most \d+ bytes/);
  assert.equal(manifestServer.ranges().length, 1, 'only the manifest was fetched');
  assert.deepEqual(server.ranges(), [], 'the bundle was never requested');
  assert.deepEqual(incoming(work), []);
});

test('offers signed with an untrusted key, altered after signing, or signed for another gateway are refused without a request', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const { path } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  const server = await served(t, path);
  const agent = agentFor(t, work, slots);
  const intruder = newKey('ota-1'); // the trusted id, another key
  const cases: Array<[string, unknown, RegExp]> = [
    ['untrusted key', signedOffer(newKey('evil'), path, server.url, '1.1.0'), /signed with key "evil", which is not trusted \(trusted: ota-1\)/],
    ['trusted id, other key', signedOffer(intruder, path, server.url, '1.1.0'), /OTA offer signature does not verify with trusted key "ota-1"/],
    ['url changed after signing', { ...signedOffer(KEY, path, server.url, '1.1.0'), url: 'http://127.0.0.1:1/evil.tar.gz' }, /does not verify/],
    ['for another gateway', signedOffer(KEY, path, server.url, '1.1.0', { target: { ...SELF, gateway: 'kem-02' } }), /signed for gateway kuzbass\/kemerovo\/kem-02, this is kuzbass\/kemerovo\/kem-01/],
  ];
  for (const [what, offer, message] of cases) {
    await assert.rejects(agent.offer(offer), message, what);
    assert.equal(agent.otaStatus().state, 'failed', what);
  }
  assert.deepEqual(server.ranges(), []);
  assert.deepEqual(incoming(work), []);
});

test('an offer that would leave less than the reserve free for the reading log is refused before the download', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const { path } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  const server = await served(t, path);
  await mkdir(join(work, 'incoming'), { recursive: true });
  const fs = await statfs(join(work, 'incoming'));
  // A 400 MiB offer and a reserve that leaves room for half of it: the real disk's free space
  // decides (a margin of 200 MiB, far more than the disk of a busy test machine moves meanwhile).
  const OFFERED = 400 * 1024 * 1024;
  const reserve = fs.bavail * fs.bsize - OFFERED / 2;
  const agent = agentFor(t, work, slots, { reserveBytes: reserve });
  await agent.offer(signedOffer(KEY, path, server.url, '1.1.0', { size: OFFERED }));
  await agent.settled();
  assert.match(agent.otaStatus().lastError!, /not enough disk space for the 419430400-byte download: it needs [\d.]+ MiB, [\d.]+ MiB are free and [\d.]+ MiB stay reserved for the reading log/);
  assert.deepEqual(server.ranges(), []);
  assert.deepEqual(incoming(work), []);
});

test('at most one partial download exists: a new offer removes the partial file of the last one', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const first = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  const second = await fakeBundle(work, KEY, '1.2.0', 'healthy');
  const agent = agentFor(t, work, slots);
  for (const [b, v] of [[first.path, '1.1.0'], [second.path, '1.2.0']] as const) {
    const server = await served(t, b, 'b.tar.gz', { cutAfter: Math.floor(statSync(b).size / 2) });
    await agent.offer(signedOffer(KEY, b, server.url, v));
    await agent.settled();
    assert.match(agent.otaStatus().lastError!, /download truncated/);
    assert.deepEqual(incoming(work), [`${sha(b)}.tar.gz.part`], `only the partial file of ${v}`);
  }
});

test('a signed bundle repacked with an unlisted 300 MiB gzip bomb is refused at the bomb\'s header: nothing of it reaches the disk', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const before = snapshot(slots);
  const { path, manifest } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  const BOMB = 300 * 1024 * 1024;
  const bombed = await repack(work, path, 'bombed', {}, async (d) => sparseZeros(join(d, 'payload', 'zz-bomb.bin'), BOMB));
  assert.ok(statSync(bombed).size < 2 * 1024 * 1024, 'the bomb is small on the wire');

  // The real extraction into a staging folder: the listed files, and not a byte of the bomb.
  const staging = join(work, 'staging');
  await assert.rejects(extractPayload(bombed, staging, await readBundleManifest(bombed)), /refused while extracting: file zz-bomb\.bin \(314572800 bytes\) is not listed in the manifest/);
  assert.equal(existsSync(join(staging, 'zz-bomb.bin')), false);
  assert.ok(bytesUnder(staging) <= payloadBytes(manifest), `staging holds ${bytesUnder(staging)} bytes, the manifest lists ${payloadBytes(manifest)}`);

  // The same bundle offered (signed offer of the repacked bytes) to the running agent.
  const server = await served(t, bombed);
  const agent = agentFor(t, work, slots);
  await agent.offer(signedOffer(KEY, bombed, server.url, '1.1.0'));
  await agent.settled();
  assert.match(agent.otaStatus().lastError!, /file zz-bomb\.bin \(314572800 bytes\) is not listed in the manifest/);
  assert.deepEqual(snapshot(slots), before);
  assert.equal(existsSync(join(slots, '.staging')), false);
  assert.deepEqual(incoming(work), []);
});

test('a listed path whose archive entry is larger than listed, or an unlisted entry before the payload, is refused before it is written', async (t) => {
  const work = tempDir(t);
  const { path, manifest } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  const grown = await repack(work, path, 'grown', {}, async (d) => writeFile(join(d, 'payload', 'version.txt'), Buffer.alloc(4 * 1024 * 1024, '9')));
  const staging = join(work, 'staging');
  await assert.rejects(extractPayload(grown, staging, manifest), /file version\.txt has 4194304 bytes in the archive, the manifest says 6/);
  assert.equal(existsSync(join(staging, 'version.txt')), false);

  const early = await repack(work, path, 'early', { before: ['evil.js'] }, async (d) => writeFile(join(d, 'evil.js'), 'boom'));
  await assert.rejects(extractPayload(early, staging, manifest), /entry evil\.js is outside payload\//);
  assert.deepEqual(readdirSync(staging), [], 'nothing at all was written');
});

/** A signed release whose manifest lists the given links (kedge-ota build finding them on disk: scripts/src/ota/bundle-tools.test.ts). */
async function bundleWithLinks(work: string, name: string, links: Array<[string, string]>): Promise<{ path: string; manifest: Manifest }> {
  return fakeBundle(work, KEY, '1.1.0', 'healthy', { name, links });
}

test('chained links (a/b -> .., c -> a/b/..) are resolved through each other and refused; a link inside the release still installs', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const before = snapshot(slots);
  const chained = await bundleWithLinks(work, 'chained', [['a/b', '..'], ['c', 'a/b/..']]);
  const links = chained.manifest.links.map((l) => `${l.path} -> ${l.target}`).sort();
  assert.deepEqual(links, ['a/b -> ..', 'c -> a/b/..'], 'the signed manifest lists both links');
  const server = await served(t, chained.path);
  const agent = agentFor(t, work, slots);
  await agent.offer(signedOffer(KEY, chained.path, server.url, '1.1.0'));
  await agent.settled();
  assert.match(agent.otaStatus().lastError!, /link c -> a\/b\/\.\. points outside the release/);
  assert.deepEqual(snapshot(slots), before);

  // The same check on the manifest alone, for more shapes of escape.
  const m = (l: Array<[string, string]>, files: string[] = ['x']) =>
    JSON.stringify({ ...chained.manifest, files: files.map((p) => ({ path: p, sha256: '0'.repeat(64), size: 0, mode: 0o644 })), links: l.map(([path, target]) => ({ path, target })) });
  assert.throws(() => parseManifest(m([['a/b', '..'], ['c', 'a/b/../x']])), /link c -> a\/b\/\.\.\/x points outside the release/);
  assert.throws(() => parseManifest(m([['d/e', '../..']])), /link d\/e -> \.\.\/\.\. points outside the release/);
  assert.throws(() => parseManifest(m([['p', 'q'], ['q', 'p']])), /more than 40 links in a chain/);
  assert.throws(() => parseManifest(m([['up', '/etc']])), /points outside the release/);
  assert.throws(() => parseManifest(m([['lib', 'sub']], ['lib/evil.js'])), /lib\/evil\.js lies below the link lib: it would be written through the link/);
  assert.doesNotThrow(() => parseManifest(m([['a/b', '..'], ['n', 'a/b/x']])), 'a/b -> .. is the release root, so a/b/x is x: inside');

  // A release with an inner link (node_modules/@kedge/* -> ../../gateway in real bundles) installs.
  const inner = await bundleWithLinks(work, 'inner', [['node_modules/@kedge/lib', '../../lib']]);
  const s2 = await served(t, inner.path, 'inner.tar.gz');
  await agent.offer(signedOffer(KEY, inner.path, s2.url, '1.1.0'));
  await agent.settled();
  assert.equal(agent.otaStatus().lastError, null);
  assert.equal(readState(slots)!.pending?.version, '1.1.0');
  assert.equal(readlinkSync(join(slots, 'b', 'node_modules', '@kedge', 'lib')), '../../lib');
});

test('an unsigned offer with a manifestUrl installs once the manifest verifies, and is refused before the download when it does not', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const { path, manifest } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  const server = await served(t, path);
  const agent = agentFor(t, work, slots);

  const forged = join(work, 'forged.json');
  writeFileSync(forged, JSON.stringify({ ...manifest, minPreviousVersion: '0.0.1' }));
  const forgedServer = await served(t, forged, 'manifest.json');
  await agent.offer({ version: '1.1.0', url: server.url, sha256: sha(path), size: statSync(path).size, manifestUrl: forgedServer.url });
  await agent.settled();
  assert.match(agent.otaStatus().lastError!, /manifest signature does not verify with trusted key "ota-1"/);
  assert.deepEqual(server.ranges(), [], 'the bundle was never requested');

  const good = join(work, 'manifest.json');
  writeFileSync(good, JSON.stringify(manifest));
  const goodServer = await served(t, good, 'manifest.json');
  await agent.offer({ version: '1.1.0', url: server.url, sha256: sha(path), size: statSync(path).size, manifestUrl: goodServer.url });
  await agent.settled();
  assert.equal(agent.otaStatus().lastError, null);
  assert.equal(readState(slots)!.pending?.version, '1.1.0');
});

test('a manifest.json gzip bomb, or a bundle that does not start with its manifest, is refused before it is buffered', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const before = snapshot(slots);
  const { path } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  const bombDir = join(work, 'manifest-bomb');
  mkdirSync(bombDir, { recursive: true });
  sparseZeros(join(bombDir, MANIFEST_NAME), 64 * 1024 * 1024);
  const bomb = join(work, 'manifest-bomb.tar.gz');
  await tar.c({ gzip: { ...GZIP }, file: bomb, cwd: bombDir, portable: true }, [MANIFEST_NAME]);
  await assert.rejects(readBundleManifest(bomb), /manifest\.json has 67108864 bytes, more than the 16777216 allowed/);

  const late = await repack(work, path, 'late', { before: ['aaa.txt'] }, async (d) => writeFile(join(d, 'aaa.txt'), 'x'));
  const lateFirst = join(work, 'late-first.tar.gz');
  // aaa.txt before manifest.json: rebuild the archive with that order.
  const dir = join(work, 'repack-late');
  await tar.c({ gzip: { ...GZIP }, file: lateFirst, cwd: dir, portable: true }, ['aaa.txt', MANIFEST_NAME, 'payload']);
  assert.ok(existsSync(late));
  await assert.rejects(readBundleManifest(lateFirst), /its first entry is aaa\.txt, not manifest\.json/);

  // Offered to the running agent (a signed offer of the bomb's bytes): refused, slots untouched.
  const server = await served(t, bomb);
  const agent = agentFor(t, work, slots);
  await agent.offer(signedOffer(KEY, bomb, server.url, '1.1.0'));
  await agent.settled();
  assert.match(agent.otaStatus().lastError!, /more than the 16777216 allowed/);
  assert.deepEqual(snapshot(slots), before);
  assert.deepEqual(incoming(work), []);
});
