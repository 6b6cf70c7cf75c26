import type { Logger } from 'pino';
import {
  AttributeIds,
  DataChangeFilter,
  DataChangeTrigger,
  DataType,
  DeadbandType,
  TimestampsToReturn,
  type ClientSession,
  type ClientSubscription,
  type DataValue,
  type MonitoringParametersOptions,
  type OPCUAClient,
  type StatusCode,
} from 'node-opcua-client';
import { resolveNodeId } from 'node-opcua-nodeid';
import type { Value } from '@kedge/cloud-sync/model.ts';
import { monoNow } from '@kedge/cloud-sync/clock.ts';
import { WriteError } from '../write-error.ts';
import { toVariant } from './write-value.ts';
import type { Quality } from '@kedge/cloud-sync/model.ts';
import type { OpcuaDeviceConfig, OpcuaPointConfig, OpcuaPointType } from './schema.ts';
import type { DeviceDriver, PollResult, Sample, SampleSink } from '../driver.ts';
import { secretReader } from '../../driver-context.ts';
import type { ReadSecret } from '../definition.ts';
import { createClient, explainError, userIdentity, withTimeout, type Explained } from './connect.ts';
import { dataTypeOf, pointTypeOf } from './data-type.ts';
import { leasePki, pkiFolder, type PkiLease } from './pki.ts';
import { endpointAddress } from './probe.ts';
import { PROBE_INTERVAL_MS, reconnectBackoffMs, systemSchedule, waitBeforeReconnect, type ReconnectSchedule } from './reconnect-wait.ts';
import { describeStatus, toSample } from './sample.ts';

export interface OpcuaDriverContext {
  dataDir: string;
  logger?: Logger | undefined;
  /** How `auth` files are read (DriverContext.readSecret); absent: confined to `<dataDir>/secrets` and `<dataDir>/tls`. */
  readSecret?: ReadSecret | undefined;
  /** Tests only: trust any server certificate instead of `<dataDir>/pki/opcua/trusted`. */
  acceptUnknownServerCertificates?: boolean;
  /** Tests only: the clock, timers and port probe of the wait between connection attempts. */
  reconnectSchedule?: ReconnectSchedule;
}

/** Roughly how often an idle subscription proves it is alive. */
const KEEPALIVE_TARGET_MS = 5000;
/** Server_ServerStatus_CurrentTime: every server has it; reading it proves the link answers. */
const SERVER_CURRENT_TIME = 'i=2258';
/** The silence check of a fast subscription runs no more often than this. */
const PROBE_CHECK_MIN_MS = 50;

/**
 * One OPC UA server connection per device. Subscribed points are monitored items whose data
 * changes are pushed to the sink; poll-mode points are read with one Read call per poll.
 *
 * Reconnection is the driver's own loop rather than node-opcua's session repair: a server
 * that restarted has forgotten every subscription (the failure other gateways are known
 * for), so after any loss the driver builds a new client, session, subscriptions and
 * monitored items from the config. While the link is down each subscribed point gets one bad
 * sample, so the center sees the outage rather than a flat line.
 */
export class OpcuaDevice implements DeviceDriver {
  readonly deviceId: string;
  private readonly points = new Map<string, OpcuaPointConfig>();
  private readonly subscribed: OpcuaPointConfig[];
  private readonly pki: PkiLease;
  private sink: SampleSink | null = null;
  private client: OPCUAClient | null = null;
  private session: ClientSession | null = null;
  private subscriptions: ClientSubscription[] = [];
  private subscriptionsReady = false;
  private signalLost: (reason: string) => void = () => undefined;
  private wake: () => void = () => undefined;
  private loop: Promise<void> | null = null;
  private connecting: Promise<void> | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private closed = false;
  private downReported = false;
  private lastError: Explained | null = null;
  /** Built-in type of each node, from its DataType attribute: what writes are encoded as. */
  private readonly dataTypes = new Map<string, DataType>();
  /** Each point's type for the birth: the config's `type`, else the server's DataType. */
  private readonly types = new Map<string, OpcuaPointType>();
  private readonly typeListeners: Array<() => void> = [];
  private readonly address: { host: string; port: number };
  /** Sessions created so far: 2 and more means the driver has reconnected. */
  sessions = 0;
  /** Connection attempts that failed so far (tests watch the backoff grow). */
  failedConnects = 0;
  /** When the current outage began, on the schedule's clock; null while connected. */
  private downSince: number | null = null;
  private readonly schedule: ReconnectSchedule;

