/**
 * The deprecated single `uplink:` section of older configs, read as the `uplinks:` entry it
 * stands for and written back. That section was only ever a kedge MQTT or a Sparkplug uplink
 * (its `codec` chose), and no new sink will ever be written there, so this file names those two
 * sinks' schemas: besides registry.ts, the one file outside the sink folders that imports them
 * (sink-layers.test.ts). The sink folders themselves import no sibling.
 */
import { z } from 'zod';
import { checkLiveFirstCodec, liveFirstFor, liveFirstOption } from './live-first-codec.ts';
import { strict } from './schema-kit.ts';
import { brokerShape, checkBroker } from './broker-link/shape.ts';
import { ackModeOption, type mqttSinkSchema } from './mqtt/schema.ts';
import { sparkplugOptionsSchema, type sparkplugSinkSchema } from './sparkplug/schema.ts';

/** The entry a legacy section reads as (kind mqtt or sparkplug, name "uplink"). */
export type LegacyUplinkEntry = z.output<typeof mqttSinkSchema> | z.output<typeof sparkplugSinkSchema>;

/**
 * The single `uplink:` section of older configs (deprecated): read as one MQTT-family entry named
 * "uplink" (the name of its log cursor since the beginning), kind from its codec.
 */
export const legacyUplinkSchema = strict({
  ...brokerShape,
  // compact: kedge-compact (cloud-sync/src/codec/COMPACT.md); json for debugging; sparkplug: spBv1.0 topics for SCADA hosts;
  // compact-v2: kedge-compact version 1/2 for a center not yet upgraded (live first off).
  codec: z.enum(['compact', 'json', 'sparkplug', 'compact-v2']).default('compact'),
  liveFirst: liveFirstOption,
  ackMode: ackModeOption,
  // Only read with codec: sparkplug (north/sparkplug/README.md).
  sparkplug: sparkplugOptionsSchema.prefault({}),
})
  .superRefine(checkBroker)
  .superRefine(checkLiveFirstCodec)
  .transform(({ codec, liveFirst, sparkplug, ...rest }): LegacyUplinkEntry => {
    const v = { ...rest, liveFirst: liveFirstFor(codec, liveFirst) };
    return codec === 'sparkplug'
      ? // Sparkplug hosts do not confirm (the gateway always used broker mode for them).
        { kind: 'sparkplug', name: 'uplink', ...v, sparkplug, codec, ackMode: 'broker' }
      : { kind: 'mqtt', name: 'uplink', ...v, codec };
  });

/**
 * The `uplink:` section as written (no defaults) read as the `uplinks:` entry it stands for,
 * and back: the web UI edits it with its kind's form and writes it where it was.
 */
export function legacySectionAsEntry(section: Record<string, unknown>): Record<string, unknown> {
  const { codec, ackMode, ...rest } = section;
  if (codec === 'sparkplug') return { name: 'uplink', kind: 'sparkplug', ...rest };
  return { name: 'uplink', kind: 'mqtt', ...rest, ...(codec !== undefined ? { codec } : {}), ...(ackMode !== undefined ? { ackMode } : {}) };
}

/** An entry as the `uplink:` section (its kind as the codec, no name); null for a kind the section cannot be. */
export function entryAsLegacySection(entry: Record<string, unknown>): Record<string, unknown> | null {
  const { name: _name, kind, ...rest } = entry;
  if (kind === 'sparkplug') return { ...rest, codec: 'sparkplug' };
  return kind === 'mqtt' ? rest : null;
}
