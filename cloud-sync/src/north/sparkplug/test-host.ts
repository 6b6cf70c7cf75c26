import { createRequire } from 'node:module';
import mqtt from 'mqtt';

/**
 * A minimal Sparkplug host for tests: subscribes to spBv1.0/#, decodes every message with
 * Eclipse Tahu's decoder (npm sparkplug-payload), independent of kedge's own protobuf code,
 * and reads DDATA/DCMD metrics sent without a datatype (as Sparkplug asks) by the datatype their
 * alias was born with, as a real host does.
 */

const require = createRequire(import.meta.url);
interface TahuMetric {
  name?: string;
  alias?: unknown;
  timestamp?: unknown;
  type?: string;
  value: unknown;
  isHistorical?: boolean;
  properties?: Record<string, { type: string; value: unknown }>;
}
interface TahuPayload {
  timestamp?: unknown;
  seq?: unknown;
  metrics?: TahuMetric[];
}
const tahu = (require('sparkplug-payload') as { get(ns: string): { decodePayload(b: Uint8Array): TahuPayload; encodePayload(p: object): Uint8Array } }).get('spBv1.0');
interface RawMetric {
  datatype?: number;
  hasOwnProperty(k: string): boolean;
}
const TahuProto = (require('sparkplug-payload/lib/sparkplugPayloadProto') as {
  org: { eclipse: { tahu: { protobuf: { Payload: { decode(b: Uint8Array): { metrics: RawMetric[] }; encode(p: object): { finish(): Uint8Array } } } } } };
}).org.eclipse.tahu.protobuf.Payload;

export { tahu };

/** Tahu gives 64-bit values as Long objects and some numbers as Long too: plain numbers (or bigint beyond 2^53). */
export function plain(v: unknown): unknown {
  if (v !== null && typeof v === 'object' && 'low' in v && 'high' in v && 'unsigned' in v) {
    const big = BigInt((v as { toString(): string }).toString());
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }
  return v;
}

export interface HostMetric {
  name?: string;
  alias?: number;
  timestamp?: number;
  /** Datatype name (from the wire, or from the birth for DDATA). */
  type?: string;
  value: unknown;
  isHistorical: boolean;
  /** The Quality property, when present. */
  quality?: number;
  /** Every property as Tahu decoded it. */
  properties?: Record<string, { type: string; value: unknown }>;
  /** Whether the datatype was on the wire. */
  datatypeOnWire: boolean;
}

export interface HostMessage {
  topic: string;
  type: string;
  device?: string;
  qos: number;
  retain: boolean;
  timestamp?: number;
  seq?: number;
  metrics: HostMetric[];
  raw: Buffer;
  /** Why Tahu could not decode the payload. */
  error?: string;
  /** The host's wall clock when the message arrived (an upper bound of its publish time). */
  receivedAt: number;
}

const TYPE_CODES: Record<string, number> = {
  Int8: 1, Int16: 2, Int32: 3, Int64: 4, UInt8: 5, UInt16: 6, UInt32: 7, UInt64: 8, Float: 9, Double: 10, Boolean: 11, String: 12, DateTime: 13, Text: 14,
};

export class TestHost {
  readonly got: HostMessage[] = [];
  /** alias -> datatype name, per edge node, from the births (what a host remembers). */
  private readonly born = new Map<number, string>();
  private readonly waiters = new Set<() => void>();

  private constructor(readonly client: mqtt.MqttClient) {}

  static async connect(url: string, filter = 'spBv1.0/#'): Promise<TestHost> {
    const client = await mqtt.connectAsync(url, { clientId: `host-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
    const host = new TestHost(client);
    client.on('message', (topic, payload, packet) => host.receive(topic, payload, packet.qos, packet.retain));
    await client.subscribeAsync(filter, { qos: 1 });
    return host;
  }

  decode(topic: string, payload: Buffer): Omit<HostMessage, 'qos' | 'retain' | 'receivedAt'> {
    const [, , type = '', , device] = topic.split('/');
    const raw = TahuProto.decode(payload);
    const missing = raw.metrics.map((m) => !m.hasOwnProperty('datatype'));
    let decoded = tahu.decodePayload(payload);
    if (missing.some(Boolean)) {
      // Fill in the born datatype and let Tahu decode the value with it.
      const p = decoded.metrics ?? [];
      raw.metrics.forEach((m, i) => {
        if (!missing[i]) return;
        const t = this.born.get(Number(plain(p[i]?.alias)));
        if (t !== undefined) m.datatype = TYPE_CODES[t];
      });
      decoded = tahu.decodePayload(TahuProto.encode(raw).finish());
    }
    const metrics = (decoded.metrics ?? []).map((m, i): HostMetric => {
      const out: HostMetric = { value: plain(m.value), isHistorical: m.isHistorical === true, datatypeOnWire: !missing[i] };
      if (m.name !== undefined) out.name = m.name;
      if (m.alias !== undefined) out.alias = Number(plain(m.alias));
      if (m.timestamp !== undefined) out.timestamp = Number(plain(m.timestamp));
      if (m.type !== undefined) out.type = m.type;
      if (m.properties) {
        out.properties = m.properties;
        if (m.properties.Quality) out.quality = Number(plain(m.properties.Quality.value));
      }
      return out;
    });
    if (type === 'NBIRTH' || type === 'DBIRTH') for (const m of metrics) if (m.alias !== undefined && m.type) this.born.set(m.alias, m.type);
    const msg: Omit<HostMessage, 'qos' | 'retain' | 'receivedAt'> = { topic, type, metrics, raw: payload };
    if (device !== undefined) msg.device = device;
    if (decoded.timestamp !== undefined && decoded.timestamp !== null) msg.timestamp = Number(plain(decoded.timestamp));
    if (decoded.seq !== undefined && decoded.seq !== null) msg.seq = Number(plain(decoded.seq));
    return msg;
  }

  private receive(topic: string, payload: Buffer, qos: number, retain: boolean): void {
    if (!topic.startsWith('spBv1.0/')) return;
    const receivedAt = Date.now();
    try {
      this.got.push({ ...this.decode(topic, payload), qos, retain, receivedAt });
    } catch (err) {
      // Not Sparkplug (a test's own garbage, a STATE message): kept, undecoded.
      this.got.push({ topic, type: topic.split('/')[2] ?? '', metrics: [], raw: payload, qos, retain, receivedAt, error: (err as Error).message });
    }
    for (const w of this.waiters) w();
  }

  ofType(type: string, device?: string): HostMessage[] {
    return this.got.filter((m) => m.type === type && (device === undefined || m.device === device));
  }

  /** Resolves once `check` holds for what has been received (checked on every message). */
  until<T>(check: (got: HostMessage[]) => T | undefined | false, what: string, timeoutMs = 20_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const test = () => {
        const r = check(this.got);
        if (r !== undefined && r !== false) {
          this.waiters.delete(test);
          clearTimeout(timer);
          resolve(r);
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(test);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${this.got.map((m) => m.topic).join(', ')}`));
      }, timeoutMs);
      this.waiters.add(test);
      test();
    });
  }

  /** Publishes a command (NCMD/DCMD) encoded with Tahu's encoder, as a host would. */
  async command(topic: string, metrics: Array<{ name?: string; alias?: number; type: string; value: unknown }>): Promise<void> {
    const payload = tahu.encodePayload({ timestamp: Date.now(), metrics });
    await this.client.publishAsync(topic, Buffer.from(payload), { qos: 0 });
  }

  close(): Promise<void> {
    return this.client.endAsync(true);
  }
}
