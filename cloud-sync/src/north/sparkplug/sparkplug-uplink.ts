import type { MqttClient } from 'mqtt';
import type { LogRecord, Quality, Value } from '../../model.ts';
import { DataType, dataTypeFor, decodePayload, encodePayload, type SpMetric } from '../../codec/sparkplug-payload.ts';
import { convertValue, datatypeOfPoint } from './datatypes.ts';
import type { CurrentValue, DevicePresence, SparkplugDevices, SparkplugWrite } from './devices.ts';
import { deviceTopic, nodeTopic, parseSparkplugTopic, SPARKPLUG_NAMESPACE } from './topics.ts';
import { monoNow, timerDelay } from '../../clock.ts';
import { BDSEQ_COUNTER } from './schema.ts';
import { LogPublisher, type LogPublisherOptions, type Message, type PublisherFormat, type Session, type StatusMessage, type UplinkStatus } from '../broker-link/log-publisher.ts';

/**
 * A point the edge node announces in its births: `<device>/<point>`, and its Sparkplug datatype
 * when the config already fixes it. Without one the datatype comes from `devices.pointType()`
 * (the OPC UA server's DataType) when the device is born.
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
  /** Every point in config order (aliases follow this order). */
  metrics: SparkplugMetricDef[];
  /**
   * Device presence, current values and point types from the gateway. Without it every device
   * counts as online from the start and births carry the last value sent.
   */
  devices?: SparkplugDevices;
  /** Carries out DCMD writes; without it DCMD is not subscribed (the devices take no writes). */
  write?: SparkplugWrite;
  /** DDATA QoS: 0 is what Sparkplug requires (tck-id-payloads-ddata-qos); 1 is kedge's option. Default 0. */
  ddataQos?: 0 | 1;
  /** Longest wait for every device's first poll before the births go out anyway. Default 10 s. */
  birthWaitMs?: number;
  /**
   * Sparkplug Host ID of the Primary Host Application: births wait for its STATE online, and
   * while it is offline the node stays away and keeps the data in the log.
   */
  primaryHostId?: string;
  /** Readings older than this when sent are flagged is_historical (they come from the backlog). */
  liveWindowMs?: number;
  /**
   * DCMD writes of one device that may wait behind the one in flight (writes of a device are
   * carried out one at a time, in the order received). One more is refused, logged and answered
   * with the unchanged value. Default 8.
   */
  maxQueuedWritesPerDevice?: number;
  /**
   * Node Control/Rebirth requests are honoured at most once per this many ms: requests inside
   * the interval fold into one rebirth at its end. Default 5000.
   */
  rebirthMinIntervalMs?: number;
  now?: () => number;
  /** The monotonic clock the rebirth interval is measured on (cloud-sync/src/clock.ts). */
  mono?: () => number;
}

/** A DCMD metric accepted for a device, waiting for (or in) its write. */
interface WriteJob {
  session: Session;
  state: MetricState;
  value: Exclude<Value, null>;
}

interface MetricState {
  alias: number;
  point: string;
  name: string;
  device: string;
  /** From the config; else resolved at the device's birth. */
  configured: number | undefined;
  /** The datatype of the current birth (fixed until the next one). */
  datatype: number;
  /** The last value sent, for births without a device feed. */
  last: CurrentValue | undefined;
  /** The current value the last DBIRTH carried (that reading is not sent again as DDATA). */
  bornWith?: { ts: number; value: Value };
}

/** A change of a device's presence, effective for log records after `afterSeq`. */
interface Transition {
  presence: Exclude<DevicePresence, 'unknown'>;
  afterSeq: number;
  ts: number;
}

interface DeviceState {
  metrics: MetricState[];
  /** Presence as of the stream position (the last log record encoded). */
  presence: DevicePresence;
  /** Changes the stream has not reached yet, oldest first. */
  pending: Transition[];
  /** Whether a DBIRTH of this device went out in the current Sparkplug session. */
  born: boolean;
  /** Points whose value could not be converted to the born datatype (warned once). */
  warned: Set<string>;
  /** DCMD writes waiting for the one in flight (at most maxQueuedWritesPerDevice). */
  writeQueue: WriteJob[];
  /** Whether a DCMD write of this device is being carried out. */
  writing: boolean;
}

export const REBIRTH_METRIC = 'Node Control/Rebirth';
export const BDSEQ_METRIC = 'bdSeq';
/** bdSeq's alias: every birth metric needs name and alias (tck-id-payloads-alias-birth-requirement) except Node Control/Rebirth. */
export const BDSEQ_ALIAS = 1;
const FIRST_POINT_ALIAS = 2;
const DEFAULT_BIRTH_WAIT_MS = 10_000;
const DEFAULT_MAX_QUEUED_WRITES = 8;
const DEFAULT_REBIRTH_MIN_INTERVAL_MS = 5_000;
const MAX_PENDING_CHANGES = 1000;

