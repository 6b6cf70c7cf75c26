import { canonicalJson } from '@kedge/cloud-sync/canonical-json.ts';
import type { GatewayConfig } from '../config/schema.ts';
import { weakerSecurity } from '../drivers/registry.ts';
import { SECRET_MARKER, URL_SECRET_MARKER } from '../config/secret-fields.ts';

/**
 * What a remote `config` command may not change (SECURITY.md, "trust anchors"): a center key
 * that can replace the whole config must not be able to replace the keys that authenticate
 * it (`commands`), the OTA keys and slots (`ota`), the local UI's listener and sessions
 * (`web`), the box's identity (`gateway.id/region/municipality`: a command is signed for one
 * identity), the data folder (keys, secrets, the replay store and the slots live there), or
 * point a secret-file setting at a file the box does not already use for that purpose. These
 * change only on the box: by editing the file (then SIGHUP or a restart); `web` also through
 * the local web UI with an owner session (which refuses `commands`, `ota`: config/config-store.ts).
 */
export const PROTECTED_SECTIONS = ['commands', 'ota', 'web'] as const;

export interface ProtectedChange {
  /** Field path in the config, e.g. `commands`, `gateway.id`, `uplink.tls.key`. */
  path: string;
  message: string;
}

const same = (a: unknown, b: unknown) => canonicalJson(a ?? null) === canonicalJson(b ?? null);

/** Fields that name a file or folder holding a secret or a key: `*File`, `*Dir`, and the TLS ca/cert/key. */
function isSecretPathField(path: string[]): boolean {
  const key = path[path.length - 1]!;
  if (path.length === 1 && key === 'dataDir') return false; // compared on its own
  if (/(File|Dir)$/.test(key)) return true;
  return path[path.length - 2] === 'tls' && ['ca', 'cert', 'key'].includes(key);
}

/** Every secret-path field with its value, anywhere in the config (devices included). */
export function secretPaths(config: unknown, at: string[] = [], out: Array<{ path: string; value: string }> = []): Array<{ path: string; value: string }> {
  if (Array.isArray(config)) {
    config.forEach((v, i) => secretPaths(v, [...at.slice(0, -1), `${at[at.length - 1] ?? ''}[${i}]`], out));
  } else if (config !== null && typeof config === 'object') {
    // A loaded config has both `uplinks` and `uplink` (the first MQTT entry, the same object):
    // walk the one the file has, so each secret path is named once, as written.
    const root = at.length === 0 ? (config as { uplinks?: unknown; legacyUplinkKey?: boolean }) : null;
    const alias = root && Array.isArray(root.uplinks) ? (root.legacyUplinkKey ? 'uplinks' : 'uplink') : null;
    for (const [k, v] of Object.entries(config as Record<string, unknown>)) {
      if (k === alias) continue;
      const here = [...at, k];
      if (typeof v === 'string' && isSecretPathField(here)) out.push({ path: here.join('.'), value: v });
      else secretPaths(v, here, out);
    }
  }
  return out;
}

const AUTH_FILES = ['passwordFile', 'certificateFile', 'privateKeyFile'] as const;
type Auth = Partial<Record<(typeof AUTH_FILES)[number] | 'password', string>>;
const authOf = (d: object): Auth => {
  const a = (d as { auth?: unknown }).auth;
  return typeof a === 'object' && a !== null ? (a as Auth) : {};
};
const endpointOfDevice = (d: object): string | undefined => (d as { endpointUrl?: string }).endpointUrl;

/**
 * A device's stored credentials (OPC UA password or key files, an inline password kept by the
 * "unchanged" marker) stay with the server they were stored for, like the broker's: a remote
 * config may not move the device (same id) to another endpoint or a weaker securityMode while
 * keeping them, nor hand one device's credential file to another device.
 */
