/**
 * Every `uplinks:` entry's credentials as its sink binds them to an endpoint
 * (SinkDefinition.credentialBinding, cloud-sync/src/north/credentials.ts), named the way the
 * API rules report and restore them: the web API (config-store.ts) and a center's `config`
 * command (commands/protected-sections.ts) check every sink by name through this, knowing no
 * sink's fields.
 */
import { SINKS, sinkCredentialBinding, type SinkDefinition } from '@kedge/cloud-sync/north/registry.ts';
import type { CredentialBinding } from '@kedge/cloud-sync/north/credentials.ts';
import type { CredentialBinding as DriverCredentialBinding } from '../drivers/registry.ts';
import type { GatewayConfig } from './schema.ts';

/**
 * A sink's binding is a driver's and back (cloud-sync cannot import the gateway, so the shape
 * is declared twice): this fails to compile the day the two drift apart.
 */
export const BINDINGS_AGREE: [CredentialBinding extends DriverCredentialBinding ? true : never, DriverCredentialBinding extends CredentialBinding ? true : never] = [true, true];

export interface BoundSink {
  name: string;
  kind: string;
  /** The entry's path in issues: `uplink` (the deprecated single section) or `uplinks[2]`. */
  path: string;
  /** The entry's prefix in restoreSecrets' paths (list items named by name): `uplink.` or `uplinks[name=city].`. */
  restoredPrefix: string;
  binding: CredentialBinding;
}

/** The entries of `config` whose sink holds credentials, with their bindings. */
export function boundSinks(config: Pick<GatewayConfig, 'uplinks' | 'legacyUplinkKey'>, sinks: readonly SinkDefinition[] = SINKS as readonly SinkDefinition[]): BoundSink[] {
  return config.uplinks.flatMap((u, i) => {
    const binding = sinkCredentialBinding(u, sinks);
    if (!binding) return [];
    const legacy = config.legacyUplinkKey === true;
    return [{ name: u.name, kind: u.kind, path: legacy ? 'uplink' : `uplinks[${i}]`, restoredPrefix: legacy ? 'uplink.' : `uplinks[name=${u.name}].`, binding }];
  });
}

/** The same entry (by name) in an older config. */
export function sameSink(before: readonly BoundSink[], s: BoundSink): BoundSink | undefined {
  return before.find((b) => b.name === s.name);
}

/** The value of the field at `segments` in a binding. */
export function fieldValue(b: CredentialBinding | undefined, segments: readonly string[]): string | undefined {
  return b?.fields.find((f) => f.segments.join('.') === segments.join('.'))?.value;
}

/**
 * The moved-or-weakened rule (the drivers' too): a new entry, another kind (another kind of
 * server), another endpoint, or a lower protection.
 */
export function moved(was: BoundSink | undefined, now: BoundSink): boolean {
  return !was || was.kind !== now.kind || was.binding.endpoint.value !== now.binding.endpoint.value || now.binding.protection < was.binding.protection;
}

/** The entry's raw value at `segments` (the URL as written, for pages that show where a sink sends). */
export function entryValue(entry: object, segments: readonly string[]): unknown {
  return segments.reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), entry);
}

/**
 * Where an entry sends, as written (its binding's endpoint field: the URL), for status pages;
 * undefined without a binding. `sinks`: the registry the config was read against (the config
 * service's), required so that a page cannot fall back to the product's list unseen.
 */
export function sinkEndpointText(entry: { kind: string }, sinks: readonly SinkDefinition[]): unknown {
  const binding = sinkCredentialBinding(entry, sinks);
  return binding ? entryValue(entry, binding.endpoint.segments) : undefined;
}
