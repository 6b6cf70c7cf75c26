/** Config of the kedge MQTT sink (compact or json batches to the regional broker and center). */
import { z } from 'zod';
import { checkLiveFirstCodec, liveFirstFor, liveFirstOption } from '../live-first-codec.ts';
import { sinkNameSchema, strict } from '../schema-kit.ts';
import { sparkplugOptionsSchema, type sparkplugSinkSchema } from '../sparkplug/schema.ts';
import { brokerShape, checkBroker } from './broker-shape.ts';

const ackMode = z.enum(['center', 'broker']).default('center');

/** Sparkplug options as read from an entry that is not a Sparkplug sink: the defaults, never used. */
const SPARKPLUG_UNUSED = sparkplugOptionsSchema.parse({});

export const mqttSinkSchema = strict({
  kind: z.literal('mqtt'),
  name: sinkNameSchema,
  ...brokerShape,
  // compact: kedge-compact (cloud-sync/src/codec/COMPACT.md); json for debugging; compact-v2:
  // kedge-compact version 1/2 for a center not yet upgraded (live first off: it cannot mark live batches).
  codec: z.enum(['compact', 'json', 'compact-v2']).default('compact'),
  // Default on, off with codec compact-v2 (north/live-first-codec.ts).
  liveFirst: liveFirstOption,
  // center: the log forgets only what the center's ingest confirmed after a durable commit
  // (kedge-ack/1 on .../ack); broker: on the broker's PUBACK, for consumers that do not
  // confirm (a broker crash can then lose what it acknowledged).
  ackMode,
})
  .superRefine(checkBroker)
  .superRefine(checkLiveFirstCodec)
  // Every MQTT-family entry has the same shape, so the gateway reads them alike.
  .transform((v) => ({ ...v, liveFirst: liveFirstFor(v.codec, v.liveFirst), sparkplug: SPARKPLUG_UNUSED }));

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
  ackMode,
  // Only read with codec: sparkplug (cloud-sync/src/sparkplug/README.md).
  sparkplug: sparkplugOptionsSchema.prefault({}),
})
  .superRefine(checkBroker)
  .superRefine(checkLiveFirstCodec)
  .transform(({ codec, liveFirst, ...rest }): BrokerSinkConfig => {
    const v = { ...rest, liveFirst: liveFirstFor(codec, liveFirst) };
    return codec === 'sparkplug'
      ? // Sparkplug hosts do not confirm (the gateway always used broker mode for them).
        { kind: 'sparkplug', name: 'uplink', ...v, codec, ackMode: 'broker' }
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

/** One MQTT-family entry after defaults (kind mqtt or sparkplug). */
export type BrokerSinkConfig = z.output<typeof mqttSinkSchema> | z.output<typeof sparkplugSinkSchema>;
