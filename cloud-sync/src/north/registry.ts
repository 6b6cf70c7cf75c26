/**
 * Every kind of northbound sink, one line each: the gateway's `uplinks:` list accepts exactly
 * these kinds, each entry checked by its sink's own schema (north/<sink>/schema.ts), and the
 * gateway builds each entry through its definition's `create` (north/sink.ts), which loads the
 * implementation only then. Adding a sink = a new folder (index.ts exporting a SinkDefinition)
 * + one line here.
 */
import { z } from 'zod';
import { httpSink } from './http/index.ts';
import { mqttSink } from './mqtt/index.ts';
import { sparkplugSink } from './sparkplug/index.ts';
import type { SinkDefinition } from './sink.ts';
import type { CredentialBinding } from './credentials.ts';

export const SINKS = [mqttSink, sparkplugSink, httpSink] as const;

export type { NorthContext, NorthSink, SinkDefinition } from './sink.ts';

type Schemas<T extends ReadonlyArray<{ schema: unknown }>> = { -readonly [K in keyof T]: T[K]['schema'] };

/** The schemas of a sink list, in order (what a discriminated union on `kind` is built from). */
export function sinkSchemas<T extends ReadonlyArray<{ kind: string; schema: z.ZodType }>>(defs: T): Schemas<T> {
  const kinds = new Set<string>();
  for (const d of defs) {
    if (kinds.has(d.kind)) throw new Error(`two sinks registered as kind "${d.kind}"`);
    kinds.add(d.kind);
  }
  return defs.map((d) => d.schema) as Schemas<T>;
}

/** One `uplinks:` entry: which sink (`kind`) and its settings. */
export const sinkConfigSchema = z.discriminatedUnion('kind', sinkSchemas(SINKS));

export type SinkConfig = z.output<typeof sinkConfigSchema>;
export type SinkKind = SinkConfig['kind'];

/** The definition of `kind` in a sink list (the gateway's registry unless a test composes its own). */
export function sinkDefinition(kind: string, defs: readonly SinkDefinition[] = SINKS as readonly SinkDefinition[]): SinkDefinition | undefined {
  return defs.find((d) => d.kind === kind);
}

/** Where an entry's credentials go (SinkDefinition.credentialBinding); undefined when its sink holds none. */
export function sinkCredentialBinding(entry: { kind: string }, defs: readonly SinkDefinition[] = SINKS as readonly SinkDefinition[]): CredentialBinding | undefined {
  return sinkDefinition(entry.kind, defs)?.credentialBinding?.(entry as never);
}

/**
 * The most readings one batch of `entry` holds (SinkDefinition.batchReadings, else the window's
 * `batchMaxReadings`), always a finite integer >= 0: a sink without window fields reads 0, not
 * NaN (which sized the log's memory tail to nothing that could grow).
 */
export function sinkBatchReadings(entry: { kind: string }, defs: readonly SinkDefinition[] = SINKS as readonly SinkDefinition[]): number {
  const def = sinkDefinition(entry.kind, defs);
  const n = def?.batchReadings ? def.batchReadings(entry as never) : (entry as { batchMaxReadings?: unknown }).batchMaxReadings;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

/** Rows of the log's cursors table the sinks keep as counters, not positions. */
export function logCounters(defs: readonly SinkDefinition[] = SINKS as readonly SinkDefinition[]): string[] {
  return defs.flatMap((d) => d.logCounters ?? []);
}
