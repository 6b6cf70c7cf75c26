/**
 * Authenticity and policy checks of a bundle, all done on the staging copy before any slot
 * is touched: Ed25519 signature by a trusted key, every file's hash and size, no file that
 * the manifest does not list, and the version policy.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { compareVersions, signedBytes, type Manifest, type UnsignedManifest } from './manifest.ts';

export interface TrustedKey {
  id: string;
  /** SPKI PEM, or base64 of the 32 raw public key bytes. */
  publicKey: string;
}

export class VerifyError extends Error {
  override name = 'VerifyError';
}

export function parsePublicKey(text: string): KeyObject {
  const t = text.trim();
  let key: KeyObject;
  if (t.startsWith('-----BEGIN')) {
    key = createPublicKey(t);
  } else {
    const raw = Buffer.from(t, 'base64');
    if (raw.length !== 32) throw new VerifyError(`public key is neither PEM nor base64 of 32 raw Ed25519 bytes (got ${raw.length} bytes)`);
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new VerifyError(`public key is ${key.asymmetricKeyType}, expected ed25519`);
  return key;
}

export function parsePrivateKey(text: string): KeyObject {
  const key = createPrivateKey(text.trim());
  if (key.asymmetricKeyType !== 'ed25519') throw new VerifyError(`private key is ${key.asymmetricKeyType}, expected ed25519`);
  return key;
}

export function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  return Buffer.from(jwk.x as string, 'base64url');
}

/** Short stable id of a public key: the default keyId of keygen and build. */
export function keyFingerprint(key: KeyObject): string {
  return createHash('sha256').update(rawPublicKey(key)).digest('hex').slice(0, 16);
}

export function signManifest(unsigned: UnsignedManifest, privateKey: KeyObject): Manifest {
  const signature = sign(null, signedBytes(unsigned), privateKey).toString('base64');
  return { ...unsigned, signature };
}

/** Throws unless the manifest is signed by one of the trusted keys. */
export function verifyManifestSignature(manifest: Manifest, trusted: readonly TrustedKey[]): void {
  if (trusted.length === 0) throw new VerifyError('no trusted OTA keys configured (ota.trustedKeys): refusing every bundle');
  const entry = trusted.find((k) => k.id === manifest.keyId);
  if (!entry) {
    throw new VerifyError(
      `bundle is signed with key "${manifest.keyId}", which is not trusted (trusted: ${trusted.map((k) => k.id).join(', ')})`,
    );
  }
  const ok = verify(null, signedBytes(manifest), parsePublicKey(entry.publicKey), Buffer.from(manifest.signature, 'base64'));
  if (!ok) throw new VerifyError(`manifest signature does not verify with trusted key "${entry.id}": the manifest was altered or signed by another key`);
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function listFiles(root: string, dir = root, out: string[] = []): Promise<string[]> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory() && !e.isSymbolicLink()) await listFiles(root, p, out);
    else out.push(relative(root, p).split(sep).join('/'));
  }
  return out;
}

/** Every listed file present with its hash and size, and nothing else in the tree. */
export async function verifyFiles(root: string, manifest: Manifest): Promise<void> {
  const listed = new Set([...manifest.files.map((f) => f.path), ...manifest.links.map((l) => l.path)]);
  const present = await listFiles(root);
  const extra = present.filter((p) => !listed.has(p));
  if (extra.length > 0) throw new VerifyError(`bundle holds files the manifest does not list: ${extra.slice(0, 5).join(', ')}`);
  for (const f of manifest.files) {
    const p = join(root, ...f.path.split('/'));
    const st = await lstat(p).catch(() => null);
    if (!st) throw new VerifyError(`file ${f.path} listed in the manifest is missing from the bundle`);
    if (!st.isFile()) throw new VerifyError(`${f.path} is not a regular file`);
    if (st.size !== f.size) throw new VerifyError(`file ${f.path} has ${st.size} bytes, the manifest says ${f.size}: tampered or damaged`);
    const h = await sha256File(p);
    if (h !== f.sha256) throw new VerifyError(`file ${f.path} does not match its sha256 in the manifest: tampered or damaged`);
  }
  for (const l of manifest.links) {
    const p = join(root, ...l.path.split('/'));
    const st = await lstat(p).catch(() => null);
    if (!st?.isSymbolicLink() || (await readlink(p)) !== l.target) {
      throw new VerifyError(`link ${l.path} is missing or does not point to ${l.target} as the manifest says`);
    }
  }
}

/** Refuses a downgrade, a reinstall, and a jump from a version older than minPreviousVersion. */
export function checkVersionPolicy(manifest: Manifest, currentVersion: string | null): void {
  if (currentVersion === null) return;
  const c = compareVersions(manifest.version, currentVersion);
  if (c < 0) {
    throw new VerifyError(
      `version downgrade refused: bundle is ${manifest.version}, the gateway runs ${currentVersion} (roll back with the slots, not with an older bundle)`,
    );
  }
  if (c === 0) throw new VerifyError(`version ${manifest.version} is already installed`);
  if (compareVersions(currentVersion, manifest.minPreviousVersion) < 0) {
    throw new VerifyError(
      `bundle ${manifest.version} requires at least version ${manifest.minPreviousVersion} to update from, the gateway runs ${currentVersion}: install an intermediate release first`,
    );
  }
}