  constructor(
    private readonly d: OpcuaDeviceConfig,
    private readonly ctx: OpcuaDriverContext,
  ) {
    this.deviceId = d.id;
    for (const p of d.points) {
      this.points.set(p.id, p);
      if (p.type !== undefined) this.types.set(p.id, p.type);
    }
    this.address = endpointAddress(d.endpointUrl);
    this.subscribed = d.points.filter((p) => p.mode === 'subscribe');
    this.pki = leasePki(ctx.dataDir, ctx.acceptUnknownServerCertificates ?? false);
    this.schedule = ctx.reconnectSchedule ?? systemSchedule;
  }

  subscribe(sink: SampleSink): readonly string[] {
    this.sink = sink;
    if (this.session && !this.subscriptionsReady) {
      void this.createSubscriptions(this.session).catch((err) => this.signalLost(`creating subscriptions failed: ${(err as Error).message}`));
    }
    this.ensureRunning();
    return this.subscribed.map((p) => p.id);
  }

  async poll(pointIds: readonly string[]): Promise<PollResult> {
    this.ensureRunning();
    const pts = pointIds.map((id) => this.points.get(id)).filter((p): p is OpcuaPointConfig => p !== undefined);
    if (pts.length === 0) return { samples: [], requests: 0, failed: false };
    const session = await this.readySession();
    if (!session) {
      const e = this.lastError ?? { quality: 'bad_comm' as Quality, message: `not connected to ${this.d.endpointUrl}` };
      return { samples: pts.map((p) => this.bad(p.id, e)), requests: 0, failed: true, error: e.message };
    }
    try {
      const nodes = pts.map((p) => ({ nodeId: p.nodeId, attributeId: AttributeIds.Value }));
      const dvs: DataValue[] = await withTimeout(session.read(nodes, 0), this.d.timeoutMs, `Read of ${nodes.length} nodes`);
      const now = Date.now();
      return { samples: dvs.map((dv, i) => toSample(pts[i]!.id, dv, now)), requests: 1, failed: false };
    } catch (err) {
      const e = this.explain(err);
      return { samples: pts.map((p) => this.bad(p.id, e)), requests: 1, failed: true, error: e.message };
    }
  }

  /**
   * Writes the Value attribute with the variable's own data type (its DataType attribute, read once
   * and cached; the config's `type` when the server does not say), so the server gets an Int16
   * for an Int16 node and not a Double.
   */
  async write(pointId: string, value: Value): Promise<void> {
    const p = this.points.get(pointId);
    if (!p) throw new WriteError('not_found', `device ${this.deviceId} has no point "${pointId}"`);
    this.ensureRunning();
    const session = await this.readySession();
    if (!session) {
      throw new WriteError('device_error', `cannot write ${this.deviceId}/${pointId}: ${this.lastError?.message ?? `not connected to ${this.d.endpointUrl}`}`);
    }
    const what = `${this.deviceId}/${pointId} (${p.nodeId})`;
    let status: StatusCode;
    try {
      if (!this.dataTypes.has(pointId)) await this.learnTypes(session);
      const configured = p.type !== undefined ? dataTypeOf(p.type) : undefined;
      const dataType = this.dataTypes.get(pointId) ?? configured;
      if (dataType === undefined) {
        throw new WriteError('device_error', `cannot learn the data type of ${what} from its DataType attribute: set type in the point's config`);
      }
      const variant = toVariant(dataType, value, what);
      status = await withTimeout(
        session.write({ nodeId: p.nodeId, attributeId: AttributeIds.Value, value: { value: variant } }),
        this.d.timeoutMs,
        `Write of ${p.nodeId}`,
      );
    } catch (err) {
      if (err instanceof WriteError) throw err;
      const e = this.explain(err);
      throw new WriteError(e.quality === 'bad_no_response' ? 'timeout' : 'device_error', `writing ${what} failed: ${e.message}`);
    }
    if (status.isNotGood()) {
      const name = status.name;
      const code = /NotWritable|UserAccessDenied/.test(name) ? 'not_writable' : /TypeMismatch|OutOfRange/.test(name) ? 'invalid_value' : 'device_error';
      throw new WriteError(code, `the server refused the write of ${what}: ${describeStatus(status)}`);
    }
  }

  pointTypes(): ReadonlyMap<string, OpcuaPointType> {
    return this.types;
  }

  onPointTypes(listener: () => void): void {
    this.typeListeners.push(listener);
  }

