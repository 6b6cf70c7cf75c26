/**
 * Gateway configuration schema (one YAML file, see load.ts).
 *
 * Every object is strict: a typo such as `adress` must fail loudly instead of silently
 * falling back to a default and polling the wrong register for months.
 */
import { z } from 'zod';
import { SINKS, logCounters, sinkDefinition, sinkSchemas, type sinkConfigSchema, type SinkConfig, type SinkDefinition } from '@kedge/cloud-sync/north/registry.ts';
import { legacyUplinkSchema } from '@kedge/cloud-sync/north/legacy-uplink.ts';
import type { BrokerSinkBase } from '@kedge/cloud-sync/north/broker-link/link.ts';
import { checkMinMax, idSchema, int, strict, uniqueIdCheck } from './primitives.ts';
import { DRIVERS, type BaseDevice, type DeviceConfig, type DriverDefinition, type SchemasOf } from '../drivers/registry.ts';

export { ID_PATTERN, suggestKey, unitSchema } from './primitives.ts';
export { DEVICE_DRIVERS } from '../drivers/registry.ts';

// ---------------------------------------------------------------------------------------
// Helpers

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: KiB,
  mib: MiB,
  gib: GiB,
};

/** Parses "512MiB", "1 GiB", "300MB", "64KiB", "1048576"; undefined when not a size. */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return undefined;
  const factor = m[2] === '' ? 1 : UNITS[m[2]!.toLowerCase()];
  if (factor === undefined) return undefined;
  return Math.floor(Number(m[1]) * factor);
}

const byteSize = z
  .union([z.number(), z.string()], {
    error: 'must be a number of bytes or a size string such as "512MiB"',
  })
  .transform((v, ctx) => {
    if (typeof v === 'number') return v;
    const n = parseByteSize(v);
    if (n === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `"${v}" is not a size: use a number of bytes or a number with unit B, KB, MB, GB (decimal) or KiB, MiB, GiB (binary), e.g. "512MiB"`,
      });
      return z.NEVER;
    }
    return n;
  })
  .pipe(
    z
      .number()
      .int({ error: 'must be a whole number of bytes' })
      .min(MiB, { error: 'must be at least 1 MiB (1048576 bytes): a smaller log would be rotated away before it can bridge an uplink outage' }),
  );

// ---------------------------------------------------------------------------------------
// gateway / log / uplink

const gatewaySchema = strict({
  id: idSchema(),
  region: idSchema(),
  municipality: idSchema(),
  name: z.string().optional(),
});

const logSchema = strict({
  maxBytes: byteSize.default(256 * MiB),
  flushMs: int(1, 10_000).default(100),
  flushRows: int(1, 100_000).default(1000),
  synchronous: z.enum(['normal', 'full']).default('full'),
  retainAckedMs: int(0).default(3_600_000),
  // While the disk refuses writes (full, I/O error, read-only): readings held in memory; beyond
  // it the oldest are dropped, counted, and reported to the center as evicted.
  maxBufferedReadings: int(1000, 10_000_000).default(100_000),
});

// Uplinks: each sink's schema lives in its folder (cloud-sync/src/north/<sink>/schema.ts), and
// the sink registry (north/registry.ts) makes the union of `uplinks:` entries by `kind`.

/**
 * The `uplinks:` list for these sinks: discriminated on `kind`, one member per entry of
 * north/registry.ts (a test composes the registry with a fixture sink the same way), names
 * unique, and at least one sink that links to a broker (SinkDefinition.brokerLink).
 */
export function uplinksSchemaFor(sinks: readonly [SinkDefinition, ...SinkDefinition[]]) {
  const brokerKinds = sinks.filter((d) => d.brokerLink).map((d) => d.kind);
  const counters = logCounters(sinks);
  // Typed as the registry's own entries: for SINKS that is exact; a test's fixture casts its own.
  const union = z.discriminatedUnion('kind', sinkSchemas(sinks) as never) as unknown as z.ZodType<SinkConfig, z.input<typeof sinkConfigSchema>>;
  return z
    .array(union)
    .min(1, { error: 'at least one uplink is needed: readings are only kept until the uplinks have them' })
    .superRefine((list, ctx) => {
      const seen = new Map<string, number>();
      list.forEach((u, i) => {
        const first = seen.get(u.name);
        if (first !== undefined) {
          ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate uplink name "${u.name}" (also uplinks[${first}]): the name is the uplink's log cursor` });
        } else seen.set(u.name, i);
        // The name is the sink's row in the log's cursors table, where the sinks' counters live too.
        if (counters.includes(u.name)) {
          ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${u.name}" is reserved (a counter the log keeps): choose another name` });
        }
      });
      if (list.length > 0 && !list.some((u) => brokerKinds.includes(u.kind))) {
        ctx.addIssue({
          code: 'custom',
          message: `at least one uplink of kind ${brokerKinds.join(' or ')} is needed: the center's commands, update offers and resend requests arrive over MQTT`,
        });
      }
    });
}

