import { accessSync, constants, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { codecByName, Uplink, type UplinkStatus } from '@kedge/cloud-sync';
import type { ResendAnswer } from '@kedge/cloud-sync/north/mqtt/uplink.ts';
import { BDSEQ_COUNTER, SparkplugUplink } from '@kedge/cloud-sync/north/sparkplug/sparkplug-uplink.ts';
import { sparkplugMetricDefs } from '@kedge/cloud-sync/sparkplug/topics.ts';
import type { LogRecord, Reading } from '@kedge/cloud-sync/model.ts';
import { systemClock, type Clock, type ClockStatus, type ClockWatch } from '@kedge/cloud-sync/clock.ts';
import type { TransportSink, TransportSinkStatus } from '@kedge/cloud-sync/north/transport-sink.ts';
import { createHttpSink } from '@kedge/cloud-sync/north/http/sink.ts';
import type { HttpSinkConfig } from '@kedge/cloud-sync/north/http/schema.ts';
import type { GatewayConfig, SinkConfig, UplinkConfig } from './config/schema.ts';
import { readSecretFile, secretFileProblem, secretRoots } from './secrets.ts';
import { createDriver } from './drivers/registry.ts';
import type { DeviceDriver } from './drivers/driver.ts';
import { writePoint, type WriteResult, type WriteValue } from './commands/write-point.ts';
import { ReadingLog, type LogStats } from './log/reading-log.ts';
import { brokerConnection } from './mqtt-connection.ts';
import { Pipeline, type LiveValue, type PipelinePoint } from './pipeline/pipeline.ts';
import { watchBoxClock } from './pipeline/box-clock.ts';
import { Scheduler, type DeviceState, type PollGroup, type PollListener, type ScheduledDevice } from './scheduler/scheduler.ts';
import { DeviceHealthLog } from './scheduler/health-log.ts';
import { driverContext } from './driver-context.ts';
import { GatewaySparkplugDevices, sparkplugWriter, type SparkplugSouth } from './sparkplug-devices.ts';

/** `{ key: value }` when value is defined, else `{}`: births leave unknown fields out. */
const optional = <K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> =>
  (value === undefined ? {} : { [key]: value }) as Partial<Record<K, V>>;

export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

/** How long a clean stop waits for the uplink to deliver what is logged (systemd allows 90 s). */
const STOP_DRAIN_MS = 5000;

export interface GatewayStatus {
  gateway: string;
  region: string;
  municipality: string;
  version: string;
  startedAt: number;
  uptimeMs: number;
  /** The primary uplink (config.uplink: the center's link). */
  uplink: UplinkStatus | null;
  /** Every configured uplink, in config order. */
  uplinks: SinkStatusEntry[];
  log: LogStats;
  devices: DeviceState[];
  live: Record<string, LiveValue>;
  /** The wall clock as the box judges it (jumps, known wrong); cloud-sync/src/clock.ts. */
  clock: ClockStatus;
  /** Clock.mono when this status was taken: ages of DeviceState.lastPollMono are measured from it. */
  monoNow: number;
}

/** One uplink as status pages, /healthz and metrics show it. */
export interface SinkStatusEntry {
  name: string;
  kind: SinkConfig['kind'];
  /** The sink's own status (MQTT: UplinkStatus; HTTP: TransportSinkStatus); both have state, url, ackedSeq, lastError. */
  status: UplinkStatus | TransportSinkStatus;
  /** Readings this uplink never delivered because the log evicted them first. */
  evicted: number;
}

type NorthSink = Uplink | SparkplugUplink | TransportSink;

/** Rows of the log's cursors table that count something rather than hold a sink's position. */
export const LOG_COUNTERS: readonly string[] = [BDSEQ_COUNTER];

interface BuiltSink {
  config: SinkConfig;
  sink: NorthSink;
  /** What decides a rebuild on reload: its settings and what its births carry. */
  key: string;
}

/**
 * The composition root: south (drivers, scheduler) -> pipeline -> log -> north (uplink).
 * Each layer only hands its output to the next one; the gateway wires them and swaps the
 * southern half on a config reload without touching the log.
 */
export class Gateway {
  private config: GatewayConfig;
  readonly log: ReadingLog;
  private pipeline!: Pipeline;
  private scheduler!: Scheduler;
  private drivers: DeviceDriver[] = [];
  /** Every configured uplink by name (`uplinks:`); each name is its log cursor. */
  private sinks = new Map<string, BuiltSink>();
  /** Wall clock for stamps, monotonic for every wait (scheduler, heartbeats, uptime). */
  readonly clock: Clock;
  private readonly clockWatch: ClockWatch;
  private readonly startedAt: number;
  private readonly startedMono: number;
  /** Set by the OTA agent (gateway/src/ota); its state rides in the retained birth message. */
  otaStatus: (() => unknown) | null = null;
  private readonly pollListeners = new Set<PollListener>();
  private readonly readingListeners = new Set<(readings: readonly Reading[]) => void>();
  /** The console and UI log lines about devices failing, refusing reads and recovering. */
  private readonly health: DeviceHealthLog;
  private readonly reloadListeners = new Set<(next: GatewayConfig, prev: GatewayConfig) => void>();
  /** The tail of the queue of reloads (reload()). */
  private reloads: Promise<unknown> = Promise.resolve();

  constructor(
    config: GatewayConfig,
    private readonly logger: Logger,
    /** Test seam: a clock whose wall time the test jumps (cloud-sync/src/clock.ts OffsetClock). */
    options: { clock?: Clock } = {},
  ) {
    this.config = config;
    this.clock = options.clock ?? systemClock;
    this.startedAt = this.clock.wall();
    this.startedMono = this.clock.mono();
    this.clockWatch = watchBoxClock({
      clock: this.clock,
      dataDir: config.dataDir,
      logger: logger.child({ layer: 'clock' }),
      // The retained status tells the center at once (readings carry uncertain_clock anyway).
      onChange: () => setImmediate(() => this.rebirthAll()),
    });
    this.health = new DeviceHealthLog(logger.child({ layer: 'south' }));
    this.log = new ReadingLog(join(config.dataDir, 'log.db'), {
      maxBytes: config.log.maxBytes,
      flushMs: config.log.flushMs,
      flushRows: config.log.flushRows,
      synchronous: config.log.synchronous,
      retainAckedMs: config.log.retainAckedMs,
      maxBufferedReadings: config.log.maxBufferedReadings,
      onWarn: (msg, details) => logger.warn(details, msg),
      onInfo: (msg, details) => logger.info(details, msg),
    });
    if (this.log.recoveredFromCrash) {
      logger.warn({ lastSeq: this.log.lastSeq() }, 'reading log was not closed cleanly (crash or power loss); integrity check passed');
    }
  }

  start(): void {
    this.buildSouth();
    this.scheduler.start();
    // Cursors of uplinks no longer configured are dropped here (logged): they must not hold the log back.
    this.log.setSinks(
      this.config.uplinks.map((u) => u.name),
      LOG_COUNTERS,
    );
    for (const u of this.config.uplinks) this.startSink(u);
    this.logger.info(
      { gateway: this.config.gateway.id, devices: this.config.devices.length, lastSeq: this.log.lastSeq(), version: VERSION },
      'gateway started',
    );
  }

  private buildSouth(): void {
    const enabled = this.config.devices.filter((d) => d.enabled);
    const sessionLogged = new Set(enabled.filter((d) => d.driver === 'opcua').map((d) => d.id));
    const points: PipelinePoint[] = enabled.flatMap((d) =>
      d.points.map((p) => ({
        key: `${d.id}/${p.id}`,
        scale: p.scale,
        offset: p.offset,
        deadband: p.deadband,
        heartbeatMs: p.heartbeatMs,
      })),
    );
    this.pipeline = new Pipeline(
      points,
      (readings) => {
        this.log.append(readings);
        // After the append: a live consumer never sees a reading the log does not hold.
        for (const listener of this.readingListeners) listener(readings);
      },
      { mono: () => this.clock.mono(), clockWrong: (since) => this.clockWatch.wrongSince(since) },
    );
    const pipeline = this.pipeline;
    const scheduled: ScheduledDevice[] = enabled.flatMap((d) => {
      const driver = createDriver(d, driverContext(this.config, this.logger));
      this.drivers.push(driver);
      // Types learnt from the device (OPC UA DataType) belong in the birth: send it again with them.
      driver.onPointTypes?.(() => {
        if (!this.drivers.includes(driver)) return;
        // Sparkplug: datatypes are fixed per birth; only a born device whose types changed is born again.
        for (const { sink } of this.sinks.values()) {
          if (sink instanceof SparkplugUplink) sink.pointTypesLearnt(d.id);
          else if (sink instanceof Uplink) sink.rebirth();
        }
      });
      // Push drivers (OPC UA subscriptions) deliver their points themselves; the scheduler polls the rest.
      const pushed = new Set(driver.subscribe?.((samples) => pipeline.ingest(d.id, samples)) ?? []);
      const byInterval = new Map<number, string[]>();
      for (const p of d.points) {
        if (pushed.has(p.id)) continue;
        const interval = p.intervalMs ?? d.intervalMs;
        byInterval.set(interval, [...(byInterval.get(interval) ?? []), p.id]);
      }
      const groups: PollGroup[] = [...byInterval].map(([intervalMs, pointIds]) => ({ intervalMs, pointIds }));
      return groups.length ? [{ driver, groups, backoff: d.backoff }] : [];
    });
    this.scheduler = new Scheduler(scheduled, (deviceId, result, durationMs, state) => {
      // From the poll's start: a clock known wrong at any time during the poll marks its readings.
      this.pipeline.ingest(deviceId, result.samples, state.lastPollMono ?? undefined);
      // After the readings: a listener or the console failing must not cost a reading. OPC UA
      // drivers say when their session goes and comes themselves (one line, not two).
      if (!sessionLogged.has(deviceId)) this.health.observe(deviceId, result, state);
      for (const listener of this.pollListeners) listener(deviceId, result, durationMs, state);
    }, this.clock);
  }

  /** Builds and starts one uplink; a sink that cannot be built (a secret file gone) is logged, the others go on. */
  private startSink(u: SinkConfig): void {
    let sink: NorthSink;
    try {
      sink = this.buildSink(u);
    } catch (err) {
      this.logger.error({ uplink: u.name, kind: u.kind, err: (err as Error).message }, `uplink "${u.name}" cannot start; the log keeps its readings`);
      return;
    }
    this.sinks.set(u.name, { config: u, sink, key: this.sinkKey(u, this.config) });
    sink.start();
  }

  /** Settings that, when changed, rebuild a sink on reload (Sparkplug births also list every device). */
  private sinkKey(u: SinkConfig, c: GatewayConfig): string {
    return JSON.stringify([u, c.gateway, u.kind === 'sparkplug' ? c.devices : null, u.name === c.uplink.name]);
  }

  /** Every registered kind has its builder here (the type makes a missing one a compile error). */
  private buildSink(u: SinkConfig): NorthSink {
    switch (u.kind) {
      case 'mqtt':
      case 'sparkplug':
        return this.buildUplink(u);
      case 'http':
        return this.buildHttpSink(u);
      default: {
        const never: never = u;
        throw new Error(`no builder for uplink kind ${(never as SinkConfig).kind}`);
      }
    }
  }

  private buildHttpSink(u: HttpSinkConfig): TransportSink {
    const roots = secretRoots(this.config);
    const read = (path: string | undefined, secret = false) => {
      if (!path) return undefined;
      const problem = secret ? secretFileProblem(path) : null;
      if (problem) this.logger.warn({ file: path, uplink: u.name }, problem);
      return readSecretFile(path, roots);
    };
    return createHttpSink(u, {
      log: this.log,
      gateway: this.config.gateway.id,
      logger: this.logger.child({ layer: 'uplink', uplink: u.name }),
      bearerToken: read(u.tokenFile, true)?.toString('utf8').trim(),
      tls: u.tls ? { ca: read(u.tls.ca), cert: read(u.tls.cert), key: read(u.tls.key, true), rejectUnauthorized: u.tls.rejectUnauthorized } : undefined,
    });
  }

  private buildUplink(u: UplinkConfig): Uplink | SparkplugUplink {
    const c = this.config;
    const primary = u.name === c.uplink.name;
    // Secret files only from the secrets folders, links resolved (mqtt-connection.ts, secrets.ts).
    // Each MQTT uplink needs its own session at its broker: all but the primary get their name appended.
    const broker = brokerConnection(u, {
      gatewayId: c.gateway.id,
      roots: secretRoots(c),
      ...(primary || u.clientId !== undefined ? {} : { clientSuffix: `-${u.name}` }),
      warn: (file, problem) => this.logger.warn({ file }, problem),
    });
    // The MQTT session settings both uplinks share (cloud-sync/src/north/mqtt/log-publisher.ts).
    const session = {
      log: this.log,
      cursorName: u.name,
      ...broker,
      batchMaxReadings: u.batchMaxReadings,
      batchMaxDelayMs: u.batchMaxDelayMs,
      inflight: u.inflight,
      ackTimeoutMs: u.ackTimeoutMs,
      reconnectMinMs: u.reconnectMinMs,
      reconnectMaxMs: u.reconnectMaxMs,
      reconnectSpreadMs: u.reconnectSpreadMs,
      maxReadingsPerSec: u.maxReadingsPerSec,
      liveFirst: u.liveFirst,
      liveFirstAfterMs: u.liveFirstAfterMs,
      backlogShare: u.backlogShare,
      logger: this.logger.child(primary && u.name === 'uplink' ? { layer: 'uplink' } : { layer: 'uplink', uplink: u.name }),
    };
    if (u.codec === 'sparkplug') {
      // spBv1.0/<municipality>/{NBIRTH,DDATA,...}/<gateway id>/<device id>: see cloud-sync/src/sparkplug/README.md
      // Device presence, current values, point types and DCMD writes (gateway/src/sparkplug-devices.ts).
      const south: SparkplugSouth = {
        // This sink's Sparkplug options (writes, birth wait), whichever uplink is the primary.
        config: () => ({ ...this.config, uplink: this.sinks.get(u.name)?.config.kind === 'sparkplug' ? (this.sinks.get(u.name)!.config as UplinkConfig) : u }),
        live: (key) => this.pipeline.liveValues().get(key),
        driver: (id) => this.drivers.find((d) => d.deviceId === id),
        polled: (id) => this.scheduler.states().some((s) => s.deviceId === id),
        onPoll: (listener) => this.onPoll(listener),
        onReadings: (listener) => this.onReadings(listener),
        writePoint: (device, point, value) => this.writePoint(device, point, value),
        ingest: (device, samples) => void this.pipeline.ingest(device, samples),
      };
      return new SparkplugUplink({
        ...session,
        group: c.gateway.municipality,
        edgeNode: c.gateway.id,
        metrics: sparkplugMetricDefs(c.devices),
        devices: new GatewaySparkplugDevices(south),
        write: sparkplugWriter(south),
        ddataQos: u.sparkplug.ddataQos,
        birthWaitMs: u.sparkplug.birthWaitMs,
        primaryHostId: u.sparkplug.primaryHostId,
        maxQueuedWritesPerDevice: u.sparkplug.maxQueuedWrites,
        rebirthMinIntervalMs: u.sparkplug.rebirthMinIntervalMs,
      });
    }
    return new Uplink({
      ...session,
      // Sparkplug hosts do not confirm (broker mode above); kedge's ingest does.
      ackMode: u.ackMode,
      resendAfterSilenceMs: u.resendAfterSilenceMs,
      identity: { prefix: u.topicPrefix, region: c.gateway.region, municipality: c.gateway.municipality, gateway: c.gateway.id },
      codec: codecByName(u.codec),
      birth: () => ({
        version: VERSION,
        ota: this.otaStatus?.() ?? undefined,
        name: c.gateway.name,
        lastSeq: this.log.lastSeq(),
        // What this uplink never got because the log evicted it (another uplink may have had it).
        evictedTotal: this.log.sinkEvicted(u.name),
        // The box's own judgement of its wall clock; re-sent when it changes (watchBoxClock onChange).
        clock: (({ state, reason, jumps }) => ({ state, reason, jumps }))(this.clockWatch.check()),
        // How this log came to be: a reset (damaged or missing file) names the previous epoch and why.
        log: this.log.identity,
        points: c.devices
          .filter((d) => d.enabled)
          // unit is the UCUM code (normalized at config load); type tells the center how to read values.
          .flatMap((d) =>
            d.points.map((p) => ({
              point: `${d.id}/${p.id}`,
              unit: p.unit,
              name: p.name,
              writable: p.writable,
              ...optional('type', this.pointType(d.id, p)),
            })),
          ),
      }),
    });
  }

  /**
   * Applies a new, already validated config. Devices are rebuilt; the uplink is restarted only
   * when its settings or the gateway identity changed. The log keeps running throughout.
   */
  reload(next: GatewayConfig): Promise<void> {
    // One at a time, in the order asked (SIGHUP, UI and commands may overlap): two reloads
    // interleaved would both stop the same scheduler and each start one, leaving one orphaned.
    const run = this.reloads.then(() => this.reloadNow(next));
    this.reloads = run.catch(() => {});
    return run;
  }

  /**
   * Rebuilds only the uplinks whose settings (or, for Sparkplug, devices; or the gateway identity)
   * changed; stops removed ones, whose cursors the log then drops; starts new ones. The others
   * keep their sessions: a new HTTP sink must not make the regional broker reconnect.
   */
  private async reloadSinks(): Promise<void> {
    const wanted = new Map(this.config.uplinks.map((u) => [u.name, u]));
    const stale = [...this.sinks.entries()].filter(([name, built]) => {
      const u = wanted.get(name);
      return u === undefined || this.sinkKey(u, this.config) !== built.key;
    });
    await Promise.all(stale.map(([, built]) => built.sink.stop()));
    for (const [name] of stale) this.sinks.delete(name);
    this.log.setSinks([...wanted.keys()], LOG_COUNTERS);
    for (const u of this.config.uplinks) {
      const built = this.sinks.get(u.name);
      // Same settings: keep the session, but take the new entry (same content) as its config.
      if (built) built.config = u;
      else this.startSink(u);
    }
    if (stale.length > 0) this.logger.info({ uplinks: stale.map(([name]) => name) }, 'uplinks restarted with new settings (or removed)');
  }

  private async reloadNow(next: GatewayConfig): Promise<void> {
    const prev = this.config;
    if (next.dataDir !== prev.dataDir || JSON.stringify(next.log) !== JSON.stringify(prev.log)) {
      this.logger.warn('dataDir and log settings take effect at the next restart');
    }
    await this.stopSouth();
    this.config = { ...next, dataDir: prev.dataDir, log: prev.log };
    this.buildSouth();
    this.scheduler.start();
    await this.reloadSinks();
    this.logger.info({ devices: next.devices.length }, 'config reloaded');
    for (const listener of this.reloadListeners) {
      try {
        listener(this.config, prev);
      } catch (err) {
        this.logger.error({ err: (err as Error).message }, 'a reload listener failed');
      }
    }
  }

  /**
   * Observes every applied config (the command downlink and the OTA agent reconnect when the
   * broker settings changed); returns the unsubscribe function. Called after the reload, not
   * awaited by it: a listener that waits for a command in progress (which may be the one that
   * asked for this reload) must not hold the reload up.
   */
  onReload(listener: (next: GatewayConfig, prev: GatewayConfig) => void): () => void {
    this.reloadListeners.add(listener);
    return () => this.reloadListeners.delete(listener);
  }

  private async stopSouth(): Promise<void> {
    await this.scheduler.stop();
    await Promise.all(this.drivers.map((d) => d.close()));
    this.drivers = [];
    this.log.flush();
  }

  /**
   * Writes one point marked `writable: true`, in engineering units (scale and offset are
   * reversed). Throws a WriteError (drivers/write-error.ts). The new value is logged by the
   * next poll or data change, as read back from the device.
   */
  writePoint(deviceId: string, pointId: string, value: WriteValue): Promise<WriteResult> {
    return writePoint(this.config, (id) => this.drivers.find((d) => d.deviceId === id), deviceId, pointId, value);
  }

  /** The primary uplink (config.uplink: the center's link), when it runs. */
  private get uplink(): Uplink | SparkplugUplink | null {
    const sink = this.sinks.get(this.config.uplink.name)?.sink;
    return sink instanceof Uplink || sink instanceof SparkplugUplink ? sink : null;
  }

  /** Re-sends the primary uplink's birth message; false while it is offline (it is sent on connect anyway). */
  rebirth(): boolean {
    return this.uplink?.rebirth() ?? false;
  }

  /** Every MQTT uplink's birth again (the box clock's judgement changed). */
  private rebirthAll(): void {
    for (const { sink } of this.sinks.values()) if (sink instanceof Uplink || sink instanceof SparkplugUplink) sink.rebirth();
  }

  /** Every configured uplink's status, in config order (an uplink that could not start is absent). */
  uplinkStatuses(): SinkStatusEntry[] {
    return this.config.uplinks.flatMap((u) => {
      const built = this.sinks.get(u.name);
      return built ? [{ name: u.name, kind: u.kind, status: built.sink.status(), evicted: this.log.sinkEvicted(u.name) }] : [];
    });
  }

  /**
   * The center's request for a range it is missing (the `resend` command): answered from the
   * log. Null when the uplink cannot (Sparkplug hosts have their own rebirth-based recovery).
   */
  resend(first: number, last: number): ResendAnswer | null {
    return this.uplink instanceof Uplink ? this.uplink.resend(first, last) : null;
  }

  /**
   * A point's type as births describe it: the config's `type`, else what its driver learnt
   * from the device before the first value (an OPC UA node's DataType attribute); undefined
   * while an OPC UA server has not been reached yet.
   */
  pointType(deviceId: string, point: { id: string; type?: string | undefined }): string | undefined {
    return point.type ?? this.drivers.find((d) => d.deviceId === deviceId)?.pointTypes?.().get(point.id);
  }

  /** The config's devices with every point's type resolved by pointType(): the metadata of births. */
  describedDevices(): GatewayConfig['devices'] {
    return this.config.devices.map((d) => ({
      ...d,
      points: d.points.map((p) => {
        const type = this.pointType(d.id, p);
        return type === undefined ? p : { ...p, type };
      }),
    })) as GatewayConfig['devices'];
  }

  /** The config in force (after the last successful reload). */
  currentConfig(): GatewayConfig {
    return this.config;
  }

  /** Observes every poll (metrics); returns the unsubscribe function. */
  onPoll(listener: PollListener): () => void {
    this.pollListeners.add(listener);
    return () => this.pollListeners.delete(listener);
  }

  /**
   * Observes every reading that passed the pipeline and went into the log (the web UI's live
   * stream, Node-RED); returns the unsubscribe function. Listeners run synchronously: keep them cheap.
   */
  onReadings(listener: (readings: readonly Reading[]) => void): () => void {
    this.readingListeners.add(listener);
    return () => this.readingListeners.delete(listener);
  }

  /**
   * One point's logged readings since `sinceTs` (the UI's chart): a query, so the web layer
   * never holds the log itself.
   */
  recentReadings(pointKey: string, sinceTs: number): LogRecord[] {
    return this.log.recentReadings(pointKey, sinceTs);
  }

  /**
   * The log's state for /healthz: its stats, after checking that the file and its folder can
   * still be written (throws with the reason when not: read-only remount, removed folder).
   */
  logHealth(): LogStats {
    const stats = this.log.stats();
    if (this.log.path !== ':memory:') {
      accessSync(dirname(this.log.path), constants.W_OK);
      accessSync(this.log.path, constants.W_OK);
    }
    return stats;
  }

  status(): GatewayStatus {
    return {
      gateway: this.config.gateway.id,
      region: this.config.gateway.region,
      municipality: this.config.gateway.municipality,
      version: VERSION,
      startedAt: this.startedAt,
      uptimeMs: Math.round(this.clock.mono() - this.startedMono),
      uplink: this.uplink?.status() ?? null,
      uplinks: this.uplinkStatuses(),
      log: this.log.stats(),
      devices: this.scheduler.states(),
      live: Object.fromEntries(this.pipeline.liveValues()),
      clock: this.clockWatch.check(),
      monoNow: this.clock.mono(),
    };
  }

  /** Stops polling, commits every polled reading, says goodbye to the broker, closes the log. */
  async stop(): Promise<void> {
    // A reload under way finishes first: its new scheduler must not outlive the stop.
    await this.reloads;
    await this.stopSouth();
    // Each uplink drains on its own: one that is down must not shorten another's drain.
    await Promise.all([...this.sinks.values()].map(({ sink }) => sink.stop(STOP_DRAIN_MS)));
    this.sinks.clear();
    this.log.close();
    this.clockWatch.stop();
    this.logger.info('gateway stopped');
  }
}
