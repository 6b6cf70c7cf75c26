/**
 * An OPC UA device's credentials as the rest of the gateway sees them (DriverDefinition
 * credentialBinding and secretFiles): which `auth` fields hold them, which of them the server
 * receives, and where they go (the endpoint, protected by the securityMode).
 */
import type { CredentialBinding, CredentialField } from '../definition.ts';
import type { OpcuaDeviceConfig } from './schema.ts';
import { securityRank } from './security-rank.ts';

/**
 * The `auth` fields. A user's password (typed or in a file) is sent to the server at session
 * activation; the private key only signs, and the certificate is public.
 */
const AUTH_FIELDS = [
  { key: 'password', file: false, sent: true, secret: true, what: 'password' },
  { key: 'passwordFile', file: true, sent: true, secret: true, what: 'password' },
  { key: 'privateKeyFile', file: true, sent: false, secret: true, what: 'private key' },
  { key: 'certificateFile', file: true, sent: false, secret: false, what: 'certificate' },
] as const;

export function opcuaCredentials(d: OpcuaDeviceConfig): CredentialBinding {
  return {
    endpoint: { segments: ['endpointUrl'], value: d.endpointUrl },
    protection: securityRank(d),
    where: `${d.endpointUrl} (securityMode ${d.securityMode})`,
    fields: AUTH_FIELDS.map(({ key, ...f }): CredentialField => ({ ...f, segments: ['auth', key], value: d.auth[key] })),
  };
}

/** The files `auth` names, for the secret-folder confinement (config/secret-files.ts); `d` may be unvalidated. */
export function opcuaSecretFiles(d: Record<string, unknown>): Array<{ segments: string[]; file: unknown }> {
  const auth = d['auth'];
  if (typeof auth !== 'object' || auth === null) return [];
  return AUTH_FIELDS.filter((f) => f.file).map((f) => ({ segments: ['auth', f.key], file: (auth as Record<string, unknown>)[f.key] }));
}
