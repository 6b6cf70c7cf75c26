/** Config of the kedge MQTT sink (compact or json batches to the regional broker and center). */
import { z } from 'zod';
import { checkLiveFirstCodec, liveFirstFor, liveFirstOption } from '../live-first-codec.ts';
import { sinkNameSchema, strict } from '../schema-kit.ts';
import { brokerShape, checkBroker } from '../broker-link/shape.ts';

/** Who lets the log forget (broker-link/link.ts AckMode); the deprecated `uplink:` section has it too (../legacy-uplink.ts). */
export const ackModeOption = z.enum(['center', 'broker']).default('center');

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
  ackMode: ackModeOption,
})
  .superRefine(checkBroker)
  .superRefine(checkLiveFirstCodec)
  .transform((v) => ({ ...v, liveFirst: liveFirstFor(v.codec, v.liveFirst) }));
