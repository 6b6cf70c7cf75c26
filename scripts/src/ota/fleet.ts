/**
 * Fleet view and staged rollouts from the retained MQTT messages: every gateway's birth or
 * last-will on `<prefix>/+/+/+/status` and its OTA state on `<prefix>/+/+/+/ota/status`.
 */
import { createHash, type KeyObject } from 'node:crypto';
import mqtt from 'mqtt';
import { signOffer, type UnsignedOffer } from '@kedge/gateway/ota/offer.ts';

export interface FleetEntry {
  region: string;
  municipality: string;
  gateway: string;
  online: string;
  version: string | null;
  ota: { state?: string; target?: string | null; lastError?: string | null; progress?: { received: number; total: number } | null; lastRollback?: { version: string; reason?: string } | null } | null;
}

export interface BrokerOptions {
  url: string;
  prefix?: string;
  username?: string;
  password?: string;
  /** How long to collect retained messages; default 2 s. */
  waitMs?: number;
}

const key = (r: string, m: string, g: string) => `${r}/${m}/${g}`;

export async function collectFleet(o: BrokerOptions): Promise<FleetEntry[]> {
  const prefix = o.prefix ?? 'kedge/v1';
  const client = await mqtt.connectAsync(o.url, { username: o.username, password: o.password, reconnectPeriod: 0, clientId: `kedge-ota-${process.pid}-${Date.now()}` });
  const fleet = new Map<string, FleetEntry>();
  const entry = (r: string, m: string, g: string) => {
    const k = key(r, m, g);
    let e = fleet.get(k);
    if (!e) fleet.set(k, (e = { region: r, municipality: m, gateway: g, online: 'unknown', version: null, ota: null }));
    return e;
  };
  client.on('message', (topic, payload) => {
    if (payload.length === 0) return;
    const parts = topic.slice(prefix.length + 1).split('/');
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
    } catch {
      return;
    }
    const [r, m, g, ...rest] = parts as [string, string, string, ...string[]];
    const e = entry(r, m, g);
    if (rest.join('/') === 'status') {
      e.online = typeof msg.state === 'string' ? msg.state : 'unknown';
      if (typeof msg.version === 'string') e.version = msg.version;
      if (msg.ota && typeof msg.ota === 'object' && !e.ota) e.ota = msg.ota as FleetEntry['ota'];
    } else if (rest.join('/') === 'ota/status') {
      e.ota = msg as FleetEntry['ota'];
      if (typeof msg.version === 'string' && !e.version) e.version = msg.version;
    }
  });
  await client.subscribeAsync([`${prefix}/+/+/+/status`, `${prefix}/+/+/+/ota/status`], { qos: 1 });
  await new Promise((r) => setTimeout(r, o.waitMs ?? 2000));
  await client.endAsync();
  return [...fleet.values()].sort((a, b) => key(a.region, a.municipality, a.gateway).localeCompare(key(b.region, b.municipality, b.gateway)));
}

export function formatFleet(entries: FleetEntry[]): string {
  const rows = entries.map((e) => {
    const ota = e.ota;
    let detail = '';
    if (ota?.state === 'failed') detail = ota.lastError ?? '';
    else if (ota?.progress && ota.state === 'downloading') detail = `${Math.floor((ota.progress.received / ota.progress.total) * 100)}%`;
    if (ota?.lastRollback) detail = `${detail ? `${detail}; ` : ''}rolled back ${ota.lastRollback.version}: ${ota.lastRollback.reason ?? ''}`;
    return [`${e.region}/${e.municipality}/${e.gateway}`, e.online, e.version ?? '?', ota?.state ?? '-', ota?.target ?? '', detail];
  });
  const head = ['GATEWAY', 'STATUS', 'VERSION', 'OTA', 'TARGET', 'DETAIL'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

/** Stable bucket 0..99 of a gateway: the same boxes are in the first 10 % every time. */
export function rolloutBucket(gatewayPath: string): number {
  return createHash('sha256').update(gatewayPath).digest().readUInt32BE(0) % 100;
}

export function selectForRollout<T extends { region: string; municipality: string; gateway: string }>(entries: T[], percent: number): T[] {
  if (!(percent >= 0 && percent <= 100)) throw new Error(`--percent must be 0..100 (got ${percent})`);
  return entries.filter((e) => rolloutBucket(key(e.region, e.municipality, e.gateway)) < percent);
}

export interface RolloutOptions extends BrokerOptions {
  percent: number;
  offer: UnsignedOffer;
  /**
   * Signs one offer per gateway (with its target) with an OTA key the gateways trust. Without
   * it the offer must carry manifestUrl: gateways refuse unsigned offers that have none.
   */
  signer?: { keyId: string; privateKey: KeyObject };
}

/** Publishes the retained offer to the selected gateways; repeat with a higher percent to widen. */
export async function rollout(o: RolloutOptions): Promise<{ selected: FleetEntry[]; total: number }> {
  if (!o.signer && !o.offer.manifestUrl) {
    throw new Error('an offer must be signed (--key) or carry --manifest-url: gateways refuse anything else without downloading it');
  }
  const prefix = o.prefix ?? 'kedge/v1';
  const fleet = await collectFleet(o);
  const selected = selectForRollout(fleet, o.percent);
  const client = await mqtt.connectAsync(o.url, { username: o.username, password: o.password, reconnectPeriod: 0, clientId: `kedge-ota-rollout-${process.pid}` });
  for (const e of selected) {
    const target = { region: e.region, municipality: e.municipality, gateway: e.gateway };
    const offer = o.signer ? signOffer({ ...o.offer, target }, o.signer.keyId, o.signer.privateKey) : o.offer;
    await client.publishAsync(`${prefix}/${e.region}/${e.municipality}/${e.gateway}/ota`, JSON.stringify(offer), { qos: 1, retain: true });
  }
  await client.endAsync();
  return { selected, total: fleet.length };
}
