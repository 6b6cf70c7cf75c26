import { accessSync, constants } from 'node:fs';
import { basename } from 'node:path';
import type { Document } from 'yaml';
import { ConfigError, parseConfigDocument } from './load.ts';
import type { GatewayConfig } from './schema.ts';
import { credentialBindingOf } from '../drivers/registry.ts';
import { ConfigApplyError, type ConfigChangeBy, type ConfigService, type ConfigSource } from './config-service.ts';
import { canonicalJson } from '@kedge/cloud-sync/canonical-json.ts';
import { restoreSecrets, SECRET_MARKER, URL_SECRET_MARKER } from './secret-fields.ts';
import { boundSinks, fieldValue, moved, sameSink, type BoundSink } from './sink-credentials.ts';
import { readSecretFile, secretRoots } from '../secrets.ts';
import { secretFilePaths } from './secret-files.ts';
import type { SinkDefinition } from '@kedge/cloud-sync/north/sink.ts';

export { ConfigApplyError };

/** Who made a change when the caller does not say (tests, older callers). */
const UNNAMED: ConfigChangeBy = { source: 'web', what: 'config change' };

/**
 * The config file as the API changes it (the web UI and the center's commands): the rules an
 * API edit must keep (secret markers, local-only settings, credentials staying with their
 * broker, readable files) on top of the one config service (config/config-service.ts), which
 * validates, writes atomically, applies with Gateway.reload and records who made the change.
 * A change that fails validation leaves both the file and the running config untouched.
 */
export class ConfigStore {
  /**
   * `running`: the config in force (Gateway.currentConfig). The API's rules compare a change
   * with the file on disk, or with this when the file is broken (hand-edited): a broken file
   * must not switch the rules off, or a PUT could replace the trust anchors by "repairing" it.
   */
  constructor(
    readonly service: ConfigService,
    private readonly running?: () => GatewayConfig,
  ) {}

  get path(): string {
    return this.service.path;
  }

  read(): string {
    return this.service.read();
  }

  /** The file as a YAML document (comments kept). */
  document(): Document {
    return parseConfigDocument(this.read(), basename(this.path));
  }

  /** Validates `text` as a config file without touching anything. Throws ConfigError. */
  validate(text: string): GatewayConfig {
    return this.service.validate(text);
  }

  /**
   * Every check replace() makes before writing (schema, secret markers, local-only settings,
   * credentials staying with their broker, readable files), without writing or applying: an
   * import preview that says "valid" must not be refused by the apply that follows.
   */
  check(text: string): Promise<GatewayConfig> {
    return this.service.serial(() => this.checked(this.read(), text, 'web').config);
  }

  private checked(before: string, proposed: string, source: ConfigSource): { config: GatewayConfig; after: string } {
    const { text: after, restored } = this.keepSecrets(before, proposed);
    const config = this.validate(after);
    const previous = this.validOrNull(before) ?? this.running?.() ?? null;
    checkNoLocalOnlyChange(previous, config, basename(this.path));
    // A center `config` command is held to commands/protected-sections.ts instead, and the
    // `trust` command (signed by a maintainer key) is the one remote way to rotate the keys.
    if (source === 'web') checkNoWebTrustChange(previous, config, basename(this.path));
    const sinks = this.service.sinks;
    checkCredentialsStayWithBroker(previous, config, restored, basename(this.path), sinks);
    checkCredentialsStayWithDevice(previous, config, restored, basename(this.path), sinks);
    checkFiles(config, basename(this.path), sinks);
    return { config, after };
  }

  /**
   * Edits the YAML document (comments and layout of the rest are kept) and applies the result.
   * The edit runs on the file as it is when its turn in the queue comes, so it never undoes a
   * change made meanwhile by another source.
   */
  edit(change: (doc: Document) => void, by: ConfigChangeBy = UNNAMED): Promise<GatewayConfig> {
    return this.service.change(by, (before) => {
      const doc = parseConfigDocument(before, basename(this.path));
      if (doc.errors.length > 0) {
        throw new ConfigError(basename(this.path), [{ path: '', message: `the file on disk is not valid YAML: ${doc.errors[0]!.message}` }]);
      }
      change(doc);
      return this.prepared(before, doc.toString(), by.source);
    });
  }

  /** Replaces the whole file (the raw editor on the system page, the center's `config` command). */
  replace(text: string, by: ConfigChangeBy = UNNAMED): Promise<GatewayConfig> {
    return this.service.change(by, (before) => this.prepared(before, text, by.source));
  }

  /** edit() and replace() recorded as made by `who` (the route's request: webChange() in web/web-change.ts). */
  by(who: ConfigChangeBy): Pick<ConfigStore, 'edit' | 'replace'> {
    return { edit: (change) => this.edit(change, who), replace: (text) => this.replace(text, who) } as Pick<ConfigStore, 'edit' | 'replace'>;
  }

  private prepared(before: string, proposed: string, source: ConfigSource): { text: string; config: GatewayConfig } {
    const { config, after } = this.checked(before, proposed, source);
    return { text: after, config };
  }