/**
 * The uplink for SCADA hosts (Ignition and others) speaking Sparkplug B 3.0 (section
 * references: north/sparkplug/README.md). Reads the same log by the same cursor rules
 * as the kedge uplink: the cursor advances only when the broker has provably processed every
 * DDATA of a batch and of every batch before it (PUBACK at QoS 1; at QoS 0 the UNSUBACK of a
 * round trip sent behind them on the same connection).
 *
 * Device births and deaths are placed in the log's order: a presence change reported by the
 * gateway takes effect for the records logged after it, so the readings a device gave before
 * it was lost still go out before its DDEATH, and nothing logged while it was dead follows its
 * new DBIRTH.
 */
export class SparkplugUplink {
  private readonly o: SparkplugUplinkOptions &
    Required<Pick<SparkplugUplinkOptions, 'liveWindowMs' | 'now' | 'mono' | 'ddataQos' | 'birthWaitMs' | 'maxQueuedWritesPerDevice' | 'rebirthMinIntervalMs'>>;
  private readonly publisher: LogPublisher;
  private readonly metrics = new Map<string, MetricState>();
  private readonly byAlias = new Map<number, MetricState>();
  private readonly devices = new Map<string, DeviceState>();
  private seq = 0;
  /** bdSeq of the current (or, while connecting, the next) session. */
  private bdSeq = 0;
  /** The session whose NBIRTH went out: DDATA never precedes its births. */
  private born: Session | null = null;
  /** The session waiting for the first polls before its births. */
  private waiting: { session: Session; timer: NodeJS.Timeout } | null = null;
  /** The session whose command (and STATE) subscriptions are in place. */
  private subscribed: Session | null = null;
  /** The Primary Host's last STATE, kept across sessions (its timestamps only grow). */
  private host: { online: boolean; timestamp: number } | null = null;
  /** Seq of the last log record encoded in this session (the stream position). */
  private position = 0;
  private unsubscribePresence: (() => void) | null = null;
  /** NBIRTHs published since start (for status and tests). */
  births = 0;
  /** Log records not sent: nulls of a device not born (offline) when they came up, points not in this session. */
  skipped = 0;
  /** DCMD writes refused because the device's queue was full (for status and tests). */
  writesRefusedBusy = 0;
  /** Node Control/Rebirth requests folded into a later rebirth by the rate limit (for status and tests). */
  rebirthsFolded = 0;
  /** Monotonic time of the last rebirth done on a host's request. */
  private lastRequestedRebirth = -Infinity;
  /** The rebirth a request inside the interval is waiting for. */
  private rebirthTimer: NodeJS.Timeout | null = null;

  constructor(options: SparkplugUplinkOptions) {
    this.o = {
      liveWindowMs: 60_000,
      now: Date.now,
      mono: monoNow,
      ddataQos: 0,
      birthWaitMs: DEFAULT_BIRTH_WAIT_MS,
      maxQueuedWritesPerDevice: DEFAULT_MAX_QUEUED_WRITES,
      rebirthMinIntervalMs: DEFAULT_REBIRTH_MIN_INTERVAL_MS,
      ...options,
    };
    for (const def of options.metrics) this.define(def);
    const format: PublisherFormat = {
      label: 'sparkplug uplink',
      will: () => this.nextSessionWill(),
      connectedInfo: () => ({ bdSeq: this.bdSeq }),
      onOnline: (session) => this.onOnline(session),
      onMessage: (session, topic, payload, retained) => this.onMessage(session, topic, payload, retained),
      canSend: () => this.born?.live() ?? false,
      encode: (session, batch) => this.encode(session, batch.readings),
      goodbye: () => ({ topic: this.nodeTopic('NDEATH'), payload: this.deathPayload(this.o.now()), retain: false }),
    };
    if (this.o.ddataQos === 0) format.confirm = (session, done) => this.barrier(session, done);
    // No live lane: a Sparkplug host gets every current value from the births of each session,
    // and DDATA carries no sequence numbers a host could drop a second copy by. The backlog is
    // still the only thing paced. Nothing is sent inside the log's append: the gateway tells
    // device presence (births, deaths) after logging a poll's readings, in the same turn, and
    // DDATA of a device coming back must follow its DBIRTH, not precede a DDEATH.
    this.publisher = new LogPublisher({ ...options, liveFirst: false, sendAtCommit: false }, format);
  }

