import { accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { BrokerLinkStatus } from '@kedge/cloud-sync/north/broker-link/link.ts';
import type { LogRecord, Reading, Value } from '@kedge/cloud-sync/model.ts';
import { systemClock, type Clock, type ClockStatus, type ClockWatch } from '@kedge/cloud-sync/clock.ts';
import { logCounters, SINKS, sinkBatchReadings, sinkDefinition } from '@kedge/cloud-sync/north/registry.ts';
import type { CurrentValue, NorthContext, NorthSink, NorthSouth, ResendAnswer, SinkDefinition, SinkStatusBase } from '@kedge/cloud-sync/north/sink.ts';
import type { GatewayConfig, SinkConfig } from './config/schema.ts';
import { readSecretFile, secretFileProblem, secretRoots } from './secrets.ts';
import { createDriver, DRIVERS, logsOwnSession, type DriverDefinition } from './drivers/registry.ts';
import { unavailableDriver } from './drivers/unavailable-driver.ts';
import type { DeviceDriver } from './drivers/driver.ts';
import { writePoint, type WriteResult, type WriteValue } from './commands/write-point.ts';
import { ReadingLog, type LogStats } from './log/reading-log.ts';
import { brokerConnection } from './mqtt-connection.ts';
import { Pipeline, type LiveValue, type PipelinePoint } from './pipeline/pipeline.ts';
import { watchBoxClock } from './pipeline/box-clock.ts';
import { Scheduler, type DeviceState, type PollGroup, type PollListener, type ScheduledDevice } from './scheduler/scheduler.ts';
import { DeviceHealthLog } from './scheduler/health-log.ts';
import { driverContext } from './driver-context.ts';
import { VERSION } from './version.ts';

export { VERSION };

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
  uplink: PrimaryUplinkStatus | null;
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

/**
 * The primary uplink's status as the gateway reads it: the fields every sink reports, and the
 * broker link's positions (north/broker-link/link.ts), which a broker-linked sink reports and
 * readers treat as absent otherwise. No kind is named: any sink status is one.
 */
export type PrimaryUplinkStatus = SinkStatusBase & Partial<BrokerLinkStatus>;

/** One uplink as status pages, /healthz and metrics show it. */
export interface SinkStatusEntry {
  name: string;
  kind: SinkConfig['kind'];
  /** The sink's own status: SinkStatusBase, extended by each sink (serialised whole for the status pages). */
  status: SinkStatusBase;
  /** Readings this uplink never delivered because the log evicted them first. */
  evicted: number;
}

/** Rows of the log's cursors table that count something rather than hold a sink's position (SinkDefinition.logCounters). */
export const LOG_COUNTERS: readonly string[] = logCounters();

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
  /** No device until start() has created the drivers (status() works meanwhile). */
  private scheduler = new Scheduler([], () => undefined);
  private drivers: DeviceDriver[] = [];
  /** Stand-ins of devices whose driver could not be created, with why (unavailableDevices()). */
  private readonly unavailable = new WeakMap<DeviceDriver, { driver: string; reason: string }>();
  /** Every configured uplink by name (`uplinks:`); each name is its log cursor. */
  private sinks = new Map<string, BuiltSink>();
  /** The sink kinds this gateway builds (north/registry.ts). */
  private readonly sinkDefs: readonly SinkDefinition[];
  /** Their log counters: cursors rows setSinks must keep. */
  private readonly logCounters: readonly string[];
  /** The drivers this gateway creates devices with (drivers/registry.ts). */
  private readonly driverDefs: readonly DriverDefinition[];
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
  /** The tail of the queue of start, reloads and stop (one at a time, in the order asked). */
  private reloads: Promise<unknown> = Promise.resolve();
  /**
   * Set first thing in stop(): a reload asked from then on is a no-op, and a start or reload
   * under way stops what it built after each await instead of starting it (the log is closing).
   */
  private stopping = false;
  private stopped: Promise<void> | null = null;

  constructor(
    config: GatewayConfig,
    private readonly logger: Logger,
    options: {
      /** Test seam: a clock whose wall time the test jumps (cloud-sync/src/clock.ts OffsetClock). */
      clock?: Clock;
      /** Test seam: the sink kinds `uplinks:` entries are built from (north/registry.ts SINKS, plus a fixture). */
      sinks?: readonly SinkDefinition[];
      /** Test seam: the drivers devices are created by (drivers/registry.ts DRIVERS, plus a fixture). */
      drivers?: readonly DriverDefinition[];
    } = {},
  ) {
    this.config = config;
    this.driverDefs = options.drivers ?? DRIVERS;
    this.clock = options.clock ?? systemClock;
    this.sinkDefs = options.sinks ?? (SINKS as readonly SinkDefinition[]);
    this.logCounters = logCounters(this.sinkDefs);
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
      counters: LOG_COUNTERS,
      maxBytes: config.log.maxBytes,
      flushMs: config.log.flushMs,
      flushRows: config.log.flushRows,
      synchronous: config.log.synchronous,
      retainAckedMs: config.log.retainAckedMs,
      maxBufferedReadings: config.log.maxBufferedReadings,
      // A sink that keeps up reads at most a batch plus a commit behind the end (it sends a full
      // batch at its commit: north/window.ts freshBatchReady); that much is served from memory.
      memoryTailRecords: Math.max(4096, ...config.uplinks.map((u) => sinkBatchReadings(u, this.sinkDefs) + config.log.flushRows)),
      onWarn: (msg, details) => logger.warn(details, msg),
      onInfo: (msg, details) => logger.info(details, msg),
    });
    if (this.log.recoveredFromCrash) {
      logger.warn({ lastSeq: this.log.lastSeq() }, 'reading log was not closed cleanly (crash or power loss); integrity check passed');
    }
  }

  /**
   * Starts polling, and every uplink; resolves when each device polls (or stands in failing, its
   * driver unable to load) and each uplink was built and started (or logged as unable to start:
   * it never rejects for a device or a sink). Drivers and sinks load their implementation when
   * built (DriverDefinition.create, SinkDefinition.create), so the start is queued like a reload:
   * a reload asked meanwhile waits for it instead of building the same sink twice.
   */
  start(): Promise<void> {
    this.buildPipeline();
    // Cursors of uplinks no longer configured are dropped here (logged): they must not hold the log back.
    this.log.setSinks(
      this.config.uplinks.map((u) => u.name),
      this.logCounters,
    );
    // Drivers load their implementation too (DriverDefinition.create: node-opcua only with an
    // OPC UA device), side by side with the sinks; neither rejects for one device or sink.
    const run = this.reloads
      .then(() => {
        const sinks = this.startSinks(this.config.uplinks);
        return Promise.all([this.startSouth(sinks), sinks]);
      })
      .then(() => {
        if (this.stopping) return;
        // Once drivers poll and sinks run: harnesses wait for this line as "ready".
        this.logger.info(
          { gateway: this.config.gateway.id, devices: this.config.devices.length, lastSeq: this.log.lastSeq(), version: VERSION },
          'gateway started',
        );
      });
    this.reloads = run.catch(() => {});
    return run;
  }

  /** The pipeline of the config's enabled points; synchronous, so that status and live values work while drivers load. */
  private buildPipeline(): void {
    const enabled = this.config.devices.filter((d) => d.enabled);
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
  }

  /**
   * Creates every enabled device's driver (side by side: a driver may load its implementation
   * now), then schedules and starts them. A driver that cannot be created costs its device only:
   * logged once, and the device stands in failing with the reason (unavailable-driver.ts).
   */
  private async startSouth(sinksStarted: Promise<unknown> = Promise.resolve()): Promise<void> {
    const enabled = this.config.devices.filter((d) => d.enabled);
    const ctx = driverContext(this.config, this.logger);
    const created = await Promise.all(
      enabled.map((d) =>
        createDriver(d, ctx, this.driverDefs).then(
          (driver) => ({ driver, ownSession: logsOwnSession(d, this.driverDefs) }),
          (err: unknown) => {
            const reason = `driver "${d.driver}" cannot start: ${(err as Error).message}`;
            this.logger.error({ device: d.id, driver: d.driver, err: (err as Error).message }, `device "${d.id}": ${reason}; the other devices go on`);
            const standIn = unavailableDriver(d.id, reason);
            this.unavailable.set(standIn, { driver: d.driver, reason: (err as Error).message });
            return { driver: standIn, ownSession: false };
          },
        ),
      ),
    );
    // Nothing polls or pushes before the sinks (built meanwhile) are started: a sink must see the
    // first poll (Sparkplug births wait for it, and cover the readings it logged). Their failure
    // is the caller's to report: the devices poll all the same.
    await sinksStarted.then(
      () => {},
      () => {},
    );
    if (this.stopping) {
      // stop() came while the drivers were created: close them instead of starting them.
      await Promise.all(created.map(({ driver }) => driver.close().catch(() => {})));
      this.logger.info({ devices: enabled.length }, 'gateway stopping: the devices built meanwhile are closed, not started');
      return;
    }
    // Drivers that say when their session goes and comes themselves (one line, not two).
    const sessionLogged = new Set(enabled.filter((_, i) => created[i]!.ownSession).map((d) => d.id));
    const pipeline = this.pipeline;
    const scheduled: ScheduledDevice[] = enabled.flatMap((d, i) => {
      const { driver } = created[i]!;
      this.drivers.push(driver);
      // Types learnt from the device (OPC UA DataType) belong in the birth: send it again with them.
      driver.onPointTypes?.(() => {
        if (!this.drivers.includes(driver)) return;
        // Each sink decides what a learnt type means for what it sent (a new birth, or nothing).
        for (const { sink } of this.sinks.values()) sink.pointTypesLearnt?.(d.id);
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
      // After the readings: a listener or the console failing must not cost a reading.
      if (!sessionLogged.has(deviceId)) this.health.observe(deviceId, result, state);
      for (const listener of this.pollListeners) listener(deviceId, result, durationMs, state);
    }, this.clock);
    this.scheduler.start();
  }

  /**
   * Builds every entry (in parallel: each loads its implementation), then starts them in config
   * order. A sink that cannot be built (unknown kind, a secret file gone) is logged, the others go on.
   */
  private async startSinks(list: readonly SinkConfig[]): Promise<void> {
    const built = await Promise.all(list.map((u) => this.buildSink(u)));
    for (const b of built) {
      if (!b) continue;
      if (this.stopping) {
        // Built but never started: it holds no session, and the log it would read is closing.
        this.logger.info({ uplink: b.config.name }, `gateway stopping: uplink "${b.config.name}" built meanwhile is not started`);
        continue;
      }
      try {
        b.sink.start();
      } catch (err) {
        this.logger.error({ uplink: b.config.name, kind: b.config.kind, err: (err as Error).message }, `uplink "${b.config.name}" cannot start; the log keeps its readings`);
        // Whatever it opened before throwing goes; it is left out (its status is absent).
        await b.sink.stop().catch(() => {});
        continue;
      }
      this.sinks.set(b.config.name, b);
    }
  }

  /** The sink of one entry, through its kind's definition (north/registry.ts); null when it cannot be built. */
  private async buildSink(u: SinkConfig): Promise<BuiltSink | null> {
    try {
      const def = sinkDefinition(u.kind, this.sinkDefs);
      if (!def) throw new Error(`no sink of kind "${u.kind}" is registered (cloud-sync/src/north/registry.ts)`);
      const key = this.sinkKey(u, this.config);
      return { config: u, sink: await def.create(u, this.northContext(u)), key };
    } catch (err) {
      this.logger.error({ uplink: u.name, kind: u.kind, err: (err as Error).message }, `uplink "${u.name}" cannot start; the log keeps its readings`);
      return null;
    }
  }

  /**
   * Settings that, when changed, rebuild a sink on reload: its entry, the gateway identity,
   * whether it is the primary (center) link, and the devices when its births list them
   * (SinkDefinition.dependsOnDevices).
   */
  private sinkKey(u: SinkConfig, c: GatewayConfig): string {
    const devices = sinkDefinition(u.kind, this.sinkDefs)?.dependsOnDevices ? c.devices : null;
    return JSON.stringify([u, c.gateway, devices, u.name === c.uplink.name]);
  }

  /** What one sink may take from the gateway (north/sink.ts): nothing of the gateway's own types. */
  private northContext(u: SinkConfig): NorthContext {
    const c = this.config;
    const primary = u.name === c.uplink.name;
    // Secret files only from the secrets folders, links resolved (secrets.ts, mqtt-connection.ts).
    const roots = secretRoots(c);
    const logger = this.logger.child(primary && u.name === 'uplink' ? { layer: 'uplink' } : { layer: 'uplink', uplink: u.name });
    return {
      log: this.log,
      gateway: { id: c.gateway.id, name: c.gateway.name, region: c.gateway.region, municipality: c.gateway.municipality },
      logger,
      clock: this.clock,
      primary,
      readSecret: (path, o = {}) => {
        const problem = o.secret ? secretFileProblem(path) : null;
        if (problem) logger.warn({ file: path }, problem);
        return readSecretFile(path, roots);
      },
      // Each MQTT uplink needs its own session at its broker: all but the primary get their name appended.
      brokerConnection: (settings) =>
        brokerConnection(settings, {
          gatewayId: c.gateway.id,
          roots,
          ...(primary || settings.clientId !== undefined ? {} : { clientSuffix: `-${u.name}` }),
          warn: (file, problem) => logger.warn({ file }, problem),
        }),
      box: () => ({
        version: VERSION,
        ota: this.otaStatus?.() ?? undefined,
        clock: (({ state, reason, jumps }) => ({ state, reason, jumps }))(this.clockWatch.check()),
      }),
      south: this.south,
    };
  }

  /** The south side as sinks see it (north/sink.ts NorthSouth): closures, so it follows reloads. */
  private readonly south: NorthSouth = {
    devices: () => this.config.devices,
    pointType: (deviceId, pointId) =>
      this.pointType(deviceId, this.config.devices.find((d) => d.id === deviceId)?.points.find((p) => p.id === pointId) ?? { id: pointId }),
    live: (key) => this.pipeline.liveValues().get(key),
    // The scheduler is built once the drivers are (startSouth); until then nothing is polled.
    polled: (id) => (this.scheduler?.states() ?? []).some((s) => s.deviceId === id),
    onPoll: (listener) => this.onPoll((deviceId, result) => listener(deviceId, result.failed)),
    onReadings: (listener) => this.onReadings(listener),
    write: (deviceId, pointId, value) => this.writeAndReadBack(deviceId, pointId, value),
  };

  /**
   * Applies a new, already validated config. Devices are rebuilt; the uplink is restarted only
   * when its settings or the gateway identity changed. The log keeps running throughout.
   */
  reload(next: GatewayConfig): Promise<void> {
    // One at a time, in the order asked (SIGHUP, UI and commands may overlap): two reloads
    // interleaved would both stop the same scheduler and each start one, leaving one orphaned.
    if (this.stopping) return this.ignoredReload();
    const run = this.reloads.then(() => (this.stopping ? this.ignoredReload() : this.reloadNow(next)));
    this.reloads = run.catch(() => {});
    return run;
  }

  /**
   * Rebuilds only the uplinks whose settings (or, when their births list them, devices; or the gateway identity)
   * changed; stops removed ones, whose cursors the log then drops; starts new ones. The others
   * keep their sessions: a new HTTP sink must not make the regional broker reconnect.
   */
  private async reloadSinks(): Promise<void> {
    const wanted = new Map(this.config.uplinks.map((u) => [u.name, u]));
    const stale = [...this.sinks.entries()].filter(([name, built]) => {
      const u = wanted.get(name);
      return u === undefined || this.sinkKey(u, this.config) !== built.key;
    });
    // One that fails to stop is said and dropped all the same: the new one must still start.
    await Promise.all(
      stale.map(([name, built]) =>
        built.sink.stop().catch((err: unknown) => this.logger.error({ uplink: name, err: (err as Error).message }, `uplink "${name}" failed to stop; replaced all the same`)),
      ),
    );
    for (const [name] of stale) this.sinks.delete(name);
    this.log.setSinks([...wanted.keys()], this.logCounters);
    const fresh: SinkConfig[] = [];
    for (const u of this.config.uplinks) {
      const built = this.sinks.get(u.name);
      // Same settings: keep the session, but take the new entry (same content) as its config.
      if (built) built.config = u;
      else fresh.push(u);
    }
    await this.startSinks(fresh);
    if (stale.length > 0) this.logger.info({ uplinks: stale.map(([name]) => name) }, 'uplinks restarted with new settings (or removed)');
  }

  /** A reload asked during or after stop(): nothing is built on a closing log. */
  private ignoredReload(): Promise<void> {
    this.logger.warn('config reload ignored: the gateway is stopping');
    return Promise.resolve();
  }

  private async reloadNow(next: GatewayConfig): Promise<void> {
    const prev = this.config;
    if (next.dataDir !== prev.dataDir || JSON.stringify(next.log) !== JSON.stringify(prev.log)) {
      this.logger.warn('dataDir and log settings take effect at the next restart');
    }
    await this.stopSouth();
    this.config = { ...next, dataDir: prev.dataDir, log: prev.log };
    this.buildPipeline();
    const sinks = this.reloadSinks();
    await Promise.all([this.startSouth(sinks), sinks]);
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

  /**
   * writePoint, then a read of the point fed through the pipeline like any poll (so it is
   * logged), answered with the newest value: a sink's write (Sparkplug DCMD) answers with what
   * the device holds, not with what was asked.
   */
  private async writeAndReadBack(deviceId: string, pointId: string, value: Exclude<Value, null>): Promise<CurrentValue> {
    await this.writePoint(deviceId, pointId, value as WriteValue);
    const driver = this.drivers.find((d) => d.deviceId === deviceId);
    if (!driver) throw new Error(`device "${deviceId}" is not running: the written value could not be read back`);
    const result = await driver.poll([pointId]);
    this.pipeline.ingest(deviceId, result.samples);
    const v = this.pipeline.liveValues().get(`${deviceId}/${pointId}`);
    if (!v) throw new Error(`${deviceId}/${pointId} gave no value when read back after the write`);
    return { value: v.value, quality: v.quality, ts: v.ts };
  }

  /** The primary uplink (config.uplink: the center's link, a brokerLink sink), when it runs. */
  private get uplink(): NorthSink | null {
    return this.sinks.get(this.config.uplink.name)?.sink ?? null;
  }

  /** Re-sends the primary uplink's birth message; false while it is offline (it is sent on connect anyway). */
  rebirth(): boolean {
    return this.uplink?.rebirth?.() ?? false;
  }

  /** Every uplink's birth again, those that have one (the box clock's judgement changed). */
  private rebirthAll(): void {
    for (const { sink } of this.sinks.values()) sink.rebirth?.();
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
    return this.uplink?.resend?.(first, last) ?? null;
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

  /**
   * The running devices whose driver could not be created (its implementation failed to load):
   * they stand in failing (unavailable-driver.ts). OTA's trial check fails a release with any.
   */
  unavailableDevices(): Array<{ deviceId: string; driver: string; reason: string }> {
    return this.drivers.flatMap((d) => {
      const u = this.unavailable.get(d);
      return u ? [{ deviceId: d.deviceId, ...u }] : [];
    });
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

  /**
   * Stops polling, commits every polled reading, says goodbye to the broker, closes the log.
   * Queued behind a start or reload under way, which from now on builds nothing more
   * (`stopping`); a second call waits for the first.
   */
  stop(): Promise<void> {
    this.stopping = true;
    this.stopped ??= this.reloads.then(() => this.stopNow());
    this.reloads = this.stopped.catch(() => {});
    return this.stopped;
  }

  private async stopNow(): Promise<void> {
    await this.stopSouth();
    // Each uplink drains on its own: one that is down must not shorten another's drain.
    // One that fails to stop is said: the log is closed all the same (its cursors are saved).
    await Promise.all(
      [...this.sinks.values()].map(({ config, sink }) =>
        sink.stop(STOP_DRAIN_MS).catch((err: unknown) => this.logger.error({ uplink: config.name, err: (err as Error).message }, `uplink "${config.name}" failed to stop`)),
      ),
    );
    this.sinks.clear();
    this.log.close();
    this.clockWatch.stop();
    this.logger.info('gateway stopped');
  }
}