  private validOrNull(text: string): GatewayConfig | null {
    try {
      return this.validate(text);
    } catch {
      // The file on disk is broken (hand-edited): the API may repair it, its rules then held
      // against the running config (checked()).
      return null;
    }
  }

  /** `proposed` with the stored secrets wherever it carries the "unchanged" marker (secret-fields.ts). */
  private keepSecrets(before: string, proposed: string): { text: string; restored: string[] } {
    if (!proposed.includes(SECRET_MARKER) && !proposed.includes(URL_SECRET_MARKER)) return { text: proposed, restored: [] };
    const doc = parseConfigDocument(proposed, basename(this.path));
    if (doc.errors.length > 0) return { text: proposed, restored: [] }; // validate() reports the YAML problem
    const { issues, restored } = restoreSecrets(doc, before);
    if (issues.length > 0) throw new ConfigError(basename(this.path), issues);
    return { text: doc.toString(), restored };
  }
}

/**
 * Files the config names must be readable now (the reload would fail halfway otherwise), and
 * must not be links leading out of the secrets folders (the loader checked the paths as written).
 */
function checkFiles(config: GatewayConfig, source: string, sinks?: readonly SinkDefinition[]): void {
  const roots = secretRoots(config);
  const issues = secretFilePaths(config, sinks).flatMap(({ path, file }) => {
    try {
      accessSync(file, constants.R_OK);
    } catch {
      return [{ path, message: `file ${file} does not exist or is not readable` }];
    }
    try {
      readSecretFile(file, roots);
      return [];
    } catch (err) {
      return [{ path, message: (err as Error).message }];
    }
  });
  if (issues.length > 0) throw new ConfigError(source, issues);
}

/**
 * Settings the API must not change, only someone on the box itself (editing the file): they
 * decide which folders may hold secrets, so changing them through the API would reopen the
 * "read any file the daemon can read" hole that the secrets confinement closes.
 */
function checkNoLocalOnlyChange(before: GatewayConfig | null, after: GatewayConfig, source: string): void {
  if (!before) return;
  const issues = (['dataDir', 'secretsDir'] as const)
    .filter((k) => before[k] !== after[k])
    .map((k) => ({ path: k, message: `${k} can only be changed in the config file on the box, not through the web API (it decides where secrets may be read from)` }));
  if (issues.length > 0) throw new LocalOnlyError(source, issues);
}

/**
 * A web change refused because it touches a setting only the file on the box may change
 * (answered 400 `config_local_only`, each issue naming the field).
 */
export class LocalOnlyError extends ConfigError {}

/**
 * The sections the web API cannot change (SECURITY.md, "Trust anchors"): `ota` and `commands`
 * hold the keys that decide which update bundles run as the daemon's user and which remote
 * commands switch pumps, and their security settings (acceptance window, size caps, local
 * offer URLs, slots). A stolen session or a forged request that could replace them would
 * turn one web login into code execution (PUT the attacker's key, then offer a bundle signed
 * with it). They change in the file on the box (then SIGHUP), or by a maintainer-signed
 * `trust` command.
 */
export const WEB_LOCAL_ONLY_SECTIONS = ['ota', 'commands'] as const;

function checkNoWebTrustChange(before: GatewayConfig | null, after: GatewayConfig, source: string): void {
  // No config to compare with (a fresh box whose file never loaded): nothing may be set at all.
  const same = (a: unknown, b: unknown) => canonicalJson(a ?? null) === canonicalJson(b ?? null);
  const issues: Array<{ path: string; message: string }> = [];
  for (const section of WEB_LOCAL_ONLY_SECTIONS) {
    const was = (before?.[section] ?? undefined) as Record<string, unknown> | undefined;
    const now = after[section] as Record<string, unknown> | undefined;
    if (same(was, now)) continue;
    const what = section === 'ota' ? 'the OTA trust anchors and update settings' : 'the command trust anchors and settings';
    const message = `can only be changed in the config file on the box (then SIGHUP), not through the web API: it holds ${what}`;
    // Named per field where the section stays, so the engineer sees which line to put back.
    const fields = was && now ? [...new Set([...Object.keys(was), ...Object.keys(now)])].filter((k) => !same(was[k], now[k])) : [];
    if (fields.length === 0) issues.push({ path: section, message: `${section} ${message}` });
    for (const k of fields) issues.push({ path: `${section}.${k}`, message: `${section}.${k} ${message}` });
  }
  if (issues.length > 0) throw new LocalOnlyError(source, issues);
}

/**
 * A change through the API that moves an uplink (any sink, by name) to another endpoint (scheme,
 * host or port: SinkDefinition.credentialBinding) or a weaker protection must not take the
 * stored credentials along: a secret kept by its marker (a password, a URL's password, a header
 * value), or the same password or token file, would be sent to whoever runs the new endpoint.
 * Typing the secret is the engineer's own decision; a secret file is changed on the box.
 */
