import { datatypeOfPoint } from './datatypes.ts';

/** Sparkplug B 3.0 topic namespace: spBv1.0/<group>/<message type>/<edge node>[/<device>]. */
export const SPARKPLUG_NAMESPACE = 'spBv1.0';

export type NodeMessage = 'NBIRTH' | 'NDEATH' | 'NDATA' | 'NCMD';
export type DeviceMessage = 'DBIRTH' | 'DDEATH' | 'DDATA' | 'DCMD';

export function nodeTopic(group: string, type: NodeMessage, edgeNode: string): string {
  return `${SPARKPLUG_NAMESPACE}/${group}/${type}/${edgeNode}`;
}

export function deviceTopic(group: string, type: DeviceMessage, edgeNode: string, device: string): string {
  return `${SPARKPLUG_NAMESPACE}/${group}/${type}/${edgeNode}/${device}`;
}

export interface SparkplugTopic {
  group: string;
  type: string;
  edgeNode: string;
  device?: string;
}

/** null when the topic is not in the Sparkplug B namespace. */
export function parseSparkplugTopic(topic: string): SparkplugTopic | null {
  const parts = topic.split('/');
  if (parts[0] !== SPARKPLUG_NAMESPACE || parts.length < 4 || parts.length > 5 || parts.some((p) => p.length === 0)) return null;
  const [, group, type, edgeNode, device] = parts as [string, string, string, string, string | undefined];
  return device === undefined ? { group, type, edgeNode } : { group, type, edgeNode, device };
}

/** What births need of a gateway config's devices (structural, so cloud-sync does not import the gateway). */
export interface SparkplugDeviceShape {
  id: string;
  enabled: boolean;
  points: ReadonlyArray<{ id: string; type?: string; scale?: number; offset?: number }>;
}

/**
 * Birth metrics of every enabled device's points, datatypes from the config's `type`; a point
 * without one (OPC UA) gets the datatype its driver learns from the server, at its device's birth.
 */
export function sparkplugMetricDefs(devices: readonly SparkplugDeviceShape[]): Array<{ point: string; datatype?: number }> {
  return devices
    .filter((d) => d.enabled)
    .flatMap((d) =>
      d.points.map((p) => {
        const point = `${d.id}/${p.id}`;
        const datatype = datatypeOfPoint(p.type, (p.scale ?? 1) !== 1 || (p.offset ?? 0) !== 0);
        return datatype === undefined ? { point } : { point, datatype };
      }),
    );
}