function deviceCredentialChanges(current: GatewayConfig, next: GatewayConfig): ProtectedChange[] {
  const out: ProtectedChange[] = [];
  const before = new Map(current.devices.map((d) => [d.id, d]));
  next.devices.forEach((d, i) => {
    const auth = authOf(d);
    const was = before.get(d.id);
    const old = was ? authOf(was) : {};
    const kept = AUTH_FILES.some((k) => auth[k] !== undefined && auth[k] === old[k]) || (auth.password !== undefined && (auth.password === old.password || auth.password === SECRET_MARKER));
    if (kept && was && (endpointOfDevice(was) !== endpointOfDevice(d) || weakerSecurity(was, d))) {
      out.push({
        path: `devices[${i}].endpointUrl`,
        message: `devices[${i}].endpointUrl: a remote config may not send device ${d.id}'s stored credentials to another endpoint or over a weaker securityMode (${endpointOfDevice(was)} ${String((was as { securityMode?: string }).securityMode)} -> ${endpointOfDevice(d)} ${String((d as { securityMode?: string }).securityMode)}); give new credentials with it`,
      });
    }
    for (const k of AUTH_FILES) {
      const file = auth[k];
      if (file === undefined || file === old[k]) continue;
      const owner = current.devices.find((o) => o.id !== d.id && authOf(o)[k] === file);
      if (owner) out.push({ path: `devices[${i}].auth.${k}`, message: `devices[${i}].auth.${k}: a remote config may not hand device ${owner.id}'s credential file to device ${d.id}` });
    }
  });
  return out;
}

/** The changes `next` makes to protected fields of `current`; empty when the remote config may be applied. */
export function protectedChanges(current: GatewayConfig, next: GatewayConfig): ProtectedChange[] {
  const out: ProtectedChange[] = [];
  for (const section of PROTECTED_SECTIONS) {
    if (!same(current[section], next[section])) {
      const what = { commands: 'the command trust anchors', ota: 'the OTA trust anchors and slots', web: 'the local web UI settings' }[section];
      out.push({ path: section, message: `${section}: a remote config may not change ${what}; change it on the box (edit the file, then SIGHUP)${section === 'web' ? ' or in the local web UI' : ''}` });
    }
  }
  for (const field of ['id', 'region', 'municipality'] as const) {
    if (current.gateway[field] !== next.gateway[field]) {
      out.push({ path: `gateway.${field}`, message: `gateway.${field}: a remote config may not change the gateway's identity ("${current.gateway[field]}" -> "${next.gateway[field]}")` });
    }
  }
  // The stored broker credentials go only to the broker they were stored for: a remote config
  // that moves the uplink elsewhere must bring its own (inline) credentials.
  // The scheme counts: mqtts -> mqtt on the same host and port sends them in clear. The
  // "unchanged" markers (config/secret-fields.ts) count as kept: ConfigStore fills in the stored value.
  const host = (url: string) => {
    try {
      const u = new URL(url);
      return `${u.protocol}//${u.hostname}:${u.port}`;
    } catch {
      return url;
    }
  };
  {
    const c = current.uplink;
    const n = next.uplink;
    const kept =
      (n.passwordFile !== undefined && n.passwordFile === c.passwordFile) ||
      (n.password !== undefined && (n.password === c.password || n.password === SECRET_MARKER)) ||
      n.url.includes(URL_SECRET_MARKER) ||
      (n.tls?.key !== undefined && n.tls.key === c.tls?.key);
    if (kept && host(c.url) !== host(n.url)) {
      out.push({ path: 'uplink.url', message: `uplink.url: a remote config may not send the box's stored broker credentials to another broker (${host(c.url)} -> ${host(n.url)}); give new credentials with the new URL` });
    }
    // Certificate checks off would hand them to whoever sits between the box and its broker.
    if (kept && c.tls?.rejectUnauthorized !== false && n.tls?.rejectUnauthorized === false) {
      out.push({ path: 'uplink.tls.rejectUnauthorized', message: 'uplink.tls.rejectUnauthorized: a remote config may not turn off the broker certificate check while the stored credentials are kept' });
    }
  }
  out.push(...deviceCredentialChanges(current, next));
  if (current.dataDir !== next.dataDir) out.push({ path: 'dataDir', message: 'dataDir: a remote config may not move the data folder (keys, secrets and the command replay store live there)' });
  // Keyed by the field with list indices dropped: a device may move in the list (devices[3] ->
  // devices[2]), but a file used for one purpose (the broker password) must not be handed to another.
  const fieldKey = (p: { path: string; value: string }) => `${p.path.replace(/\[\d+\]/g, '[]')}=${p.value}`;
  const known = new Set(secretPaths(current).map(fieldKey));
  for (const p of secretPaths(next)) {
    if (!known.has(fieldKey(p))) {
      out.push({ path: p.path, message: `${p.path}: a remote config may not name a secret or key file the box does not already use there ("${p.value}"); set secret paths on the box` });
    }
  }
  return out;
}