function checkCredentialsStayWithBroker(before: GatewayConfig | null, after: GatewayConfig, restored: readonly string[], source: string, sinks?: readonly SinkDefinition[]): void {
  if (!before) return;
  const old = boundSinks(before, sinks);
  const issues: Array<{ path: string; message: string }> = [];
  for (const s of boundSinks(after, sinks)) {
    const was = sameSink(old, s);
    if (!moved(was, s)) continue;
    const receiver = s.binding.receiver ?? 'receiver';
    const where = `the stored credentials are only sent to the stored ${receiver} (${was?.binding.where ?? 'the sink they were stored for'}), not to ${s.binding.where}`;
    for (const f of s.binding.fields) {
      if (!f.sent) continue;
      const at = f.segments.join('.');
      const path = `${s.path}.${at}`;
      if (!f.file) {
        if (restored.includes(`${s.restoredPrefix}${at}`)) issues.push({ path, message: `${where}: type the ${f.what}` });
      } else if (f.value !== undefined && f.value === fieldValue(was?.binding, f.segments)) {
        issues.push({ path, message: `${where}: change the ${f.what} file in the config file on the box` });
      }
    }
  }
  if (issues.length > 0) throw new ConfigError(source, issues);
}

/**
 * The same for a device's credentials, as its driver binds them to an endpoint
 * (DriverDefinition.credentialBinding: an OPC UA user's password): a change through the API that
 * moves a device (same id) to another endpoint or a weaker protection must not keep a
 * credential the server receives (a stored password kept by its marker, or its password file),
 * and no such field (a device's password, any uplink's password or token) may be given a file the
 * config already uses for another secret (any uplink's password, token or TLS key, as its sink's
 * credentialBinding names them; another device's password or private key): the server at the
 * other end would receive, as a password, a secret the API never shows.
 */
function checkCredentialsStayWithDevice(before: GatewayConfig | null, after: GatewayConfig, restored: readonly string[], source: string, sinks?: readonly SinkDefinition[]): void {
  if (!before) return;
  // By id, and only of the same driver: another driver's endpoint is another kind of server.
  const old = new Map(before.devices.map((d) => [`${d.driver}/${d.id}`, credentialBindingOf(d)]));
  // Every secret file the current config uses, with whose secret it is (certificates are public).
  const held = new Map<string, string[]>();
  const hold = (file: string | undefined, what: string) => file !== undefined && held.set(file, [...(held.get(file) ?? []), what]);
  // Every sink's (SinkDefinition.credentialBinding): a token file is as secret as a broker password.
  const oldSinks = boundSinks(before, sinks);
  const sinkLabel = (s: BoundSink, what: string) => (s.path === 'uplink' ? `the uplink's ${what}` : `uplink ${s.name}'s ${what}`);
  for (const s of oldSinks) {
    for (const f of s.binding.fields) if (f.file && f.secret) hold(f.value, sinkLabel(s, f.what));
  }
  for (const o of before.devices) {
    for (const f of credentialBindingOf(o)?.fields ?? []) if (f.file && f.secret) hold(f.value, `device ${o.id}'s ${f.what}`);
  }
  const issues: Array<{ path: string; message: string }> = [];
  after.devices.forEach((d, i) => {
    const binding = credentialBindingOf(d);
    if (!binding) return;
    const was = old.get(`${d.driver}/${d.id}`);
    const moved = !was || was.endpoint.value !== binding.endpoint.value || binding.protection < was.protection;
    for (const f of binding.fields) {
      if (!f.sent) continue;
      const at = f.segments.join('.');
      const path = `devices[${i}].${at}`;
      const where = `device ${d.id}'s stored ${f.what} is only sent to ${was?.where ?? 'the device it was stored for'}, not to ${binding.where}`;
      if (!f.file) {
        if (moved && restored.includes(`devices[id=${d.id}].${at}`)) issues.push({ path, message: `${where}: type the ${f.what}` });
        continue;
      }
      const file = f.value;
      if (file === undefined) continue;
      const wasFile = was?.fields.find((w) => w.segments.join('.') === at)?.value;
      const others = (held.get(file) ?? []).filter((h) => h !== `device ${d.id}'s ${f.what}`);
      // Newly given: a file that two devices shared already (set up on the box) stays editable.
      if (others.length > 0 && wasFile !== file) issues.push({ path, message: `${file} holds ${others.join(' and ')}: it is not given to device ${d.id} as its ${f.what}` });
      else if (moved && wasFile === file) issues.push({ path, message: `${where}: change the ${f.what} file in the config file on the box` });
    }
  });
  // A sink's sent file (a password, a token) newly given a file that holds another secret.
  for (const s of boundSinks(after, sinks)) {
    const was = sameSink(oldSinks, s);
    for (const f of s.binding.fields) {
      const file = f.value;
      if (!f.file || !f.sent || file === undefined || file === fieldValue(was?.binding, f.segments)) continue;
      const owners = (held.get(file) ?? []).filter((h) => h !== sinkLabel(s, f.what));
      const receiver = s.binding.receiver ?? 'receiver';
      if (owners.length > 0) issues.push({ path: `${s.path}.${f.segments.join('.')}`, message: `${file} holds ${owners.join(' and ')}: it is not sent to a ${receiver} as a ${f.what}` });
    }
  }
  if (issues.length > 0) throw new ConfigError(source, issues);
}
