/**
 * Which fields of a sink entry name secret or TLS files (SinkDefinition.secretFiles): the
 * gateway confines those files to its secrets folders and makes their paths absolute against
 * the config file's folder, knowing no sink's fields itself.
 */

/** One field of an entry that may name a file: where it is in the entry, and its value (a path, or absent). */
export interface SecretFileField {
  segments: string[];
  file: unknown;
}

/** The entry's top-level fields `names` (passwordFile, tokenFile, ...). */
export function fieldFiles(entry: Record<string, unknown>, ...names: string[]): SecretFileField[] {
  return names.map((n) => ({ segments: [n], file: entry[n] }));
}

/** The PEM files of the entry's `tls` block (schema-kit tlsSchema). */
export function tlsFiles(entry: Record<string, unknown>): SecretFileField[] {
  const tls = entry['tls'] as Record<string, unknown> | undefined;
  return (['ca', 'cert', 'key'] as const).map((k) => ({ segments: ['tls', k], file: tls?.[k] }));
}
