/**
 * Where a sink entry's credentials go (SinkDefinition.credentialBinding): the gateway's API
 * rules (a web change, a center's `config` command) keep stored credentials with the endpoint
 * they were stored for, for every sink alike, knowing no sink's fields. The shape is the
 * drivers' (gateway/src/drivers/definition.ts CredentialBinding), so both are checked by one rule.
 */

/** One field of an entry that holds a credential, or names the file holding it. */
export interface CredentialField {
  /** Where it is in the entry, e.g. ['passwordFile'], ['headers', 'X-Api-Key'], ['tls', 'key']. */
  segments: readonly string[];
  /** Its value in this entry; undefined when unset. */
  value: string | undefined;
  /** The field names a file (else it is the secret itself, which the API shows as the "unchanged" marker). */
  file: boolean;
  /** The receiver gets it (a password, a bearer token, a header value): it is only sent where it was stored for. */
  sent: boolean;
  /** Not public (a certificate is public): another use may not be given its file. */
  secret: boolean;
  /** What it is, in messages: "password", "bearer token", "TLS key". */
  what: string;
}

/** What SinkDefinition.credentialBinding tells about one entry. */
export interface CredentialBinding {
  /** The field saying where the credentials go, and the endpoint it names (normalised: scheme://host:port). */
  endpoint: { segments: readonly string[]; value: string };
  /** How well the link protects them, higher is stronger: a lower value than before counts as a move too. */
  protection: number;
  /** The field that sets the protection, for a refusal of a weaker one (['tls', 'rejectUnauthorized']). */
  protectionSegments?: readonly string[];
  /** Endpoint and protection as a refusal names them. */
  where: string;
  /** What the other end is, in messages: "broker", "receiver". */
  receiver?: string;
  fields: readonly CredentialField[];
}

/** Ports a URL names when it names none: the brokers' (mqtt.js) and the web's. */
const DEFAULT_PORTS: Record<string, string> = { 'mqtt:': '1883', 'mqtts:': '8883', 'ws:': '80', 'wss:': '443', 'http:': '80', 'https:': '443' };

/** scheme://host:port of a URL (default port filled in, host lower-cased), or the text when it is no URL. */
export function urlEndpoint(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname.toLowerCase()}:${u.port || DEFAULT_PORTS[u.protocol] || ''}`;
  } catch {
    return url;
  }
}

/** The password inside a URL (`mqtt://gw:<this>@host`), or undefined. */
function urlPassword(url: string): string | undefined {
  try {
    const p = new URL(url).password;
    return p ? decodeURIComponent(p) : undefined;
  } catch {
    return undefined;
  }
}

interface TlsEntry {
  tls?: { cert?: string | undefined; key?: string | undefined; rejectUnauthorized?: boolean | undefined } | undefined;
}

/** The client certificate and key of a `tls` block (schema-kit tlsSchema): they prove who the box is, never sent. */
export function tlsCredentialFields(entry: TlsEntry): CredentialField[] {
  return [
    { segments: ['tls', 'key'], value: entry.tls?.key, file: true, sent: false, secret: true, what: 'TLS key' },
    { segments: ['tls', 'cert'], value: entry.tls?.cert, file: true, sent: false, secret: false, what: 'TLS certificate' },
  ];
}

/** 1 with the server's certificate checked (or no TLS), 0 with the check off: whoever sits in between gets the credentials. */
function tlsProtection(entry: TlsEntry): number {
  return entry.tls?.rejectUnauthorized === false ? 0 : 1;
}

/** An MQTT-family entry (kedge mqtt, Sparkplug): the broker URL, its password (inline, in the URL or a file), the client key. */
export function brokerCredentials(entry: TlsEntry & { url: string; password?: string | undefined; passwordFile?: string | undefined }): CredentialBinding {
  const endpoint = urlEndpoint(entry.url);
  const protection = tlsProtection(entry);
  return {
    endpoint: { segments: ['url'], value: endpoint },
    protection,
    protectionSegments: ['tls', 'rejectUnauthorized'],
    where: protection === 0 ? `${endpoint} (certificate check off)` : endpoint,
    receiver: 'broker',
    fields: [
      { segments: ['password'], value: entry.password, file: false, sent: true, secret: true, what: 'password' },
      { segments: ['url'], value: urlPassword(entry.url), file: false, sent: true, secret: true, what: 'password' },
      { segments: ['passwordFile'], value: entry.passwordFile, file: true, sent: true, secret: true, what: 'password' },
      ...tlsCredentialFields(entry),
    ],
  };
}

/** An HTTP(S) entry: the receiver's origin, the bearer token file, every extra header (a receiver's API key as often as not). */
export function httpCredentials(entry: TlsEntry & { url: string; tokenFile?: string | undefined; headers?: Record<string, string> | undefined }): CredentialBinding {
  const endpoint = urlEndpoint(entry.url);
  const protection = tlsProtection(entry);
  return {
    endpoint: { segments: ['url'], value: endpoint },
    protection,
    protectionSegments: ['tls', 'rejectUnauthorized'],
    where: protection === 0 ? `${endpoint} (certificate check off)` : endpoint,
    receiver: 'receiver',
    fields: [
      { segments: ['tokenFile'], value: entry.tokenFile, file: true, sent: true, secret: true, what: 'bearer token' },
      ...Object.entries(entry.headers ?? {}).map(([name, value]): CredentialField => ({ segments: ['headers', name], value, file: false, sent: true, secret: true, what: `value of header ${name}` })),
      ...tlsCredentialFields(entry),
    ],
  };
}