  private define(def: SparkplugMetricDef): void {
    const slash = def.point.indexOf('/');
    if (slash <= 0 || slash === def.point.length - 1) throw new Error(`sparkplug: point key "${def.point}" is not <device>/<point>`);
    if (this.metrics.has(def.point)) throw new Error(`sparkplug: point "${def.point}" is listed twice`);
    const state: MetricState = {
      alias: FIRST_POINT_ALIAS + this.metrics.size,
      point: def.point,
      device: def.point.slice(0, slash),
      name: def.point.slice(slash + 1),
      configured: def.datatype,
      datatype: def.datatype ?? DataType.Double,
      last: undefined,
    };
    this.metrics.set(def.point, state);
    this.byAlias.set(state.alias, state);
    let device = this.devices.get(state.device);
    if (!device) {
      device = { metrics: [], presence: this.o.devices ? 'unknown' : 'online', pending: [], born: false, warned: new Set(), writeQueue: [], writing: false };
      this.devices.set(state.device, device);
    }
    device.metrics.push(state);
  }

  private nodeTopic(type: 'NBIRTH' | 'NDEATH' | 'NCMD'): string {
    return nodeTopic(this.o.group, type, this.o.edgeNode);
  }

  get ncmdTopic(): string {
    return this.nodeTopic('NCMD');
  }

  /** One subscription for the DCMD of every device of this node. */
  get dcmdFilter(): string {
    return `${deviceTopic(this.o.group, 'DCMD', this.o.edgeNode, '')}+`;
  }

  /** Current birth/death sequence (0..255). */
  get currentBdSeq(): number {
    return this.bdSeq;
  }

  /** Connected and subscribed, the births waiting for the devices' first polls. */
  get awaitingFirstPolls(): boolean {
    return this.waiting?.session.live() ?? false;
  }

  start(): void {
    const feed = this.o.devices;
    if (feed && !this.unsubscribePresence) {
      this.unsubscribePresence = feed.onPresence((device, presence, ts) => this.onPresence(device, presence, ts));
      // What the gateway already knows (an uplink rebuilt on a config change) holds for the whole backlog.
      for (const [id, d] of this.devices) if (d.presence === 'unknown' && d.pending.length === 0) d.presence = feed.presence(id);
    }
    this.publisher.start();
  }

  /** NBIRTH and every DBIRTH again (as for an NCMD rebirth); false when offline or not yet born. */
  rebirth(): boolean {
    const client = this.publisher.onlineClient();
    if (!client || !this.born?.live()) return false;
    this.publishBirths(client);
    return true;
  }

  /**
   * The device's driver learnt point types (OPC UA DataType). Nothing to do unless the device
   * is born with other datatypes (it answered before its types were known): then it is born
   * again, so its datatypes are right from here on. Returns whether a DBIRTH went out.
   */
  pointTypesLearnt(device: string): boolean {
    const d = this.devices.get(device);
    const client = this.born?.live() ? this.publisher.onlineClient() : null;
    if (!d?.born || !client) return false;
    const stale = d.metrics.some((m) => {
      const learnt = m.configured === undefined ? this.learntDatatype(m) : undefined;
      return learnt !== undefined && learnt !== m.datatype;
    });
    if (stale) this.publishBirthOf(client, device, d);
    return stale;
  }

  status(): UplinkStatus {
    return this.publisher.status();
  }

  /** Drains for up to `drainMs`, then says NDEATH (a clean goodbye carries the same bdSeq as the Will) and disconnects. */
  async stop(drainMs = 0): Promise<void> {
    this.unsubscribePresence?.();
    this.unsubscribePresence = null;
    this.cancelWait();
    this.cancelRebirth();
    for (const [device, d] of this.devices) {
      if (d.writeQueue.length) this.o.logger.warn({ device, points: d.writeQueue.map((j) => j.state.point) }, 'stopping: DCMD writes not yet started are dropped (never carried out)');
      d.writeQueue = [];
    }
    await this.publisher.stop(drainMs);
  }

  private nextSeq(): number {
    const s = this.seq;
    this.seq = (this.seq + 1) % 256;
    return s;
  }

  /**
   * The Will carries no payload timestamp: the broker publishes it whenever the link dies,
   * and hosts stamp an NDEATH with their own clock (tck-id-operational-behavior-edge-node-termination-host-action-ndeath-node-offline).
   */
  private deathPayload(ts?: number): Buffer {
    return encodePayload({
      ...(ts !== undefined ? { timestamp: ts } : {}),
      metrics: [{ name: BDSEQ_METRIC, datatype: DataType.Int64, value: this.bdSeq }],
    });
  }

  /**
   * bdSeq counts sessions established (tck-id-topics-nbirth-bdseq-increment): a connect attempt
   * that never got its CONNACK registered no Will, so the next attempt carries the same number.
   */
  private nextSessionWill(): StatusMessage {
    this.bdSeq = this.o.log.cursor(BDSEQ_COUNTER) % 256;
    return { topic: this.nodeTopic('NDEATH'), payload: this.deathPayload(), retain: false };
  }

