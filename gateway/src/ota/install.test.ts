import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'node:test';
import assert from 'node:assert/strict';
import * as tar from 'tar';
import { serveFile } from '@kedge/testkit/file-server.ts';
import { installOffer, type Offer } from './install.ts';
import { readState } from './slots.ts';
import { fakeBundle, newKey, seededSlots, signedOffer, tempDir, trusted } from './testing.ts';
import type { TrustedKey } from './verify.ts';


async function offerFor(t: test.TestContext, bundle: string, version: string, serve: { cutAfter?: number } = {}) {
  const server = await serveFile(bundle, 'b.tar.gz', serve);
  t.after(() => server.close());
  const offer: Offer = signedOffer(KEY, bundle, server.url, version);
  return { offer, server };
}

/** Everything a refusal must leave as it was. */
function snapshot(slots: string) {
  return { state: readFileSync(join(slots, 'state.json'), 'utf8'), link: readlinkSync(join(slots, 'current')), entries: readdirSync(slots).sort() };
}

async function install(t: test.TestContext, work: string, slots: string, offer: Offer, keys: TrustedKey[], attempts = 2) {
  return installOffer({ offer, slotsDir: slots, incomingDir: join(work, 'incoming'), trustedKeys: keys, downloadAttempts: attempts, retryDelayMs: 10 });
}

/** Rewrites a bundle with `change` applied to its extracted tree (manifest kept as is). */
async function tamper(work: string, bundle: string, change: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(work, 'tamper');
  await mkdir(dir, { recursive: true });
  await tar.x({ file: bundle, cwd: dir });
  await change(dir);
  const out = join(work, 'tampered.tar.gz');
  await tar.c({ gzip: true, file: out, cwd: dir, portable: true }, ['manifest.json', 'payload']);
  return out;
}

test('a good bundle is installed into the other slot and becomes current on trial', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const { path } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  const { offer } = await offerFor(t, path, '1.1.0');
  await install(t, work, slots, offer, trusted(KEY));
  assert.equal(readlinkSync(join(slots, 'current')), 'b');
  const st = readState(slots)!;
  assert.equal(st.current, 'a');
  assert.deepEqual({ slot: st.pending?.slot, version: st.pending?.version, attempts: st.pending?.attempts }, { slot: 'b', version: '1.1.0', attempts: 0 });
  assert.equal(readFileSync(join(slots, 'b', 'version.txt'), 'utf8'), '1.1.0\n');
  assert.equal(readFileSync(join(slots, 'a', 'version.txt'), 'utf8'), '1.0.0\n');
  assert.deepEqual(readdirSync(join(work, 'incoming')), [], 'the bundle is removed once installed');
});