/** A broker-linked uplink (SinkDefinition.brokerLink): the ones with a broker connection, their entries BrokerSinkBase. */
export function isBrokerSink(u: SinkConfig, sinks: readonly SinkDefinition[] = SINKS as readonly SinkDefinition[]): u is UplinkConfig {
  return sinkDefinition(u.kind, sinks)?.brokerLink === true;
}

/** Said once at load (and in the config warnings) while a config still uses the single `uplink:`. */
export const LEGACY_UPLINK_NOTE =
  '`uplink:` (a single uplink) is deprecated: write it as `uplinks:` (a list) with `- name: uplink` and `kind: mqtt` (or `kind: sparkplug` for codec sparkplug); the name "uplink" keeps its log position';

// ---------------------------------------------------------------------------------------
// Devices: one schema per driver, in the driver's folder (drivers/<driver>/schema.ts)

/**
 * The `devices:` list for these drivers: discriminated on `driver`, one member per entry of
 * drivers/registry.ts, so a new southbound driver becomes a member there without touching
 * this file; then the checks across devices (ids, each driver's own, such as RS-485 buses).
 */
export function devicesSchemaFor<const D extends readonly [DriverDefinition, ...DriverDefinition[]]>(drivers: D) {
  const allowed = drivers.map((d) => d.kind).join(', ');
  const union = z.discriminatedUnion('driver', drivers.map((d) => d.schema) as SchemasOf<D>, {
    error: (iss) => {
      if (iss.code !== 'invalid_union') return undefined;
      const input = iss.input;
      const got = typeof input === 'object' && input !== null ? (input as Record<string, unknown>)['driver'] : undefined;
      return got === undefined ? `required field is missing (one of: ${allowed})` : `driver must be one of: ${allowed} (got ${JSON.stringify(got)})`;
    },
  });
  return z.array(union).superRefine((list, ctx) => {
    const devices = list as BaseDevice[];
    const checkId = uniqueIdCheck(ctx, 'device', []);
    devices.forEach((d, i) => checkId(d.id, i));
    for (const driver of drivers) {
      if (!driver.checkDevices) continue;
      const mine = devices.flatMap((device, index) => (device.driver === driver.kind ? [{ device, index }] : []));
      if (mine.length > 0) driver.checkDevices(mine, ctx);
    }
  });
}

const devicesSchema = devicesSchemaFor(DRIVERS);

// ---------------------------------------------------------------------------------------
// Local web UI (gateway/src/web/)

const webSchema = strict({
  enabled: z.boolean().default(true),
  // All interfaces: the engineer on the station LAN is who the UI is for. Safe because HTTPS is
  // the default off loopback (below); loopback-only boxes set host: 127.0.0.1.
  host: z.string().min(1, { error: 'must not be empty' }).default('0.0.0.0'),
  // 0 picks a free port (tests, demos).
  port: int(0, 65535).default(8080),
  // Unset: HTTPS with a self-signed certificate unless host is a loopback address (web/start-web.ts).
  // false on a LAN address sends passwords and the session cookie in clear (warned at start).
  https: z.boolean().optional(),
  sessionTtlMs: int(60_000).default(8 * 3_600_000),
  // GET /api/live without a session or API token from any host, not only loopback (read-only data).
  liveReadOnlyPublic: z.boolean().default(false),
  // Names the box is reached by besides its IP addresses (DNS, mDNS: pump3.local): the Host
  // values plain HTTP on a LAN address accepts and the HTTP -> HTTPS redirect keeps
  // (web/host-allowlist.ts). Loopback HTTP accepts only 127.0.0.1, localhost and [::1].
  hostnames: z.array(z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\.?$/, { error: 'must be a host name (letters, digits, dots, hyphens)' })).max(32).default([]),
});

// ---------------------------------------------------------------------------------------
// ota (gateway/src/ota/README.md)

const otaTrustedKeySchema = strict({
  id: z.string().min(1),
  /** SPKI PEM, or base64 of the 32 raw Ed25519 public key bytes. */
  publicKey: z.string().min(1),
});

const otaSchema = strict({
  trustedKeys: z.array(otaTrustedKeySchema).min(1, { error: 'at least one trusted public key is needed to accept updates' }),
  /** Default <dataDir>/slots. */
  slotsDir: z.string().min(1).optional(),
  healthDeadlineMs: int(1000, 3_600_000).default(120_000),
  maxCrashes: int(1, 100).default(3),
  /** Offers of a larger bundle are refused before the download. */
  maxBundleBytes: byteSize.default(512 * MiB),
  /** Disk space an update must leave free (default log.maxBytes: the reading log can always grow to its cap). */
  diskReserveBytes: byteSize.optional(),
  /**
   * The slowest download an update waits for: a bundle must arrive within size / this rate
   * (at least 10 min), or the offer is given up and the install slot is free again.
   */
  minDownloadBytesPerSec: int(256, 1024 * 1024 * 1024).default(2048),
  /**
   * The URLs an unsigned offer names (manifestUrl, url) may point at this box itself or at
   * link-local addresses (169.254/16, fe80::/10: cloud metadata services). Off: refused.
   */
  allowLocalOfferUrls: z.boolean().default(false),
});

