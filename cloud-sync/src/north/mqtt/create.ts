import { sinkCodecByName } from '../../codec/sink-codecs.ts';
import type { NorthContext, NorthSink } from '../sink.ts';
import type { mqttSinkSchema } from './schema.ts';
import { sessionOptions } from '../broker-link/session-options.ts';
import { Uplink } from './uplink.ts';
import type { z } from 'zod';

/**
 * The kedge MQTT sink of one `uplinks:` entry (loaded by mqtt/index.ts on create): batches in
 * its codec on `<prefix>/<region>/<municipality>/<gateway>/data`, the retained birth with the
 * box's state and every point's metadata on .../status.
 */
export function createMqttSink(u: z.output<typeof mqttSinkSchema>, ctx: NorthContext): NorthSink {
  const g = ctx.gateway;
  const uplink = new Uplink({
    ...sessionOptions(u, ctx),
    // kedge's ingest confirms (center mode); a third-party consumer does not (broker mode).
    ackMode: u.ackMode,
    resendAfterSilenceMs: u.resendAfterSilenceMs,
    identity: { prefix: u.topicPrefix, region: g.region, municipality: g.municipality, gateway: g.id },
    codec: sinkCodecByName(u.codec),
    birth: () => {
      const box = ctx.box();
      return {
        version: box.version,
        ota: box.ota ?? undefined,
        name: g.name,
        lastSeq: ctx.log.lastSeq(),
        // What this uplink never got because the log evicted it (another uplink may have had it).
        evictedTotal: ctx.log.sinkEvicted(u.name),
        // The box's own judgement of its wall clock; re-sent when it changes (the gateway's rebirth).
        clock: box.clock,
        // How this log came to be: a reset (damaged or missing file) names the previous epoch and why.
        log: ctx.log.identity,
        points: ctx.south
          .devices()
          .filter((d) => d.enabled)
          // unit is the UCUM code (normalized at config load); type tells the center how to read values.
          .flatMap((d) =>
            d.points.map((p) => {
              const type = ctx.south.pointType(d.id, p.id);
              return { point: `${d.id}/${p.id}`, unit: p.unit, name: p.name, writable: p.writable, ...(type === undefined ? {} : { type }) };
            }),
          ),
      };
    },
  });
  return {
    start: () => uplink.start(),
    stop: (drainMs) => uplink.stop(drainMs),
    status: () => uplink.status(),
    rebirth: () => uplink.rebirth(),
    // The birth lists every point's type: a type learnt later (OPC UA DataType) goes out in a new one.
    pointTypesLearnt: () => void uplink.rebirth(),
    resend: (first, last) => uplink.resend(first, last),
  };
}
