import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractPayload, readBundleManifest } from '@kedge/gateway/ota/bundle.ts';
import { keyFingerprint, parsePublicKey, verifyFiles, verifyManifestSignature } from '@kedge/gateway/ota/verify.ts';

/** What a gateway checks, done on the maintainer's machine; returns a one-line summary. */
export async function verifyBundle(bundle: string, publicKeyText: string, keyId?: string): Promise<string> {
  const manifest = await readBundleManifest(bundle);
  const key = parsePublicKey(publicKeyText);
  verifyManifestSignature(manifest, [{ id: keyId ?? keyFingerprint(key), publicKey: publicKeyText }]);
  const dir = await mkdtemp(join(tmpdir(), 'kedge-verify-'));
  try {
    await extractPayload(bundle, dir, manifest);
    await verifyFiles(dir, manifest);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return `${bundle}: OK, version ${manifest.version} (min previous ${manifest.minPreviousVersion}), ${manifest.files.length} files, signed by ${manifest.keyId}${manifest.rebuild ? `, rebuilt on the box (${manifest.rebuild.command.join(' ')})` : ', node_modules included'}`;
}
