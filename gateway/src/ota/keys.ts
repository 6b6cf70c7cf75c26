/**
 * An Ed25519 signing key in the three forms OTA uses: the PEM private key that signs
 * manifests and offers (kedge-ota keygen writes it), the PEM public key, and the raw
 * base64 form a gateway config trusts. Beside verify.ts, whose fingerprint names the key.
 */
import { generateKeyPairSync } from 'node:crypto';
import { keyFingerprint, rawPublicKey } from './verify.ts';

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