const refusals: Array<{ name: string; expect: RegExp; make: (work: string) => Promise<{ bundle: string; version: string; keys?: TrustedKey[] }> }> = [
  {
    name: 'a tampered file',
    expect: /file lib\/data\.bin does not match its sha256 in the manifest: tampered or damaged/,
    make: async (work) => {
      const { path } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
      const bundle = await tamper(work, path, (d) => writeFile(join(d, 'payload/lib/data.bin'), Buffer.alloc(256 * 1024, 'X')));
      return { bundle, version: '1.1.0' };
    },
  },
  {
    name: 'an extra file the manifest does not list',
    expect: /refused while extracting: file evil\.js \(4 bytes\) is not listed in the manifest/,
    make: async (work) => {
      const { path } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
      return { bundle: await tamper(work, path, (d) => writeFile(join(d, 'payload/evil.js'), 'boom')), version: '1.1.0' };
    },
  },
  {
    name: 'a tampered manifest',
    expect: /manifest signature does not verify with trusted key "test-key"/,
    make: async (work) => {
      const { path } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
      const bundle = await tamper(work, path, async (d) => {
        const m = JSON.parse(await readFile(join(d, 'manifest.json'), 'utf8')) as { minPreviousVersion: string };
        m.minPreviousVersion = '0.0.1';
        await writeFile(join(d, 'manifest.json'), JSON.stringify(m));
      });
      return { bundle, version: '1.1.0' };
    },
  },
  {
    name: 'a bundle signed with an untrusted key',
    expect: /bundle is signed with key "intruder", which is not trusted \(trusted: test-key\)/,
    make: async (work) => ({ bundle: (await fakeBundle(work, newKey('intruder'), '1.1.0', 'healthy')).path, version: '1.1.0' }),
  },
  {
    name: 'the right key id with another key',
    expect: /manifest signature does not verify with trusted key "test-key"/,
    make: async (work) => ({ bundle: (await fakeBundle(work, newKey('test-key'), '1.1.0', 'healthy')).path, version: '1.1.0' }),
  },
  {
    name: 'a version downgrade',
    expect: /version downgrade refused: bundle is 0\.9\.0, the gateway runs 1\.0\.0/,
    make: async (work) => ({ bundle: (await fakeBundle(work, KEY, '0.9.0', 'healthy')).path, version: '0.9.0' }),
  },
  {
    name: 'a release that needs a newer previous version',
    expect: /bundle 2\.0\.0 requires at least version 1\.5\.0 to update from, the gateway runs 1\.0\.0/,
    make: async (work) => ({ bundle: (await fakeBundle(work, KEY, '2.0.0', 'healthy', { minPreviousVersion: '1.5.0' })).path, version: '2.0.0' }),
  },
];
const KEY = newKey();

for (const r of refusals) {
  test(`${r.name} is refused with a clear message and nothing in the slots changes`, async (t) => {
    const work = tempDir(t);
    const slots = seededSlots(work, '1.0.0');
    const before = snapshot(slots);
    const { bundle, version, keys } = await r.make(work);
    const { offer } = await offerFor(t, bundle, version);
    await assert.rejects(install(t, work, slots, offer, keys ?? trusted(KEY)), r.expect);
    assert.deepEqual(snapshot(slots), before);
  });
}

test('a truncated download resumes with a Range request and then installs', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const { path } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  const size = statSync(path).size;
  const { offer, server } = await offerFor(t, path, '1.1.0', { cutAfter: Math.floor(size / 3) });
  await install(t, work, slots, offer, trusted(KEY));
  const ranges = server.ranges();
  assert.deepEqual(ranges, ['none', `bytes=${Math.floor(size / 3)}-`]);
  assert.equal(readState(slots)!.pending?.version, '1.1.0');
});

test('a download cut off on every attempt is refused as truncated, keeps its .part file, and the next offer resumes it', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const before = snapshot(slots);
  const { path } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  const size = statSync(path).size;
  const cut = Math.floor(size / 2);
  const { offer } = await offerFor(t, path, '1.1.0', { cutAfter: cut });
  await assert.rejects(install(t, work, slots, offer, trusted(KEY), 1), new RegExp(`download truncated: connection ended after ${cut} of ${size} bytes .*the next attempt resumes from byte ${cut}`));
  assert.deepEqual(snapshot(slots), before);
  assert.equal(statSync(join(work, 'incoming', `${offer.sha256}.tar.gz.part`)).size, cut);
  await install(t, work, slots, offer, trusted(KEY), 1);
  assert.equal(readState(slots)!.pending?.version, '1.1.0');
});

test('a download whose bytes do not match the offered sha256 is refused and deleted', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work, '1.0.0');
  const { path } = await fakeBundle(work, KEY, '1.1.0', 'healthy');
  const { offer } = await offerFor(t, path, '1.1.0');
  const wrong = signedOffer(KEY, path, offer.url, '1.1.0', { sha256: 'f'.repeat(64) });
  await assert.rejects(install(t, work, slots, wrong, trusted(KEY)), /downloaded bundle has sha256 [0-9a-f]{64}, the offer says f{64}: corrupted or replaced in transit, deleted/);
  assert.equal(existsSync(join(work, 'incoming', `${wrong.sha256}.tar.gz.part`)), false);
});
