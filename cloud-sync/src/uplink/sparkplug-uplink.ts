import type { MqttClient } from 'mqtt';
import type { LogRecord, Value } from '../model.ts';
import { DataType, dataTypeFor, decodePayload, encodePayload, valueFits, type SpMetric } from '../sparkplug/payload.ts';
import { deviceTopic, nodeTopic } from '../sparkplug/topics.ts';
import { LogPublisher, type LogPublisherOptions, type Message, type Session, type StatusMessage, type UplinkStatus } from './log-publisher.ts';

/**
 * A point the edge node announces in its births: `<device>/<point>` and its Sparkplug datatype.
 * Without a datatype (a driver that learns types at run time) the point is born with its first
 * reading's type, in a fresh DBIRTH of its device.
 */
export interface SparkplugMetricDef {
  point: string;
  datatype?: number;
}

export interface SparkplugUplinkOptions extends LogPublisherOptions {
  /** Sparkplug group id (kedge: the municipality). */
  group: string;
  /** Sparkplug edge node id (kedge: the gateway id). */
  edgeNode: string;
  metrics: SparkplugMetricDef[];
  /** Readings older than this when sent are flagged is_historical (they come from the backlog). */
  liveWindowMs?: number;
  now?: () => number;
}

interface MetricState {
  alias: number;
  name: string;
  device: string;
  datatype: number;
  last: Value;
}

export const REBIRTH_METRIC = 'Node Control/Rebirth';
const REBIRTH_ALIAS = 1;
/** bdSeq is counted in the log (as a cursor that only grows), so it survives restarts. */
const BDSEQ_COUNTER = 'sparkplug-bdseq';

/**
 * The uplink for SCADA hosts (Ignition and others) speaking Sparkplug B 3.0. Reads the same
 * log by the same cursor rules as the kedge uplink: DDATA is published at QoS 1 and the cursor
 * advances only when every DDATA of a batch, and every batch before it, has its PUBACK.
 *
 * Deviation from the specification, on purpose: Sparkplug wants DDATA at QoS 0. kedge's
 * no-loss rule needs an acknowledgement before the log may consider a reading delivered, and
 * brokers accept QoS 1 on these topics; hosts read QoS 1 messages like any other.
 */
export class SparkplugUplink {
  private readonly o: SparkplugUplinkOptions & Required<Pick<SparkplugUplinkOptions, 'liveWindowMs' | 'now'>>;
  private readonly publisher: LogPublisher;
  private readonly metrics = new Map<string, MetricState>();
  private readonly devices = new Map<string, MetricState[]>();
  private seq = 0;
  private bdSeq = 0;
  /** The session whose births went out: DDATA never precedes its births. */
  private born: Session | null = null;
  /** Births published since start (for status and tests). */
  births = 0;

  constructor(options: SparkplugUplinkOptions) {
    this.o = { liveWindowMs: 60_000, now: Date.now, ...options };
    for (const m of options.metrics) if (m.datatype !== undefined) this.define(m.point, m.datatype);
    this.publisher = new LogPublisher(options, {
      label: 'sparkplug uplink',
      will: () => this.nextSessionWill(),
      connectedInfo: () => ({ bdSeq: this.bdSeq }),
      onOnline: (session) => this.onOnline(session),
      onMessage: (session, topic, payload) => {
        if (topic === this.ncmdTopic) this.onCommand(session.client, payload);
      },
      canSend: () => this.born?.live() ?? false,
      encode: (session, records) => this.encode(session.client, records),
      goodbye: () => ({ topic: nodeTopic(this.o.group, 'NDEATH', this.o.edgeNode), payload: this.deathPayload(), retain: false }),
    });
  }

  private define(point: string, datatype: number): MetricState {
    const slash = point.indexOf('/');
    if (slash <= 0 || slash === point.length - 1) throw new Error(`sparkplug: point key "${point}" is not <device>/<point>`);
    const state: MetricState = {
      alias: REBIRTH_ALIAS + 1 + this.metrics.size,
      device: point.slice(0, slash),
      name: point.slice(slash + 1),
      datatype,
      last: null,
    };
    this.metrics.set(point, state);
    const list = this.devices.get(state.device) ?? [];
    list.push(state);
    this.devices.set(state.device, list);
    return state;
  }

  get ncmdTopic(): string {
    return nodeTopic(this.o.group, 'NCMD', this.o.edgeNode);
  }

  /** Current birth/death sequence (0..255). */
  get currentBdSeq(): number {
    return this.bdSeq;
  }

  start(): void {
    this.publisher.start();
  }

  /** NBIRTH and every DBIRTH again (as for an NCMD rebirth); false when offline. */
  rebirth(): boolean {
    const client = this.publisher.onlineClient();
    if (!client) return false;
    this.publishBirths(client);
    return true;
  }

  status(): UplinkStatus {
    return this.publisher.status();
  }