  private onOnline(session: Session): void {
    this.o.log.advance(BDSEQ_COUNTER, this.o.log.cursor(BDSEQ_COUNTER) + 1);
    this.born = null;
    this.subscribed = null;
    // A rebirth folded in the last session is owed to nobody: this session's births follow anyway.
    this.cancelRebirth();
    for (const d of this.devices.values()) d.born = false;
    // NCMD (and DCMD) are subscribed at QoS 1 before any birth (tck-id-message-flow-edge-node-ncmd-subscribe,
    // tck-id-message-flow-device-dcmd-subscribe), or a host's immediate rebirth request is lost.
    const filters = [this.ncmdTopic, ...(this.o.write ? [this.dcmdFilter] : []), ...(this.stateTopic ? [this.stateTopic] : [])];
    session.client.subscribe(filters, { qos: 1 }, (err, granted) => {
      if (!session.live()) return;
      if (err) this.o.logger.warn({ err: err.message }, 'NCMD/DCMD subscription failed');
      const refused = (granted ?? []).filter((g) => g.qos !== 1);
      if (refused.length) this.o.logger.warn({ granted: refused }, 'the broker did not grant QoS 1 on the command topics');
      this.subscribed = session;
      // With a Primary Host, births wait until its STATE says online (tck-id-message-flow-edge-node-birth-publish-phid-wait).
      if (this.stateTopic && !this.host?.online) {
        this.o.logger.info({ primaryHost: this.o.primaryHostId }, 'waiting for the Primary Host Application to be online');
        return;
      }
      this.waitForFirstPolls(session);
    });
  }

  /** spBv1.0/STATE/<primary host id>, when a Primary Host Application is configured. */
  get stateTopic(): string | undefined {
    return this.o.primaryHostId === undefined ? undefined : `${SPARKPLUG_NAMESPACE}/STATE/${this.o.primaryHostId}`;
  }

  /** Connected and subscribed, the births waiting for the Primary Host's STATE to say online. */
  get awaitingPrimaryHost(): boolean {
    return this.stateTopic !== undefined && (this.subscribed?.live() ?? false) && !this.host?.online;
  }

  /**
   * The Primary Host's STATE (JSON {online, timestamp}). One older than the last one seen is
   * ignored (tck-id-message-flow-edge-node-birth-publish-phid-wait-timestamp). Online: the
   * births may go out. Offline while born: NDEATH, disconnect, and start over
   * (tck-id-message-flow-edge-node-birth-publish-phid-offline); the data waits in the log and
   * follows, flagged is_historical, once the host is back.
   */
  private onHostState(session: Session, payload: Buffer): void {
    let state: { online: boolean; timestamp: number };
    try {
      const s = JSON.parse(payload.toString('utf8')) as { online?: unknown; timestamp?: unknown };
      if (typeof s.online !== 'boolean' || typeof s.timestamp !== 'number') throw new Error('needs a boolean "online" and a numeric "timestamp"');
      state = { online: s.online, timestamp: s.timestamp };
    } catch (err) {
      this.o.logger.warn({ topic: this.stateTopic, err: (err as Error).message }, 'Primary Host STATE not understood: ignored');
      return;
    }
    if (this.host && state.timestamp < this.host.timestamp) {
      this.o.logger.info({ timestamp: state.timestamp, last: this.host.timestamp }, 'an older Primary Host STATE: ignored');
      return;
    }
    const wasOnline = this.host?.online ?? false;
    this.host = state;
    if (state.online && !wasOnline && this.subscribed === session && !this.born?.live() && !this.waiting) {
      this.o.logger.info({ primaryHost: this.o.primaryHostId }, 'Primary Host Application online');
      this.waitForFirstPolls(session);
    } else if (!state.online && this.waiting?.session === session) {
      // Not born yet: nothing to take back; wait for the host again.
      this.cancelWait();
    } else if (!state.online && this.born === session) {
      this.o.logger.warn({ primaryHost: this.o.primaryHostId }, 'Primary Host Application offline: NDEATH, disconnecting, holding the data');
      this.born = null;
      session.client.publish(this.nodeTopic('NDEATH'), this.deathPayload(this.o.now()), { qos: 1, retain: false }, () => {
        if (session.live()) session.client.end(false);
      });
    }
  }

