import { DataType } from './payload.ts';

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

/** The Sparkplug datatype of a configured point: scaled values are doubles whatever the register type. */
export function sparkplugTypeName(pointType: string, scaled: boolean): 'Boolean' | 'String' | 'Float' | 'Double' | 'Int16' | 'UInt16' | 'Int32' | 'UInt32' | 'Int64' | 'UInt64' {
  if (pointType === 'bool' || pointType === 'bit') return 'Boolean';
  if (pointType === 'string') return 'String';
  if (scaled || pointType === 'float64') return 'Double';
  switch (pointType) {
    case 'float32':
      return 'Float';
    case 'int16':
      return 'Int16';
    case 'uint16':
      return 'UInt16';
    case 'int32':
      return 'Int32';
    case 'uint32':
      return 'UInt32';
    case 'int64':
      return 'Int64';
    case 'uint64':
      return 'UInt64';
    default:
      return 'Double';
  }
}

/** What births need of a gateway config's devices (structural, so cloud-sync does not import the gateway). */
export interface SparkplugDeviceShape {
  id: string;
  enabled: boolean;
  points: ReadonlyArray<{ id: string; type?: string; scale?: number; offset?: number }>;
}

/** Birth metrics of every enabled device's points; points without a declared type are born with their first value. */
export function sparkplugMetricDefs(devices: readonly SparkplugDeviceShape[]): Array<{ point: string; datatype?: number }> {
  return devices
    .filter((d) => d.enabled)
    .flatMap((d) =>
      d.points.map((p) => {
        const point = `${d.id}/${p.id}`;
        if (p.type === undefined) return { point };
        const scaled = (p.scale ?? 1) !== 1 || (p.offset ?? 0) !== 0;
        return { point, datatype: DataType[sparkplugTypeName(p.type, scaled)] };
      }),
    );
}