  /**
   * Reads the DataType attribute of every point whose type is not known yet, resolved to its
   * built-in type (node-opcua walks HasSubtype for Duration, UtcTime, enumerations...). A node
   * the server does not know stays untyped; its reads report the error.
   */
  private async learnTypes(session: ClientSession): Promise<void> {
    const todo = this.d.points.filter((p) => !this.dataTypes.has(p.id));
    if (todo.length === 0) return;
    let changed = false;
    await Promise.all(
      todo.map(async (p) => {
        let dt: DataType;
        try {
          dt = await withTimeout(session.getBuiltInDataType(resolveNodeId(p.nodeId)), this.d.timeoutMs, `DataType of ${p.nodeId}`);
        } catch {
          return;
        }
        if (dt === DataType.Null) return;
        this.dataTypes.set(p.id, dt);
        const learnt = pointTypeOf(dt);
        if (p.type !== undefined) {
          if (learnt !== undefined && learnt !== p.type) {
            this.ctx.logger?.warn(
              { device: this.deviceId, point: p.id },
              `point ${this.deviceId}/${p.id} is configured as ${p.type} but ${p.nodeId} is a ${DataType[dt]} (${learnt}) on the server: values are logged as ${p.type}`,
            );
          }
          return;
        }
        if (learnt !== undefined && this.types.get(p.id) !== learnt) {
          this.types.set(p.id, learnt);
          changed = true;
        }
      }),
    );
    if (changed) for (const l of this.typeListeners) l();
  }

  /**
   * Every point read once (the UI's test read of a device not polled yet): waits for the first
   * connection attempt to end, however long session set-up takes within its own timeouts.
   */
  async readOnce(): Promise<PollResult> {
    this.ensureRunning();
    await this.connecting?.catch(() => undefined);
    return this.poll([...this.points.keys()]);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.signalLost('closing');
    this.wake();
    await this.loop;
    await this.pki.release();
  }

  private ensureRunning(): void {
    if (this.loop || this.closed) return;
    this.loop = this.run();
  }