  /** Births carry current values (tck-id-operational-behavior-data-publish-dbirth-values): wait, boundedly, for every device's first poll. */
  private waitForFirstPolls(session: Session): void {
    this.cancelWait();
    if (this.allKnown()) return this.beginSession(session);
    const timer = setTimeout(() => {
      this.waiting = null;
      if (!session.live()) return;
      const unknown = [...this.devices].filter(([, d]) => d.presence === 'unknown').map(([id]) => id);
      this.o.logger.warn({ devices: unknown, birthWaitMs: this.o.birthWaitMs }, 'no first poll in time: born without these devices (DBIRTH when they answer)');
      this.beginSession(session);
    }, this.o.birthWaitMs);
    timer.unref();
    this.waiting = { session, timer };
  }

  private cancelWait(): void {
    if (this.waiting) clearTimeout(this.waiting.timer);
    this.waiting = null;
  }

  private allKnown(): boolean {
    return [...this.devices.values()].every((d) => d.presence !== 'unknown');
  }

  private beginSession(session: Session): void {
    this.cancelWait();
    this.born = session;
    this.position = this.o.log.cursor(this.o.cursorName ?? 'uplink');
    // Changes that took effect before the resume point are simply the state now; later ones wait for the stream.
    for (const d of this.devices.values()) {
      while (d.pending[0] && d.pending[0].afterSeq <= this.position) d.presence = d.pending.shift()!.presence;
    }
    this.publishBirths(session.client);
    session.pump();
  }

  private onPresence(device: string, presence: DevicePresence, ts: number): void {
    const d = this.devices.get(device);
    if (!d || presence === 'unknown') return;
    if (d.presence === 'unknown' && d.pending.length === 0) {
      // The first report after a start applies to the whole backlog: what the device logged
      // before a restart goes out once it is born.
      d.presence = presence;
    } else {
      const lastKnown = d.pending.at(-1)?.presence ?? d.presence;
      if (lastKnown === presence) return;
      d.pending.push({ presence, afterSeq: this.o.log.lastSeq(), ts });
      // A device flapping through a long uplink outage must not grow this without bound: the oldest changes fold into the state.
      if (d.pending.length > MAX_PENDING_CHANGES) d.presence = d.pending.shift()!.presence;
    }
    if (this.waiting?.session.live() && this.allKnown()) return this.beginSession(this.waiting.session);
    const client = this.born?.live() ? this.publisher.onlineClient() : null;
    if (!client) return;
    // Caught up (nothing logged is waiting to be encoded): the change goes out now.
    for (const m of this.applyTransitions(d, device, this.position, true)) client.publish(m.topic, m.payload, { qos: 0 });
    if (d.presence === 'online' && !d.born) this.publishBirthOf(client, device, d);
  }

  /**
   * Applies the transitions of `d` the stream has reached (`afterSeq` < next record, or <= the
   * position when `inclusive`), returning the DDEATH messages and announcing returns.
   */
  private applyTransitions(d: DeviceState, device: string, upTo: number, inclusive: boolean): Message[] {
    const out: Message[] = [];
    while (d.pending[0] && (inclusive ? d.pending[0].afterSeq <= upTo : d.pending[0].afterSeq < upTo)) {
      const t = d.pending.shift()!;
      d.presence = t.presence;
      if (t.presence === 'offline' && d.born) {
        d.born = false;
        out.push(this.deviceDeath(device, t.ts));
      } else if (t.presence === 'online' && !d.born && this.born?.live()) {
        out.push(this.deviceBirth(device, d));
      }
    }
    return out;
  }

  /**
   * A DDEATH stamped with its publish time, as tck-id-payloads-ddeath-timestamp requires (the
   * messages are published as soon as they are built). The host marks the device offline and its
   * metrics stale at that time; the readings before the loss carry their own times, and the
   * loss time itself (`lostAt`, the gateway's report) goes to the log line, since a DDEATH in log
   * order can follow the loss by a backlog's length.
   */
  private deviceDeath(device: string, lostAt: number | undefined): Message {
    const now = this.o.now();
    this.o.logger.info({ device, lostAt, publishedAt: now }, 'DDEATH: device lost');
    return { topic: deviceTopic(this.o.group, 'DDEATH', this.o.edgeNode, device), payload: encodePayload({ timestamp: now, seq: this.nextSeq(), metrics: [] }), qos: 0 };
  }

  private onMessage(session: Session, topic: string, payload: Buffer, retained: boolean): void {
    if (topic === this.stateTopic) return this.onHostState(session, payload);
    // Commands are never retained (tck-id-payloads-ncmd-retain, -dcmd-retain): a retained one is an
    // old command the broker hands out on every subscribe, and carrying it out would repeat a
    // write at each reconnect.
    if (retained) {
      this.o.logger.warn({ topic }, 'retained command ignored: Sparkplug commands must not be retained');
      return;
    }
    if (topic === this.ncmdTopic) return this.onNodeCommand(session, payload);
    const t = parseSparkplugTopic(topic);
    if (t?.type === 'DCMD' && t.group === this.o.group && t.edgeNode === this.o.edgeNode && t.device !== undefined) {
      this.onDeviceCommand(session, t.device, payload);
    }
  }

