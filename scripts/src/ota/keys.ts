import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { keyFingerprint, rawPublicKey } from '@kedge/gateway/ota/verify.ts';

export interface GeneratedKey {
  id: string;
  privateKeyPem: string;
  publicKeyPem: string;
  /** base64 of the 32 raw bytes: the short form for the gateway config. */
  publicKeyRaw: string;
}

export function generateKey(id?: string): GeneratedKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    id: id ?? keyFingerprint(publicKey),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    publicKeyRaw: rawPublicKey(publicKey).toString('base64'),
  };
}

/** Writes <base>.key (0600) and <base>.pub; returns the config snippet to trust the key. */
export async function writeKey(base: string, k: GeneratedKey): Promise<string> {
  await writeFile(`${base}.key`, k.privateKeyPem, { mode: 0o600, flag: 'wx' });
  await writeFile(`${base}.pub`, k.publicKeyPem, { flag: 'wx' });
  return `ota:\n  trustedKeys:\n    - id: ${k.id}\n      publicKey: ${k.publicKeyRaw}\n`;
}
