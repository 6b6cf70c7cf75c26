import { OPCUA_SECURITY_MODES } from './schema.ts';

type OpcuaSecurityMode = (typeof OPCUA_SECURITY_MODES)[number];

/**
 * How strongly a device's OPC UA session protects what is sent over it: None < Sign <
 * SignAndEncrypt. A device without the setting (or another driver's device, which has none)
 * counts as None, the schema's default. An unknown mode ranks below None, so it is never taken
 * for a stronger one.
 */
export function securityRank(device: object): number {
  const mode = (device as { securityMode?: OpcuaSecurityMode }).securityMode ?? 'None';
  return OPCUA_SECURITY_MODES.indexOf(mode);
}

/**
 * Whether `next` protects a device's session less than `was` did: the stored credentials of a
 * device must not follow it onto a weaker securityMode. The rank is the `protection` of the
 * device's credential binding (credentials.ts), which config/config-store.ts (the web API) and
 * commands/protected-sections.ts (a center's `config` command) compare.
 */
export function weakerSecurity(was: object, next: object): boolean {
  return securityRank(next) < securityRank(was);
}
