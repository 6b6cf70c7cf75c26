import { writeFile } from 'node:fs/promises';
import type { GeneratedKey } from '@kedge/gateway/ota/keys.ts';

export { generateKey, type GeneratedKey } from '@kedge/gateway/ota/keys.ts';

/** Writes <base>.key (0600) and <base>.pub; returns the config snippet to trust the key. */
export async function writeKey(base: string, k: GeneratedKey): Promise<string> {
  await writeFile(`${base}.key`, k.privateKeyPem, { mode: 0o600, flag: 'wx' });
  await writeFile(`${base}.pub`, k.publicKeyPem, { flag: 'wx' });
  return `ota:\n  trustedKeys:\n    - id: ${k.id}\n      publicKey: ${k.publicKeyRaw}\n`;
}