  private onNodeCommand(session: Session, payload: Buffer): void {
    let metrics: SpMetric[];
    try {
      metrics = decodePayload(payload, { datatypeOf: (m) => (m.name === REBIRTH_METRIC ? DataType.Boolean : undefined) }).metrics;
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'NCMD not decodable: ignored');
      return;
    }
    // Node Control/Rebirth has no alias (tck-id-operational-behavior-data-commands-rebirth-name-aliases): by name only.
    const rebirth = metrics.some((m) => m.name === REBIRTH_METRIC && m.value === true);
    if (rebirth && this.born === session && session.live()) this.requestedRebirth(session);
  }

  /**
   * A host's rebirth request, rate-limited: every birth resends every metric of every device,
   * so a host (or an attacker with publish rights) repeating the request must not turn the node
   * into a birth generator. At most one rebirth per rebirthMinIntervalMs (monotonic clock); a
   * request inside the interval is not dropped but folded into one rebirth at its end, so the
   * host that asked still gets its births.
   */
  private requestedRebirth(session: Session): void {
    const rebirth = () => {
      this.lastRequestedRebirth = this.o.mono();
      this.o.logger.info({ bdSeq: this.bdSeq }, 'rebirth requested by the host');
      this.publishBirths(session.client);
    };
    const wait = this.lastRequestedRebirth + this.o.rebirthMinIntervalMs - this.o.mono();
    if (wait <= 0 && !this.rebirthTimer) return rebirth();
    this.rebirthsFolded++;
    if (this.rebirthTimer) return;
    this.o.logger.warn({ rebirthMinIntervalMs: this.o.rebirthMinIntervalMs }, 'rebirth requested again within the interval: one rebirth follows at its end');
    this.rebirthTimer = setTimeout(() => {
      this.rebirthTimer = null;
      if (this.born === session && session.live()) rebirth();
    }, timerDelay(wait));
    this.rebirthTimer.unref();
  }

  private cancelRebirth(): void {
    if (this.rebirthTimer) clearTimeout(this.rebirthTimer);
    this.rebirthTimer = null;
  }

  /** Whether a folded rebirth request is waiting for the end of the interval. */
  get rebirthPending(): boolean {
    return this.rebirthTimer !== null;
  }

  /**
   * DCMD: each metric is a write of one point, through the gateway's write path (only points
   * marked writable, and only those the config lets Sparkplug hosts write). The answer is a
   * DDATA with the value read back from the device, or with the unchanged current value when
   * the write was refused or failed, so the host never shows a value the device does not have.
   *
   * A device takes one write at a time, in the order received, with at most
   * maxQueuedWritesPerDevice waiting: a flood of DCMDs neither opens a write per message against
   * a field device nor grows memory without bound. A write beyond that is refused (logged) and
   * answered with the unchanged value.
   */
  private onDeviceCommand(session: Session, device: string, payload: Buffer): void {
    const write = this.o.write;
    const d = this.devices.get(device);
    if (!write || !d) {
      this.o.logger.warn({ device }, 'DCMD for a device this node does not have: ignored');
      return;
    }
    const lookup = (m: { name?: string; alias?: number }) =>
      m.alias !== undefined ? this.byAlias.get(m.alias) : m.name !== undefined ? this.metrics.get(`${device}/${m.name}`) : undefined;
    let metrics: SpMetric[];
    try {
      metrics = decodePayload(payload, {
        datatypeOf: (m) => {
          const s = lookup(m);
          return s?.device === device ? s.datatype : undefined;
        },
      }).metrics;
    } catch (err) {
      this.o.logger.warn({ device, err: (err as Error).message }, 'DCMD not decodable: ignored');
      return;
    }
    for (const m of metrics) {
      const state = lookup(m);
      if (!state || state.device !== device) {
        this.o.logger.warn({ device, metric: m.name ?? m.alias }, 'DCMD names a metric the device does not have: ignored');
        continue;
      }
      if (m.value === null) {
        this.o.logger.warn({ point: state.point }, 'DCMD without a value: refused');
        this.answerWrite(session, device, d, state, undefined);
      } else if (d.writing && d.writeQueue.length >= this.o.maxQueuedWritesPerDevice) {
        this.writesRefusedBusy++;
        this.o.logger.warn(
          { point: state.point, queued: d.writeQueue.length, refusedSoFar: this.writesRefusedBusy },
          'DCMD refused: the device already has its write in flight and the most writes allowed waiting (uplink flood?)',
        );
        this.answerWrite(session, device, d, state, undefined);
      } else {
        d.writeQueue.push({ session, state, value: m.value });
        // Starts at once on an idle device (taking the job off the queue), else returns.
        void this.drainWrites(device, d, write);
      }
    }
  }

  /** Carries out the device's queued writes one at a time (the only place a DCMD write starts). */
  private async drainWrites(device: string, d: DeviceState, write: SparkplugWrite): Promise<void> {
    if (d.writing) return;
    d.writing = true;
    try {
      for (let job = d.writeQueue.shift(); job; job = d.writeQueue.shift()) {
        let answer: CurrentValue | undefined;
        try {
          answer = await write(device, job.state.name, job.value);
          this.o.logger.info({ point: job.state.point, asked: String(job.value), readBack: String(answer.value) }, 'DCMD write done');
        } catch (err) {
          this.o.logger.warn({ point: job.state.point, err: (err as Error).message }, 'DCMD write refused or failed');
        }
        this.answerWrite(job.session, device, d, job.state, answer);
      }
    } finally {
      d.writing = false;
    }
  }

  /** The DDATA answering a DCMD metric: the value read back, else the unchanged current value. */
  private answerWrite(session: Session, device: string, d: DeviceState, state: MetricState, readBack: CurrentValue | undefined): void {
    const answer = readBack ?? this.o.devices?.current(state.point) ?? state.last;
    if (!answer || !session.live() || this.born !== session || !d.born) return;
    const now = this.o.now();
    const metric = this.dataMetric(state, d, answer.value, answer.quality, answer.ts, now);
    const ddata = encodePayload({ timestamp: now, seq: this.nextSeq(), metrics: [metric] }, { datatypes: false });
    session.client.publish(deviceTopic(this.o.group, 'DDATA', this.o.edgeNode, device), ddata, { qos: this.o.ddataQos });
  }

  /** NBIRTH (seq 0, bdSeq, Node Control/Rebirth) then a DBIRTH for every device that is online. */
  private publishBirths(client: MqttClient): void {
    this.seq = 0;
    const now = this.o.now();
    const nbirth = encodePayload({
      timestamp: now,
      seq: this.nextSeq(),
      metrics: [
        { name: BDSEQ_METRIC, alias: BDSEQ_ALIAS, datatype: DataType.Int64, value: this.bdSeq, timestamp: now },
        { name: REBIRTH_METRIC, datatype: DataType.Boolean, value: false, timestamp: now },
      ],
    });
    client.publish(this.nodeTopic('NBIRTH'), nbirth, { qos: 0 });
    this.births++;
    for (const [device, d] of this.devices) {
      d.born = false;
      if (d.presence === 'online') this.publishBirthOf(client, device, d);
    }
  }

  private publishBirthOf(client: MqttClient, device: string, d: DeviceState): void {
    const m = this.deviceBirth(device, d);
    client.publish(m.topic, m.payload, { qos: 0 });
  }

  /** A DBIRTH: every metric with name, alias, datatype (fixed from here on) and current value. */
  private deviceBirth(device: string, d: DeviceState): Message {
    const now = this.o.now();
    const metrics = d.metrics.map((m): SpMetric => {
      const cur = this.o.devices ? this.o.devices.current(m.point) : m.last;
      m.datatype = this.resolveDatatype(m, cur);
      m.bornWith = cur ? { ts: cur.ts, value: cur.value } : undefined;
      return { name: m.name, ...this.dataMetric(m, d, cur?.value ?? null, cur ? cur.quality : 'bad_no_response', cur?.ts ?? now, now) };
    });
    d.born = true;
    return { topic: deviceTopic(this.o.group, 'DBIRTH', this.o.edgeNode, device), payload: encodePayload({ timestamp: now, seq: this.nextSeq(), metrics }), qos: 0 };
  }

  /**
   * The config's type, else the type the driver learnt (OPC UA DataType); only a point whose
   * type is not known at all falls back to its current value's kind, or Double.
   */
  private resolveDatatype(m: MetricState, cur: CurrentValue | undefined): number {
    return (
      m.configured ??
      this.learntDatatype(m) ??
      // Never an integer type from an integral first number: 20 then 20.5 would be rounded to 21.
      (cur && cur.value !== null && typeof cur.value !== 'number' ? dataTypeFor(cur.value) : DataType.Double)
    );
  }

  private learntDatatype(m: MetricState): number | undefined {
    return datatypeOfPoint(this.o.devices?.pointType(m.point), this.o.devices?.scaled(m.point) ?? false);
  }

  /** A metric of `m` with `value` converted to its born datatype (null only when there is no value). */
  private dataMetric(m: MetricState, d: DeviceState, value: Value, quality: Quality, ts: number, now: number): SpMetric {
    const c = convertValue(m.datatype, value);
    if (!c.ok && !d.warned.has(m.point)) {
      d.warned.add(m.point);
      this.o.logger.warn({ point: m.point, why: c.why }, 'value does not convert to the born datatype: sent as null with Quality bad');
    }
    if (!m.last || ts >= m.last.ts) m.last = { value, quality, ts };
    const metric: SpMetric = { alias: m.alias, timestamp: ts, datatype: m.datatype, value: c.ok ? c.value : null, quality: c.ok ? quality : 'bad_decode' };
    // Backlog, or older than the current value the DBIRTH gave the host: not a real-time value.
    if (now - ts > this.o.liveWindowMs || (m.bornWith !== undefined && ts < m.bornWith.ts)) metric.isHistorical = true;
    return metric;
  }

  /** DDATA per device (in log order, with any DDEATH/DBIRTH the records' positions call for between them). */
  private encode(_session: Session, records: LogRecord[]): Message[] {
    const now = this.o.now();
    const out: Message[] = [];
    let open = new Map<string, SpMetric[]>();
    const flush = () => {
      for (const [device, metrics] of open) {
        const payload = encodePayload({ timestamp: now, seq: this.nextSeq(), metrics }, { datatypes: false });
        out.push({ topic: deviceTopic(this.o.group, 'DDATA', this.o.edgeNode, device), payload, qos: this.o.ddataQos });
      }
      open = new Map();
    };
    // Presence changes are rare: without any pending, a batch is a plain loop over its records.
    const anyPending = [...this.devices.values()].some((d) => d.pending.length > 0);
    const transitions = (upTo: number, inclusive: boolean) => {
      if (!anyPending) return;
      for (const [device, d] of this.devices) {
        if (!d.pending[0] || (inclusive ? d.pending[0].afterSeq > upTo : d.pending[0].afterSeq >= upTo)) continue;
        flush();
        out.push(...this.applyTransitions(d, device, upTo, inclusive));
      }
    };
    let skipped = 0;
    /** Points of the log that this session's births do not have (removed from the config since). */
    const notInSession = new Set<string>();
    /** Devices born in this batch for a value logged while they were not known to be online. */
    const bornForBacklog = new Set<string>();
    for (const r of records) {
      transitions(r.seq, false);
      this.position = r.seq;
      const m = this.metrics.get(r.point);
      const d = m && this.devices.get(m.device);
      if (!m || !d) {
        skipped++;
        notInSession.add(r.point);
        continue;
      }
      if (!d.born) {
        // A null of a device that is not born (it did not answer): its DDEATH already says so.
        if (r.value === null) {
          skipped++;
          continue;
        }
        // A value proves the device answered when it was logged (a backlog from before a restart
        // of a device now offline or not answering yet, a first poll after a return logged just
        // before the change took effect): the device is born for it, so the value goes out
        // (older than the birth's current value: is_historical) instead of being passed over.
        flush();
        out.push(this.deviceBirth(m.device, d));
        bornForBacklog.add(m.device);
      }
      // The very reading the DBIRTH carried as current value: DDATA is for changes (tck-id-operational-behavior-data-publish-dbirth-change).
      if (m.bornWith && m.bornWith.ts === r.ts && Object.is(m.bornWith.value, r.value)) continue;
      const list = open.get(m.device) ?? [];
      list.push(this.dataMetric(m, d, r.value, r.quality, r.ts, now));
      open.set(m.device, list);
    }
    flush();
    transitions(this.position, true);
    // Born only for its backlog and, as of the stream, still not online with no return ahead: dead again.
    for (const device of bornForBacklog) {
      const d = this.devices.get(device)!;
      if (!d.born || d.presence === 'online' || d.pending.length > 0) continue;
      d.born = false;
      out.push(this.deviceDeath(device, undefined));
    }
    if (skipped) {
      this.skipped += skipped;
      this.o.logger.debug({ skipped, total: this.skipped }, 'null readings of devices that are not born (offline), or of points not in this session: not sent over Sparkplug');
    }
    // Values a host will never get (a birth must define a metric first): said, not only counted.
    if (notInSession.size) this.o.logger.warn({ points: [...notInSession] }, 'logged readings of points no longer in the config: not sent over Sparkplug (they stay in the log)');
    return out;
  }

  /**
   * At QoS 0 there is no PUBACK: an UNSUBSCRIBE sent behind the batch on the same connection
   * is answered only after the broker processed every packet before it, so its UNSUBACK is
   * the proof of delivery to the broker that PUBACK is at QoS 1.
   */
  private barrier(session: Session, done: (err?: Error) => void): void {
    session.client.unsubscribe(`kedge/sparkplug-barrier/${this.o.edgeNode}`, (err) => done(err ?? undefined));
  }
}
