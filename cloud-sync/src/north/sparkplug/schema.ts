/** Config of the Sparkplug B sink (one `uplinks:` entry of kind sparkplug; north/sparkplug/README.md). */
import { z } from 'zod';
import { int, sinkNameSchema, strict } from '../schema-kit.ts';
import { brokerShape, checkBroker } from '../broker-link/shape.ts';

/**
 * bdSeq is counted in the log (as a cursor that only grows), so it survives restarts: the number
 * of sessions established. A counter, not a sink's position (SinkDefinition.logCounters).
 */
export const BDSEQ_COUNTER = 'sparkplug-bdseq';

/** `<device>/<point>`, either part may be `*` (any): which points Sparkplug hosts may write by DCMD. */
const SPARKPLUG_WRITE_PATTERN = /^([a-z0-9][a-z0-9_-]{0,63}|\*)\/([a-z0-9][a-z0-9_-]{0,63}|\*)$/;

export const sparkplugOptionsSchema = strict({
  // Sparkplug requires DDATA at QoS 0 (tck-id-payloads-ddata-qos); 1 lets a host with a persistent
  // session get what the broker queued while it was away. Either way the log cursor moves only
  // after the broker provably processed the data.
  ddataQos: z.union([z.literal(0), z.literal(1)], { error: 'must be 0 (the Sparkplug rule) or 1' }).default(0),
  // Births wait this long for every device's first poll, so they carry current values.
  birthWaitMs: int(0, 600_000).default(10_000),
  // Sparkplug Host ID of the Primary Host Application: births wait for its STATE online; while it
  // is offline the node stays away and the data waits in the log (sent later as is_historical).
  primaryHostId: z.string().min(1).regex(/^[^+#/]+$/, { error: 'must not contain "/", "+" or "#": it is the last level of spBv1.0/STATE/<id>' }).optional(),
  // DCMD writes a host may make: points must also be `writable: true`. Empty: DCMD writes are refused.
  writes: z
    .array(z.string().regex(SPARKPLUG_WRITE_PATTERN, { error: 'must be <device>/<point>, either part may be * (e.g. pump-1/setpoint, pump-1/*)' }))
    .default([]),
  // A device takes one DCMD write at a time; this many may wait behind it, one more is refused
  // (answered with the unchanged value): a DCMD flood neither hammers the device nor grows memory.
  maxQueuedWrites: int(0, 1000).default(8),
  // Node Control/Rebirth requests are honoured at most once per this interval; requests inside
  // it fold into one rebirth at its end (every birth resends every metric of every device).
  rebirthMinIntervalMs: int(0, 3_600_000).default(5000),
});

/**
 * A Sparkplug B edge node on an MQTT broker (a local SCADA host). Its output has the shape of
 * every MQTT-family entry (codec 'sparkplug'), so the gateway reads all of them alike.
 */
export const sparkplugSinkSchema = strict({
  kind: z.literal('sparkplug'),
  name: sinkNameSchema,
  ...brokerShape,
  sparkplug: sparkplugOptionsSchema.prefault({}),
})
  .superRefine(checkBroker)
  // Sparkplug hosts do not confirm: the cursor moves on the broker's (proven) acknowledgement.
  .transform((v) => ({ ...v, codec: 'sparkplug' as const, ackMode: 'broker' as const }));
