import type { z } from 'zod';
import { sparkplugMetricDefs } from './topics.ts';
import { sessionOptions } from '../broker-link/session-options.ts';
import type { NorthContext, NorthSink } from '../sink.ts';
import type { sparkplugSinkSchema } from './schema.ts';
import { SparkplugUplink } from './sparkplug-uplink.ts';
import { sparkplugWriter, SouthSparkplugDevices } from './south-devices.ts';

/**
 * The Sparkplug B edge node of one `uplinks:` entry (loaded by sparkplug/index.ts on create, with
 * protobufjs): spBv1.0/<municipality>/{NBIRTH,DDATA,...}/<gateway id>/<device id>
 * (north/sparkplug/README.md). Its births list every device of the config, which is
 * why its definition says dependsOnDevices.
 */
export function createSparkplugSink(u: z.output<typeof sparkplugSinkSchema>, ctx: NorthContext): NorthSink {
  const uplink = new SparkplugUplink({
    ...sessionOptions(u, ctx),
    group: ctx.gateway.municipality,
    edgeNode: ctx.gateway.id,
    metrics: sparkplugMetricDefs(ctx.south.devices()),
    // Device presence, current values and point types, and DCMD writes through the gateway's write path.
    devices: new SouthSparkplugDevices(ctx.south, { birthWaitMs: u.sparkplug.birthWaitMs }),
    write: sparkplugWriter(ctx.south, u.sparkplug.writes),
    ddataQos: u.sparkplug.ddataQos,
    birthWaitMs: u.sparkplug.birthWaitMs,
    primaryHostId: u.sparkplug.primaryHostId,
    maxQueuedWritesPerDevice: u.sparkplug.maxQueuedWrites,
    rebirthMinIntervalMs: u.sparkplug.rebirthMinIntervalMs,
  });
  return {
    start: () => uplink.start(),
    stop: (drainMs) => uplink.stop(drainMs),
    status: () => uplink.status(),
    rebirth: () => uplink.rebirth(),
    // Datatypes are fixed per birth: only a born device whose types changed is born again.
    pointTypesLearnt: (deviceId) => void uplink.pointTypesLearnt(deviceId),
  };
}