  /** Drains for up to `drainMs`, then says NDEATH (a clean goodbye carries the same bdSeq as the Will) and disconnects. */
  stop(drainMs = 0): Promise<void> {
    return this.publisher.stop(drainMs);
  }

  private nextSeq(): number {
    const s = this.seq;
    this.seq = (this.seq + 1) % 256;
    return s;
  }

  private deathPayload(): Buffer {
    return encodePayload({
      timestamp: this.o.now(),
      metrics: [{ name: 'bdSeq', datatype: DataType.Int64, value: this.bdSeq }],
    });
  }

  /**
   * A new MQTT session gets the next bdSeq; the Will carries it so the host can pair the
   * NDEATH with the NBIRTH it cancels.
   */
  private nextSessionWill(): StatusMessage {
    const count = this.o.log.cursor(BDSEQ_COUNTER) + 1;
    this.o.log.advance(BDSEQ_COUNTER, count);
    this.bdSeq = (count - 1) % 256;
    return { topic: nodeTopic(this.o.group, 'NDEATH', this.o.edgeNode), payload: this.deathPayload(), retain: false };
  }

  private onOnline(session: Session): void {
    // Commands must be subscribed before the birth, or a host's immediate rebirth request is lost.
    session.client.subscribe([this.ncmdTopic], { qos: 0 }, (err) => {
      if (!session.live()) return;
      if (err) this.o.logger.warn({ err: err.message }, 'NCMD subscription failed');
      this.born = session;
      this.publishBirths(session.client);
      session.pump();
    });
  }

  private onCommand(client: MqttClient, payload: Buffer): void {
    let metrics: SpMetric[];
    try {
      metrics = decodePayload(payload).metrics;
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'NCMD not decodable: ignored');
      return;
    }
    const rebirth = metrics.some((m) => (m.name === REBIRTH_METRIC || m.alias === REBIRTH_ALIAS) && m.value === true);
    if (rebirth) {
      this.o.logger.info({ bdSeq: this.bdSeq }, 'rebirth requested by the host');
      this.publishBirths(client);
    }
  }

  /** NBIRTH (seq 0, bdSeq, Node Control/Rebirth) then one DBIRTH per device with every metric's name, alias and datatype. */
  private publishBirths(client: MqttClient): void {
    this.seq = 0;
    const now = this.o.now();
    const nbirth = encodePayload({
      timestamp: now,
      seq: this.nextSeq(),
      metrics: [
        { name: 'bdSeq', datatype: DataType.Int64, value: this.bdSeq, timestamp: now },
        { name: REBIRTH_METRIC, alias: REBIRTH_ALIAS, datatype: DataType.Boolean, value: false, timestamp: now },
      ],
    });
    client.publish(nodeTopic(this.o.group, 'NBIRTH', this.o.edgeNode), nbirth, { qos: 0 });
    for (const device of this.devices.keys()) this.publishDeviceBirth(client, device, now);
    this.births++;
  }

  private publishDeviceBirth(client: MqttClient, device: string, now: number): void {
    const metrics: SpMetric[] = (this.devices.get(device) ?? []).map((m) => ({
      name: m.name,
      alias: m.alias,
      datatype: m.datatype,
      timestamp: now,
      value: m.last,
    }));
    const payload = encodePayload({ timestamp: now, seq: this.nextSeq(), metrics });
    client.publish(deviceTopic(this.o.group, 'DBIRTH', this.o.edgeNode, device), payload, { qos: 0 });
  }

  /** One DDATA per device in the batch (after a DBIRTH for any point the births did not announce). */
  private encode(client: MqttClient, records: LogRecord[]): Message[] {
    const now = this.o.now();
    const byDevice = new Map<string, SpMetric[]>();
    for (const r of records) {
      let m = this.metrics.get(r.point);
      if (!m) {
        // A point the births did not announce (config changed under a running log): announce it.
        m = this.define(r.point, dataTypeFor(r.value));
        this.publishDeviceBirth(client, m.device, now);
      }
      const fits = valueFits(m.datatype, r.value);
      if (!fits) this.o.logger.warn({ point: r.point, datatype: m.datatype, seq: r.seq }, 'value does not fit the born datatype: sent as null');
      const value = fits ? r.value : null;
      m.last = value;
      const metric: SpMetric = { alias: m.alias, timestamp: r.ts, datatype: m.datatype, value, quality: fits ? r.quality : 'bad_decode' };
      if (now - r.ts > this.o.liveWindowMs) metric.isHistorical = true;
      const list = byDevice.get(m.device);
      if (list) list.push(metric);
      else byDevice.set(m.device, [metric]);
    }
    return [...byDevice].map(([device, metrics]) => ({
      topic: deviceTopic(this.o.group, 'DDATA', this.o.edgeNode, device),
      payload: encodePayload({ timestamp: now, seq: this.nextSeq(), metrics }),
    }));
  }
}
