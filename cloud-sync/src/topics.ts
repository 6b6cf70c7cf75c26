/** Where a gateway's messages go: `<prefix>/<region>/<municipality>/<gateway>/<kind>`. */
export interface GatewayIdentity {
  prefix: string;
  region: string;
  municipality: string;
  gateway: string;
}

/** data and status go up; ack comes down (the center's confirmation, cloud-sync/src/center-ack.ts). */
export type TopicKind = 'data' | 'status' | 'ack';

export function topicFor(id: GatewayIdentity, kind: TopicKind): string {
  return `${id.prefix}/${id.region}/${id.municipality}/${id.gateway}/${kind}`;
}

/** Subscription filter for every gateway's messages of one kind under a prefix. */
export function filterFor(prefix: string, kind: TopicKind): string {
  return `${prefix}/+/+/+/${kind}`;
}

/** Parses a topic built by topicFor; null when it does not belong to the prefix. */
export function parseTopic(prefix: string, topic: string): (GatewayIdentity & { kind: string }) | null {
  if (!topic.startsWith(`${prefix}/`)) return null;
  const parts = topic.slice(prefix.length + 1).split('/');
  if (parts.length !== 4 || parts.some((p) => p.length === 0)) return null;
  const [region, municipality, gateway, kind] = parts as [string, string, string, string];
  return { prefix, region, municipality, gateway, kind };
}