// ---------------------------------------------------------------------------------------
// commands (gateway/src/commands/README.md): signed commands over the MQTT downlink

const commandsSchema = strict({
  /** Center keys whose Ed25519 signature a command must carry (same key format as ota). */
  trustedKeys: z.array(otaTrustedKeySchema).min(1, { error: 'at least one trusted public key is needed to accept commands' }),
  /**
   * A command older than this (by its ts) is refused: a replayed or long-queued command must not
   * act. The acceptance window is ts - maxClockSkewMs .. ts + maxAgeMs; kept short (at most 1 h).
   */
  maxAgeMs: int(1000, 3_600_000).default(120_000),
  /** How far a command's ts may lie in the future (clock difference between center and box). */
  maxClockSkewMs: int(0, 300_000).default(30_000),
});

/**
 * The whole config file for this sink registry (north/registry.ts SINKS; a test composes its own
 * with a fixture sink, and hands it to the loader and the config service: load.ts ParseOptions).
 */
export function gatewayConfigSchemaFor(sinks: readonly [SinkDefinition, ...SinkDefinition[]]) {
  return strict({
    gateway: gatewaySchema,
    dataDir: z.string().min(1).default('./data'),
    // Secret and TLS files (passwordFile, tls.*, OPC UA auth files) may lie only under
    // <dataDir>/secrets, <dataDir>/tls and this folder (gateway/src/secrets.ts); the web API cannot change it.
    secretsDir: z.string().min(1).optional(),
    log: logSchema.prefault({}),
    // Deprecated single uplink (LEGACY_UPLINK_NOTE); `uplinks:` is the list of sinks.
    uplink: legacyUplinkSchema.optional(),
    uplinks: uplinksSchemaFor(sinks).optional(),
    devices: devicesSchema.default([]),
    web: webSchema.prefault({}),
    ota: otaSchema.optional(),
    commands: commandsSchema.optional(),
  })
    .superRefine((c, ctx) => {
      if (c.uplink !== undefined && c.uplinks !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['uplink'], message: 'give either `uplinks:` (the list) or the deprecated `uplink:`, not both' });
      } else if (c.uplink === undefined && c.uplinks === undefined) {
        ctx.addIssue({ code: 'custom', path: ['uplinks'], message: `is missing: list the uplinks (kind ${sinks.map((d) => d.kind).join(', ')}) the readings go to` });
      }
    })
    .transform(({ uplink, uplinks, ...rest }) => {
      const list: SinkConfig[] = uplinks ?? [uplink!];
      return {
        ...rest,
        /** Every configured sink; each one's name is its log cursor. */
        uplinks: list,
        /**
         * The first MQTT-family sink: the link the center's commands, update offers and resend
         * requests use (the downlink, the OTA agent), and the one the UI's uplink page edits.
         */
        uplink: list.find((u) => isBrokerSink(u, sinks))!,
        /** The file still has the single `uplink:` (said once at load, and in the config warnings). */
        legacyUplinkKey: uplink !== undefined,
      };
    });
}

export const gatewayConfigSchema = gatewayConfigSchemaFor(SINKS);

// ---------------------------------------------------------------------------------------
// Types (after defaults)

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
export type { DeviceConfig };
// Each driver's own device type, read off the union (the driver folders export the same types).
export type ModbusTcpDeviceConfig = Extract<DeviceConfig, { driver: 'modbus-tcp' }>;
export type ModbusRtuDeviceConfig = Extract<DeviceConfig, { driver: 'modbus-rtu' }>;
export type OpcuaDeviceConfig = Extract<DeviceConfig, { driver: 'opcua' }>;
export type OpcuaPointConfig = OpcuaDeviceConfig['points'][number];
/** A Modbus point (TCP and RTU devices have the same points). */
export type PointConfig = ModbusTcpDeviceConfig['points'][number];
/**
 * A broker-linked uplink (what `config.uplink` is): every registered sink's entry type that has
 * the broker fields (north/broker-link/link.ts BrokerSinkBase), read off the registry's union,
 * so a new broker sink is one without an edit here.
 */
export type UplinkConfig = Extract<SinkConfig, BrokerSinkBase>;
export type { SinkConfig };
export type LogConfig = z.output<typeof logSchema>;
export type WebConfig = z.output<typeof webSchema>;
export type OtaConfig = z.output<typeof otaSchema>;
export type CommandsConfig = z.output<typeof commandsSchema>;
/** What a config file may contain (before defaults). */
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