  /** The current session; waits for a connection attempt in progress, within timeoutMs. */
  private async readySession(): Promise<ClientSession | null> {
    if (this.session) return this.session;
    if (this.connecting) {
      await withTimeout(this.connecting, this.d.timeoutMs, 'connect').catch(() => undefined);
    }
    return this.session;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      const lost = new Promise<string>((resolve) => {
        this.signalLost = resolve;
      });
      try {
        this.connecting = this.connectOnce();
        await this.connecting;
        failures = 0;
        const reason = await lost;
        if (this.closed) break;
        this.markDown({ quality: 'bad_comm', message: `connection to ${this.d.endpointUrl} lost: ${reason}` });
      } catch (err) {
        if (this.closed) break;
        this.failedConnects++;
        this.markDown(this.explain(err));
      } finally {
        this.connecting = null;
      }
      await this.teardown(false);
      failures++;
      await this.backoff(failures);
    }
    await this.teardown(true);
  }

  private async connectOnce(): Promise<void> {
    // Before any connection: a refused auth file is a config fault, not the server's.
    const identity = userIdentity(this.d.auth, this.ctx.readSecret ?? secretReader(this.ctx, this.ctx.logger));
    await this.pki.ready;
    const client = createClient({
      securityMode: this.d.securityMode,
      securityPolicy: this.d.securityPolicy,
      timeoutMs: this.d.timeoutMs,
      certificateManager: this.pki.manager,
    });
    this.client = client;
    // Events of a client already torn down must not end the next connection.
    const lose = (reason: string) => {
      if (this.client === client) this.signalLost(reason);
    };
    client.on('connection_lost', () => lose('connection lost'));
    client.on('close', () => lose('connection closed'));
    await withTimeout(client.connect(this.d.endpointUrl), this.d.timeoutMs + 5000, `connect to ${this.d.endpointUrl}`);
    const session = await withTimeout(client.createSession(identity), this.d.timeoutMs + 5000, 'CreateSession');
    this.sessions++;
    session.on('session_closed', () => lose('session closed'));
    session.on('keepalive_failure', () => lose('session keep-alive failed'));
    this.session = session;
    this.subscriptionsReady = false;
    // Types first: no value reaches the pipeline before its point's type is known.
    await this.learnTypes(session);
    if (this.sink) await this.createSubscriptions(session);
    this.lastError = null;
    if (this.downSince === null) {
      this.ctx.logger?.info({ device: this.deviceId, endpoint: this.d.endpointUrl, session: this.sessions }, 'OPC UA session established');
    } else {
      const downMs = this.schedule.timers.now() - this.downSince;
      this.downSince = null;
      this.ctx.logger?.info(
        { device: this.deviceId, endpoint: this.d.endpointUrl, session: this.sessions, event: 'device_recovered', downMs: Math.round(downMs) },
        `device "${this.deviceId}" answers again after ${(downMs / 1000).toFixed(1)} s (OPC UA session ${this.sessions} with ${this.d.endpointUrl})`,
      );
    }
  }

  private async createSubscriptions(session: ClientSession): Promise<void> {
    const byPublishing = new Map<number, OpcuaPointConfig[]>();
    for (const p of this.subscribed) {
      const interval = p.publishingIntervalMs ?? this.d.publishingIntervalMs;
      byPublishing.set(interval, [...(byPublishing.get(interval) ?? []), p]);
    }
    // Monotonic: a wall clock set back must not silence the watchdog, nor one set ahead fire it.
    let lastHeard = monoNow();
    let deadAfterMs = 0;
    let shortestInterval = Infinity;
    const rejected: Sample[] = [];
    for (const [publishingInterval, points] of byPublishing) {
      const maxKeepAliveCount = Math.max(2, Math.ceil(KEEPALIVE_TARGET_MS / publishingInterval));
      const sub = await session.createSubscription2({
        requestedPublishingInterval: publishingInterval,
        requestedMaxKeepAliveCount: maxKeepAliveCount,
        requestedLifetimeCount: maxKeepAliveCount * 6,
        maxNotificationsPerPublish: 1000,
        publishingEnabled: true,
        priority: 10,
      });
      if (session !== this.session) return;
      this.subscriptions.push(sub);
      deadAfterMs = Math.max(deadAfterMs, 3 * sub.publishingInterval * sub.maxKeepAliveCount + this.d.timeoutMs);
      shortestInterval = Math.min(shortestInterval, sub.publishingInterval);
      const heard = () => {
        lastHeard = monoNow();
      };
      sub.on('keepalive', heard);
      sub.on('received_notifications', heard);
      sub.on('terminated', () => {
        if (session === this.session) this.signalLost('subscription terminated');
      });

      // One CreateMonitoredItems call per distinct set of monitoring parameters.
      const byParams = new Map<string, { params: MonitoringParametersOptions; points: OpcuaPointConfig[] }>();
      for (const p of points) {
        const params = this.monitoringParameters(p, publishingInterval);
        const key = JSON.stringify([p.samplingIntervalMs ?? this.d.samplingIntervalMs, p.deadbandFilter]);
        const g = byParams.get(key) ?? { params, points: [] };
        g.points.push(p);
        byParams.set(key, g);
      }
      for (const { params, points: group } of byParams.values()) {
        const items = group.map((p) => ({ nodeId: p.nodeId, attributeId: AttributeIds.Value }));
        const monitored = await sub.monitorItems(items, params, TimestampsToReturn.Both);
        monitored.on('changed', (_item, dv: DataValue, index: number) => {
          const p = group[index];
          if (p) this.deliver([toSample(p.id, dv)]);
        });
        monitored.monitoredItems.forEach((item, i) => {
          const sc = item.statusCode;
          if (sc && sc.isNotGood()) rejected.push(this.rejectedSample(group[i]!, describeStatus(sc)));
        });
      }
    }
    if (session !== this.session) return;
    this.subscriptionsReady = true;
    this.downReported = false;
    if (rejected.length) this.deliver(rejected);
    if (deadAfterMs > 0) {
      // A silently dropped link (a 4G modem losing carrier) sends no TCP reset. Keep-alives
      // come only every ~KEEPALIVE_TARGET_MS, and waiting for three of them would hide the
      // outage for 15 s and more: once the server has been silent for a publishing interval,
      // a Read of the server's clock must answer within timeoutMs, so an outage shows within
      // one interval plus the timeout. The keep-alive watchdog stays for a subscription the
      // server dropped while still answering reads.
      const checkEveryMs = Math.max(PROBE_CHECK_MIN_MS, Math.min(shortestInterval, PROBE_INTERVAL_MS) / 4);
      let probing = false;
      this.watchdog = setInterval(() => {
        const silent = Math.round(monoNow() - lastHeard);
        if (silent > deadAfterMs) {
          this.signalLost(`no publish response for ${silent} ms`);
          return;
        }
        if (probing || silent <= shortestInterval || session !== this.session) return;
        probing = true;
        const asked = monoNow();
        withTimeout(session.read({ nodeId: SERVER_CURRENT_TIME, attributeId: AttributeIds.Value }), this.d.timeoutMs, 'keep-alive Read')
          .then(
            () => {
              // The server answers: the link is alive, and the subscription's own keep-alive is due later.
              lastHeard = Math.max(lastHeard, asked);
            },
            () => {
              if (session === this.session) this.signalLost(`no answer within ${this.d.timeoutMs} ms after ${silent} ms without a publish response`);
            },
          )
          .finally(() => {
            probing = false;
          });
      }, checkEveryMs);
      this.watchdog.unref();
    }
  }

  private monitoringParameters(p: OpcuaPointConfig, publishingInterval: number): MonitoringParametersOptions {
    const samplingInterval = p.samplingIntervalMs ?? this.d.samplingIntervalMs;
    const f = p.deadbandFilter;
    return {
      samplingInterval,
      discardOldest: true,
      // Keeps every sample taken within one publishing interval.
      queueSize: Math.min(100, Math.max(1, Math.ceil(publishingInterval / Math.max(1, samplingInterval)) + 1)),
      filter: f
        ? new DataChangeFilter({
            trigger: DataChangeTrigger.StatusValue,
            deadbandType: f.type === 'absolute' ? DeadbandType.Absolute : DeadbandType.Percent,
            deadbandValue: f.value,
          })
        : null,
    };
  }

  private rejectedSample(p: OpcuaPointConfig, status: string): Sample {
    let message = `the server refused to monitor ${p.nodeId}: ${status}`;
    if (p.deadbandFilter?.type === 'percent' && /Filter|Deadband/i.test(status)) {
      message =
        `the server rejected the percent deadband on ${p.nodeId} (${status}): a percent deadband needs the node's ` +
        'EURange property (an AnalogItem); use deadband {type: absolute, value} for this node';
    }
    const quality: Quality = /NodeId|Filter|Deadband|NotReadable|AccessDenied|Attribute/.test(status) ? 'bad_config' : 'bad_device_error';
    this.ctx.logger?.warn({ device: this.deviceId, point: p.id }, message);
    return { point: p.id, ts: Date.now(), value: null, quality, error: message };
  }

  private deliver(samples: Sample[]): void {
    if (this.closed || !this.sink) return;
    this.sink(samples);
  }

  private bad(point: string, e: Explained): Sample {
    return { point, ts: Date.now(), value: null, quality: e.quality, error: e.message };
  }

  /** Once per outage, every subscribed point turns bad so the center sees the gap. */
  private markDown(e: Explained): void {
    const first = this.lastError === null || this.lastError.message !== e.message;
    this.lastError = e;
    // One line per outage, and one more only when the server's answer changes.
    const event = this.downSince === null ? 'device_failed' : 'device_still_failing';
    const how = this.downSince === null ? 'stopped answering' : 'still not answering';
    this.downSince ??= this.schedule.timers.now();
    if (first) this.ctx.logger?.warn({ device: this.deviceId, quality: e.quality, event, error: e.message }, `device "${this.deviceId}" ${how}: ${e.message}`);
    if (this.downReported || !this.sink) return;
    this.downReported = true;
    this.deliver(this.subscribed.map((p) => this.bad(p.id, e)));
  }

  private explain(err: unknown): Explained {
    return explainError(err, { endpointUrl: this.d.endpointUrl, auth: this.d.auth, pkiFolder: pkiFolder(this.ctx.dataDir) });
  }

  private async backoff(failures: number): Promise<void> {
    if (this.closed) return;
    const { minMs, maxMs } = this.d.backoff;
    const wait = waitBeforeReconnect(
      { delayMs: reconnectBackoffMs(failures, minMs, maxMs), ...this.address, refusedUs: this.lastError?.quality === 'bad_config' },
      this.schedule,
    );
    this.wake = wait.wake;
    await wait.done;
    this.wake = () => undefined;
  }

  private async teardown(graceful: boolean): Promise<void> {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    const session = this.session;
    const client = this.client;
    this.session = null;
    this.client = null;
    this.subscriptions = [];
    this.subscriptionsReady = false;
    if (session && graceful) {
      await withTimeout(session.close(true), this.d.timeoutMs, 'CloseSession').catch(() => undefined);
    }
    if (client) {
      client.removeAllListeners();
      // A closed client must not answer a dead socket with an 'error' nobody listens to.
      (client as unknown as NodeJS.EventEmitter).on('error', () => undefined);
      await withTimeout(client.disconnect(), this.d.timeoutMs, 'disconnect').catch(() => undefined);
    }
  }
}
