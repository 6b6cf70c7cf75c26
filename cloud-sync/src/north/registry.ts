/**
 * Every kind of northbound sink, one line each: the gateway's `uplinks:` list accepts exactly
 * these kinds, each entry checked by its sink's own schema (north/<sink>/schema.ts), and the
 * gateway builds each entry by its kind. Adding a sink = a new folder + one line here.
 */
import { z } from 'zod';
import { httpSinkDefinition } from './http/schema.ts';
import { mqttSinkDefinition } from './mqtt/schema.ts';
import { sparkplugSinkDefinition } from './sparkplug/schema.ts';

export const SINKS = [mqttSinkDefinition, sparkplugSinkDefinition, httpSinkDefinition] as const;

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
