/**
 * Test fixtures for the OTA tests: fake releases (fixtures/fake-daemon.mjs + a behaviour),
 * keys, bundles, a seeded slots dir, and a file server with Range support.
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { serveFile, type FileServer } from '@kedge/testkit/file-server.ts';
import { fileTempDir, tempDir as testTempDir } from '@kedge/testkit/temp-dirs.ts';
import { OtaAgent, otaTopic, type OtaAgentOptions, type OtaIdentity, type OtaStatus } from './agent.ts';
import { createBundle } from './bundle.ts';
import { generateKey, type GeneratedKey } from './keys.ts';
import { MANIFEST_FORMAT, type Manifest, type ManifestFile } from './manifest.ts';
import { signOffer, type Offer, type UnsignedOffer } from './offer.ts';
import { seed } from './slots.ts';
import { parsePrivateKey, signManifest, type TrustedKey } from './verify.ts';

export const FAKE_DAEMON = fileURLToPath(new URL('./fixtures/fake-daemon.mjs', import.meta.url));
export const FAKE_ENTRY = ['daemon.mjs'];

export type Behaviour = 'healthy' | 'unhealthy' | 'crash' | 'hang';

/**
 * A temporary folder, removed after every other clean-up of the test `t` (the launcher or server
 * it started later is stopped first, so no write races the removal); without a test, when the
 * process exits. Not a hook at this module's top level: a module shared by several test files
 * of one process would remove only the first file's folders.
 */
export function tempDir(t: Pick<TestContext, 'after'> | null, name = 'kedge-ota-'): string {
  return t ? testTempDir(t, name) : fileTempDir(name);
}

/** What fakeRelease writes, as the manifest lists it. */
const RELEASE_FILES = ['daemon.mjs', 'behaviour.txt', 'version.txt', 'lib/data.bin'];

/** A release tree: the fake daemon, its behaviour and version, and a little payload. */
export function fakeRelease(dir: string, version: string, behaviour: Behaviour): string {
  mkdirSync(join(dir, 'lib'), { recursive: true });
  cpSync(FAKE_DAEMON, join(dir, 'daemon.mjs'));
  writeFileSync(join(dir, 'behaviour.txt'), `${behaviour}\n`);
  writeFileSync(join(dir, 'version.txt'), `${version}\n`);
  writeFileSync(join(dir, 'lib', 'data.bin'), noise(version, 256 * 1024));
  return dir;
}

/** By seed and size: a test file makes the same release many times, each a few thousand hashes. */
const noiseMade = new Map<string, Buffer>();

/** Incompressible but repeatable bytes, so a bundle is big enough to be cut mid-download. */
function noise(seed: string, size: number): Buffer {
  const key = `${size}:${seed}`;
  let out = noiseMade.get(key);
  if (!out) noiseMade.set(key, (out = makeNoise(seed, size)));
  return out;
}

function makeNoise(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let i = 0; i < size; i += block.length) {
    block.copy(out, i);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

export const trusted = (k: GeneratedKey): TrustedKey[] => [{ id: k.id, publicKey: k.publicKeyRaw }];

export function newKey(id = 'test-key'): GeneratedKey {
  return generateKey(id);
}

/**
 * A signed bundle of fakeRelease(version, behaviour) in `work`; `links` ([path, target]) are
 * listed in the manifest and packed as symbolic links, `name` tells apart bundles of one version.
 */
export async function fakeBundle(
  work: string,
  key: GeneratedKey,
  version: string,
  behaviour: Behaviour,
  extra: { minPreviousVersion?: string; links?: Array<[string, string]>; name?: string } = {},
): Promise<{ path: string; manifest: Manifest }> {
  const name = extra.name ?? `${version}-${behaviour}`;
  const root = fakeRelease(join(work, `release-${name}`), version, behaviour);
  const path = join(work, `bundle-${name}.tar.gz`);
  // Built here from the gateway's own bundle format rather than by kedge-ota build, so the
  // gateway's tests do not depend on the tooling (scripts/src/ota/bundle-tools.test.ts installs
  // what kedge-ota build makes).
  const files: ManifestFile[] = RELEASE_FILES.map((rel) => {
    const abs = join(root, rel);
    return { path: rel, sha256: createHash('sha256').update(readFileSync(abs)).digest('hex'), size: statSync(abs).size, mode: statSync(abs).mode & 0o777 };
  });
  const manifest = signManifest(
    {
      format: MANIFEST_FORMAT,
      version,
      minPreviousVersion: extra.minPreviousVersion ?? '0.0.0',
      createdAt: new Date().toISOString(),
      entry: FAKE_ENTRY,
      files,
      links: (extra.links ?? []).map(([p, target]) => ({ path: p, target })),
      keyId: key.id,
    },
    parsePrivateKey(key.privateKeyPem),
  );
  await createBundle(path, manifest, root);
  return { path, manifest };
}

/** A slots dir whose slot a runs `version` of the fake daemon. */
export function seededSlots(work: string, version = '1.0.0', behaviour: Behaviour = 'healthy'): string {
  const slots = join(work, 'slots');
  seed(slots, fakeRelease(join(work, `seed-${version}`), version, behaviour), { version, entry: FAKE_ENTRY });
  return slots;
}

/** An offer of `bundle` at `url`, signed with `key` as kedge-ota rollout signs it. */
export function signedOffer(key: GeneratedKey, bundle: string, url: string, version: string, extra: Partial<UnsignedOffer> = {}): Offer {
  const fields: UnsignedOffer = { version, url, sha256: createHash('sha256').update(readFileSync(bundle)).digest('hex'), size: statSync(bundle).size, ...extra };
  return signOffer(fields, key.id, parsePrivateKey(key.privateKeyPem));
}

/** `path` served as `name` on 127.0.0.1 with Range support (cut after `cutAfter` bytes if given), closed after the test. */
export async function served(t: TestContext, path: string, name = 'b.tar.gz', o: { cutAfter?: number } = {}): Promise<FileServer> {
  const s = await serveFile(path, name, o);
  t.after(() => s.close());
  return s;
}

/** The gateway the OTA tests' agents speak for. */
export const TEST_IDENTITY: OtaIdentity = { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'kem-01' };

/**
 * An agent of TEST_IDENTITY on `slots`, downloading into `work`/incoming, trusting `key`,
 * logging nothing and installing into nothing; `o` overrides any of that. Stopped after the test.
 */
export function testAgent(t: TestContext, work: string, slots: string, key: GeneratedKey, o: Partial<OtaAgentOptions> = {}): OtaAgent {
  const agent = new OtaAgent({
    identity: TEST_IDENTITY,
    slotsDir: slots,
    incomingDir: join(work, 'incoming'),
    trustedKeys: trusted(key),
    logger: { info() {}, warn() {} },
    onInstalled: () => {},
    ...o,
  });
  t.after(() => agent.stop());
  return agent;
}

/** Every status the agent of `identity` publishes on the broker at `url` from now on, in order (filled as they arrive). */
export async function watchStatus(t: TestContext, url: string, identity: OtaIdentity = TEST_IDENTITY): Promise<OtaStatus[]> {
  const reported: OtaStatus[] = [];
  // mqtt.js loads here: most OTA test files never watch a broker.
  const { default: mqtt } = await import('mqtt');
  const watcher = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
  t.after(() => watcher.endAsync());
  watcher.on('message', (_t, p) => reported.push(JSON.parse(p.toString()) as OtaStatus));
  await watcher.subscribeAsync(otaTopic(identity, 'ota/status'), { qos: 1 });
  return reported;
}
