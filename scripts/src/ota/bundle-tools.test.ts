/**
 * kedge-ota keygen, build and verify against the gateway's installer: a bundle the tooling
 * builds is one the box installs (the gateway's own tests build theirs without the tooling).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'node:test';
import assert from 'node:assert/strict';
import { maxBundleBytes } from '@kedge/gateway/ota/bundle.ts';
import { installOffer } from '@kedge/gateway/ota/install.ts';
import type { Manifest } from '@kedge/gateway/ota/manifest.ts';
import { readState } from '@kedge/gateway/ota/slots.ts';
import { FAKE_ENTRY, fakeRelease, newKey, seededSlots, served, signedOffer, tempDir, trusted } from '@kedge/gateway/ota/testing.ts';
import { buildBundle } from './build.ts';
import type { GeneratedKey } from './keys.ts';
import { verifyBundle } from './verify-bundle.ts';

const KEY = newKey();

/** `kedge-ota build` of the gateway tests' fake release, with `links` made on disk in it. */
async function built(work: string, key: GeneratedKey, version: string, links: Array<[string, string]> = []): Promise<{ path: string; manifest: Manifest }> {
  const root = fakeRelease(join(work, `release-${version}`), version, 'healthy');
  for (const [p, target] of links) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    symlinkSync(target, join(root, p));
  }
  const path = join(work, `bundle-${version}.tar.gz`);
  const dirs = [...new Set(links.map(([p]) => p.split('/')[0]!))];
  const manifest = await buildBundle({
    root,
    out: path,
    privateKeyPem: key.privateKeyPem,
    keyId: key.id,
    version,
    minPreviousVersion: '0.0.0',
    paths: ['daemon.mjs', 'behaviour.txt', 'version.txt', 'lib', ...dirs],
    entry: FAKE_ENTRY,
    nodeModules: false,
    rebuild: false,
  });
  return { path, manifest };
}

test('keygen, build and verify round-trip: the bundle verifies with the public key and lists every file', async (t) => {
  const work = tempDir(t);
  const key = newKey('kuzbass-2025');
  const { path, manifest } = await built(work, key, '1.1.0');
  assert.deepEqual(manifest.files.map((f) => f.path).sort(), ['behaviour.txt', 'daemon.mjs', 'lib/data.bin', 'version.txt']);
  assert.equal(
    await verifyBundle(path, key.publicKeyPem, 'kuzbass-2025'),
    `${path}: OK, version 1.1.0 (min previous 0.0.0), 4 files, signed by kuzbass-2025, node_modules included`,
  );
  await assert.rejects(verifyBundle(path, newKey('other').publicKeyPem, 'other'), /signed with key "kuzbass-2025", which is not trusted/);
  await assert.rejects(verifyBundle(path, newKey('kuzbass-2025').publicKeyPem, 'kuzbass-2025'), /signature/, 'another key under the same name');
});

test('a bundle kedge-ota build made, with a link inside the release, installs on the box with the link as built', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const { path, manifest } = await built(work, KEY, '1.1.0', [['node_modules/@kedge/lib', '../../lib']]);
  assert.deepEqual(manifest.links, [{ path: 'node_modules/@kedge/lib', target: '../../lib' }], 'build lists the link it found on disk');
  const server = await served(t, path);
  await installOffer({ offer: signedOffer(KEY, path, server.url, '1.1.0'), slotsDir: slots, incomingDir: join(work, 'incoming'), trustedKeys: trusted(KEY), downloadAttempts: 1, retryDelayMs: 10 });
  const st = readState(slots)!;
  assert.deepEqual({ slot: st.pending?.slot, version: st.pending?.version }, { slot: 'b', version: '1.1.0' });
  assert.equal(readFileSync(join(slots, 'b', 'version.txt'), 'utf8'), '1.1.0\n');
  assert.equal(readlinkSync(join(slots, 'b', 'node_modules', '@kedge', 'lib')), '../../lib');
});

test('a bundle of many small incompressible files with long paths fits the size bound its manifest implies (an honest offer is never refused as too large)', async (t) => {
  const work = tempDir(t);
  const root = join(work, 'tree');
  // The worst case for the bound: tar headers (PAX for paths over 100 characters) outweigh the
  // contents, and random bytes do not compress.
  const deep = 'node_modules/@scope/some-rather-long-package-name/dist/esm/internal/helpers';
  for (let i = 0; i < 400; i++) {
    const dir = join(root, deep, `group-${i % 7}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `file-with-a-long-name-${String(i).padStart(4, '0')}.js`), randomBytes(i % 900));
  }
  await writeFile(join(root, 'empty.txt'), '');
  const out = join(work, 'many.tar.gz');
  const manifest = await buildBundle({ root, out, privateKeyPem: KEY.privateKeyPem, keyId: KEY.id, version: '9.9.9', minPreviousVersion: '0.0.0', paths: ['node_modules', 'empty.txt'], entry: ['x'], nodeModules: false, rebuild: false });
  assert.equal(manifest.files.length, 401);
  assert.ok(statSync(out).size <= maxBundleBytes(manifest), `bundle ${statSync(out).size} bytes, bound ${maxBundleBytes(manifest)}`);
});
