/**
 * Which fields of a config name secret or TLS files: the uplinks' (each sink's knowledge:
 * SinkDefinition.secretFiles, through cloud-sync's sink registry) and the devices' (each
 * driver's: DriverDefinition.secretFiles, through the driver registry). The files themselves
 * are confined and read by ../secrets.ts, which knows no config, no sink and no driver.
 */
import { sinkDefinition, SINKS, type SinkDefinition } from '@kedge/cloud-sync/north/registry.ts';
import { driverDefinition } from '../drivers/registry.ts';
import { secretPathProblem, secretRoots } from '../secrets.ts';

/** An uplink entry: its sink kind says which of its fields name files (the deprecated `uplink:` may omit it: mqtt). */
type SecretUplinkFields = { kind?: unknown; [field: string]: unknown };

export interface SecretFileRef {
  /** Field path as config issues name it (`uplink.tls.key`, `devices[2].auth.passwordFile`). */
  path: string;
  segments: Array<string | number>;
  file: string;
}

/** The config fields that name secret or TLS files, with their paths (as resolved by the loader). */
export function secretFilePaths(config: {
  uplink: SecretUplinkFields;
  /** Every configured uplink (config.uplink is one of them). */
  uplinks?: readonly SecretUplinkFields[] | undefined;
  legacyUplinkKey?: boolean | undefined;
  devices: ReadonlyArray<object>;
}, sinks: readonly SinkDefinition[] = SINKS as readonly SinkDefinition[]): SecretFileRef[] {
  const out: SecretFileRef[] = [];
  const add = (segments: Array<string | number>, file: unknown) => {
    const path = segments.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
    if (typeof file === 'string') out.push({ path, segments, file });
  };
  // Every uplink's files; the deprecated single `uplink:` is named as the file has it.
  const uplinks = config.uplinks && !config.legacyUplinkKey ? config.uplinks.map((u, i) => ({ u, at: ['uplinks', i] as Array<string | number> })) : [{ u: config.uplink, at: ['uplink'] as Array<string | number> }];
  // Which fields of an uplink name files is its sink's knowledge (SinkDefinition.secretFiles).
  for (const { u, at } of uplinks) {
    const files = sinkDefinition(String(u.kind ?? 'mqtt'), sinks)?.secretFiles?.(u as Record<string, unknown>) ?? [];
    for (const f of files) add([...at, ...f.segments], f.file);
  }
  // Which fields of a device name files is its driver's knowledge (DriverDefinition.secretFiles).
  config.devices.forEach((d, i) => {
    const files = driverDefinition(String((d as { driver?: unknown }).driver))?.secretFiles?.(d as Record<string, unknown>) ?? [];
    for (const f of files) add(['devices', i, ...f.segments], f.file);
  });
  return out;
}

/** Every secret or TLS file the config names outside the allowed folders, as config issues. */
export function secretPathIssues(
  config: Parameters<typeof secretFilePaths>[0] & Parameters<typeof secretRoots>[0],
  sinks?: readonly SinkDefinition[],
): Array<{ path: string; segments: Array<string | number>; message: string }> {
  const roots = secretRoots(config);
  return secretFilePaths(config, sinks).flatMap(({ path, segments, file }) => {
    const problem = secretPathProblem(file, roots);
    return problem ? [{ path, segments, message: problem }] : [];
  });
}

/**
 * Makes every secret or TLS file the config names absolute against `abs` (the config file's
 * folder), in place: the same fields the check and the readers see, whoever declares them.
 */
export function resolveSecretFiles(
  config: Parameters<typeof secretFilePaths>[0],
  abs: (file: string) => string,
  sinks?: readonly SinkDefinition[],
): void {
  for (const { segments, file } of secretFilePaths(config, sinks)) {
    let at = config as unknown as Record<string | number, unknown>;
    for (const s of segments.slice(0, -1)) at = at[s] as Record<string | number, unknown>;
    at[segments.at(-1)!] = abs(file);
  }
}
