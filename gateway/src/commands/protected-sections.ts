import { canonicalJson } from '@kedge/cloud-sync/canonical-json.ts';
import type { GatewayConfig } from '../config/schema.ts';
import { credentialBindingOf, DRIVERS, type CredentialBinding, type CredentialField, type DriverDefinition } from '../drivers/registry.ts';
import { SECRET_MARKER, URL_SECRET_MARKER } from '../config/secret-fields.ts';
import { boundSinks, fieldValue, moved, sameSink } from '../config/sink-credentials.ts';
import { SINKS, type SinkDefinition } from '@kedge/cloud-sync/north/registry.ts';

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

type Devices = ReadonlyArray<{ id: string; driver: string }>;

/**
 * A device's stored credentials (as its driver binds them to an endpoint: an OPC UA password or
 * key files, an inline password kept by the "unchanged" marker) stay with the server they were
 * stored for, like the broker's: a remote config may not move the device (same id and driver)
 * to another endpoint or a weaker protection while keeping them, nor hand one device's
 * credential file to another device.
 */
function deviceCredentialChanges(current: Devices, next: Devices, drivers: readonly DriverDefinition[]): ProtectedChange[] {
  const out: ProtectedChange[] = [];
  const bindingOf = (d: { driver: string }) => credentialBindingOf(d, drivers);
  const before = new Map(current.map((d) => [`${d.driver}/${d.id}`, bindingOf(d)]));
  const valueAt = (b: CredentialBinding | undefined, f: CredentialField) => b?.fields.find((o) => o.segments.join('.') === f.segments.join('.'))?.value;
  next.forEach((d, i) => {
    const binding = bindingOf(d);
    if (!binding) return;
    const was = before.get(`${d.driver}/${d.id}`);
    const kept = binding.fields.some((f) => f.value !== undefined && (f.value === valueAt(was, f) || (!f.file && f.value === SECRET_MARKER)));
    if (kept && was && (was.endpoint.value !== binding.endpoint.value || binding.protection < was.protection)) {
      const at = `devices[${i}].${binding.endpoint.segments.join('.')}`;
      out.push({
        path: at,
        message: `${at}: a remote config may not send device ${d.id}'s stored credentials to another endpoint or over a weaker protection (${was.where} -> ${binding.where}); give new credentials with it`,
      });
    }
    for (const f of binding.fields) {
      const file = f.value;
      if (!f.file || file === undefined || file === valueAt(was, f)) continue;
      const owner = current.find((o) => o.id !== d.id && valueAt(bindingOf(o), f) === file);
      const at = `devices[${i}].${f.segments.join('.')}`;
      if (owner) out.push({ path: at, message: `${at}: a remote config may not hand device ${owner.id}'s credential file to device ${d.id}` });
    }
  });
  return out;
}

/**
 * Every uplink's stored credentials (as its sink binds them: SinkDefinition.credentialBinding)
 * stay with the endpoint they were stored for, like a device's: a remote config may not move an
 * uplink (same name) to another endpoint (scheme, host, port: mqtts -> mqtt on the same host
 * sends them in clear) or a weaker protection (the certificate check off) while keeping any of
 * them (the same file or value; the "unchanged" markers count as kept, ConfigStore fills in the
 * stored value), nor hand one uplink's credential file to another uplink. New credentials with
 * the new endpoint are the center's own business.
 */
function sinkCredentialChanges(current: GatewayConfig, next: GatewayConfig, sinks: readonly SinkDefinition[]): ProtectedChange[] {
  const out: ProtectedChange[] = [];
  const before = boundSinks(current, sinks);
  for (const s of boundSinks(next, sinks)) {
    const was = sameSink(before, s);
    const b = s.binding;
    const kept = b.fields.some((f) => f.value !== undefined && (f.value === fieldValue(was?.binding, f.segments) || (!f.file && (f.value === SECRET_MARKER || f.value === URL_SECRET_MARKER))));
    const receiver = b.receiver ?? 'receiver';
    if (kept && was && moved(was, s)) {
      const weaker = was.kind === s.kind && was.binding.endpoint.value === b.endpoint.value;
      const at = `${s.path}.${(weaker ? (b.protectionSegments ?? b.endpoint.segments) : b.endpoint.segments).join('.')}`;
      out.push({
        path: at,
        message: weaker
          ? `${at}: a remote config may not weaken the protection of uplink ${s.name}'s stored credentials (${was.binding.where} -> ${b.where}); give new credentials with it`
          : `${at}: a remote config may not send uplink ${s.name}'s stored credentials to another ${receiver} (${was.binding.where} -> ${b.where}); give new credentials with the new endpoint`,
      });
    }
    for (const f of b.fields) {
      const file = f.value;
      if (!f.file || file === undefined || file === fieldValue(was?.binding, f.segments)) continue;
      const owner = before.find((o) => o !== was && o.binding.fields.some((g) => g.file && g.value === file));
      const at = `${s.path}.${f.segments.join('.')}`;
      if (owner) out.push({ path: at, message: `${at}: a remote config may not hand uplink ${owner.name}'s credential file to uplink ${s.name}` });
    }
  }
  return out;
}

/**
 * The changes `next` makes to protected fields of `current`; empty when the remote config may be
 * applied. `drivers`, `sinks`: whose credential bindings apply (the registries'; a test adds a fixture).
 */
export function protectedChanges(
  current: GatewayConfig,
  next: GatewayConfig,
  drivers: readonly DriverDefinition[] = DRIVERS,
  sinks: readonly SinkDefinition[] = SINKS as readonly SinkDefinition[],
): ProtectedChange[] {
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
  out.push(...sinkCredentialChanges(current, next, sinks));
  out.push(...deviceCredentialChanges(current.devices, next.devices, drivers));
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
