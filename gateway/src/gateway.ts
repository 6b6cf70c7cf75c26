import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { codecByName, Uplink, type UplinkStatus } from '@kedge/cloud-sync';
import { SparkplugUplink } from '@kedge/cloud-sync/uplink/sparkplug-uplink.ts';
import { sparkplugMetricDefs } from '@kedge/cloud-sync/sparkplug/topics.ts';
import type { Reading } from '@kedge/cloud-sync/model.ts';
import type { GatewayConfig } from './config/schema.ts';
import { createDriver } from './drivers/registry.ts';
import type { DeviceDriver } from './drivers/driver.ts';
import { writePoint, type WriteResult, type WriteValue } from './commands/write-point.ts';
import { ReadingLog, type LogStats } from './log/reading-log.ts';
import { secretFileProblem } from './secrets.ts';
import { Pipeline, type LiveValue, type PipelinePoint } from './pipeline/pipeline.ts';
import { Scheduler, type DeviceState, type PollGroup, type PollListener, type ScheduledDevice } from './scheduler/scheduler.ts';

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
  uplink: UplinkStatus | null;
  log: LogStats;
  devices: DeviceState[];
  live: Record<string, LiveValue>;
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
  private uplink: Uplink | SparkplugUplink | null = null;
  private readonly startedAt = Date.now();
  /** Set by the OTA agent (gateway/src/ota); its state rides in the retained birth message. */
  otaStatus: (() => unknown) | null = null;
  private readonly pollListeners = new Set<PollListener>();
  private readonly readingListeners = new Set<(readings: readonly Reading[]) => void>();

  constructor(
    config: GatewayConfig,
    private readonly logger: Logger,
  ) {
    this.config = config;
    this.log = new ReadingLog(join(config.dataDir, 'log.db'), {
      maxBytes: config.log.maxBytes,
      flushMs: config.log.flushMs,
      flushRows: config.log.flushRows,
      synchronous: config.log.synchronous,
      retainAckedMs: config.log.retainAckedMs,
      onWarn: (msg, details) => logger.warn(details, msg),
    });
    if (this.log.recoveredFromCrash) {
      logger.warn({ lastSeq: this.log.lastSeq() }, 'reading log was not closed cleanly (crash or power loss); integrity check passed');
    }
  }

  start(): void {
    this.buildSouth();
    this.scheduler.start();
    this.uplink = this.buildUplink();
    this.uplink.start();
    this.logger.info(
      { gateway: this.config.gateway.id, devices: this.config.devices.length, lastSeq: this.log.lastSeq(), version: VERSION },
      'gateway started',
    );
  }

  private buildSouth(): void {
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
    this.pipeline = new Pipeline(points, (readings) => {
      this.log.append(readings);
      // After the append: a live consumer never sees a reading the log does not hold.
      for (const listener of this.readingListeners) listener(readings);
    });
    const pipeline = this.pipeline;
    const scheduled: ScheduledDevice[] = enabled.flatMap((d) => {
      const driver = createDriver(d, { dataDir: this.config.dataDir, logger: this.logger });
      this.drivers.push(driver);
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
    this.scheduler = new Scheduler(scheduled, (deviceId, result, durationMs) => {
      if (result.failed) this.logger.debug({ device: deviceId, err: result.error }, 'poll failed');
      this.pipeline.ingest(deviceId, result.samples);
      for (const listener of this.pollListeners) listener(deviceId, result, durationMs);
    });
  }

  private buildUplink(): Uplink | SparkplugUplink {
    const c = this.config;
    const u = c.uplink;
    const read = (path: string | undefined) => (path ? readFileSync(path) : undefined);
    const secret = (path: string | undefined) => {
      const problem = path ? secretFileProblem(path) : null;
      if (problem) this.logger.warn({ file: path }, problem);
      return read(path);
    };
    const password = u.password ?? secret(u.passwordFile)?.toString('utf8').trim();
    const tls = u.tls
      ? {
          ca: read(u.tls.ca),
          cert: read(u.tls.cert),
          key: secret(u.tls.key),
          rejectUnauthorized: u.tls.rejectUnauthorized,
        }
      : undefined;
    // The MQTT session settings both uplinks share (cloud-sync/src/uplink/log-publisher.ts).
    const session = {
      log: this.log,
      url: u.url,
      clientId: u.clientId ?? `kedge-${c.gateway.id}`,
      username: u.username,
      password,
      tls,
      batchMaxReadings: u.batchMaxReadings,
      batchMaxDelayMs: u.batchMaxDelayMs,
      inflight: u.inflight,
      keepaliveSec: u.keepaliveSec,
      ackTimeoutMs: u.ackTimeoutMs,
      reconnectMinMs: u.reconnectMinMs,
      reconnectMaxMs: u.reconnectMaxMs,
      maxReadingsPerSec: u.maxReadingsPerSec,
      logger: this.logger.child({ layer: 'uplink' }),
    };
    if (u.codec === 'sparkplug') {
      // spBv1.0/<municipality>/{NBIRTH,DDATA,...}/<gateway id>/<device id>: see cloud-sync/src/sparkplug/README.md
      return new SparkplugUplink({
        ...session,
        group: c.gateway.municipality,
        edgeNode: c.gateway.id,
        metrics: sparkplugMetricDefs(c.devices),
      });
    }
    return new Uplink({
      ...session,
      identity: { prefix: u.topicPrefix, region: c.gateway.region, municipality: c.gateway.municipality, gateway: c.gateway.id },
      codec: codecByName(u.codec),
      birth: () => ({
        version: VERSION,
        ota: this.otaStatus?.() ?? undefined,
        name: c.gateway.name,
        lastSeq: this.log.lastSeq(),
        evictedTotal: this.log.evictedTotal(),
        points: c.devices
          .filter((d) => d.enabled)
          // unit is the UCUM code (normalized at config load); type tells the center how to read values.
          .flatMap((d) =>
            d.points.map((p) => ({
              point: `${d.id}/${p.id}`,
              unit: p.unit,
              name: p.name,
              writable: p.writable,
              ...('type' in p ? { type: p.type } : {}),
            })),
          ),
      }),
    });
  }

  /**
   * Applies a new, already validated config. Devices are rebuilt; the uplink is restarted only
   * when its settings or the gateway identity changed. The log keeps running throughout.
   */
  async reload(next: GatewayConfig): Promise<void> {
    const prev = this.config;
    if (next.dataDir !== prev.dataDir || JSON.stringify(next.log) !== JSON.stringify(prev.log)) {
      this.logger.warn('dataDir and log settings take effect at the next restart');
    }
    await this.stopSouth();
    this.config = { ...next, dataDir: prev.dataDir, log: prev.log };
    this.buildSouth();
    this.scheduler.start();
    if (JSON.stringify(next.uplink) !== JSON.stringify(prev.uplink) || JSON.stringify(next.gateway) !== JSON.stringify(prev.gateway)) {
      await this.uplink?.stop();
      this.uplink = this.buildUplink();
      this.uplink.start();
    }
    this.logger.info({ devices: next.devices.length }, 'config reloaded');
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

  /** Re-sends the birth message; false while the uplink is offline (it is sent on connect anyway). */
  rebirth(): boolean {
    return this.uplink?.rebirth() ?? false;
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

  status(): GatewayStatus {
    return {
      gateway: this.config.gateway.id,
      region: this.config.gateway.region,
      municipality: this.config.gateway.municipality,
      version: VERSION,
      startedAt: this.startedAt,
      uptimeMs: Date.now() - this.startedAt,
      uplink: this.uplink?.status() ?? null,
      log: this.log.stats(),
      devices: this.scheduler.states(),
      live: Object.fromEntries(this.pipeline.liveValues()),
    };
  }

  /** Stops polling, commits every polled reading, says goodbye to the broker, closes the log. */
  async stop(): Promise<void> {
    await this.stopSouth();
    await this.uplink?.stop(STOP_DRAIN_MS);
    this.uplink = null;
    this.log.close();
    this.logger.info('gateway stopped');
  }
}
