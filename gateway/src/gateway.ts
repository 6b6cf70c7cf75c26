import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { codecByName, Uplink, type UplinkStatus } from '@kedge/cloud-sync';
import type { GatewayConfig } from './config/schema.ts';
import { createDriver } from './drivers/registry.ts';
import { ReadingLog, type LogStats } from './log/reading-log.ts';
import { Pipeline, type LiveValue, type PipelinePoint } from './pipeline/pipeline.ts';
import { Scheduler, type DeviceState, type PollGroup, type ScheduledDevice } from './scheduler/scheduler.ts';

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
  private drivers: Array<{ close(): Promise<void> }> = [];
  private uplink: Uplink | null = null;
  private readonly startedAt = Date.now();

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
    this.pipeline = new Pipeline(points, (readings) => this.log.append(readings));
    const scheduled: ScheduledDevice[] = enabled.map((d) => {
      const driver = createDriver(d);
      this.drivers.push(driver);
      const byInterval = new Map<number, string[]>();
      for (const p of d.points) {
        const interval = p.intervalMs ?? d.intervalMs;
        byInterval.set(interval, [...(byInterval.get(interval) ?? []), p.id]);
      }
      const groups: PollGroup[] = [...byInterval].map(([intervalMs, pointIds]) => ({ intervalMs, pointIds }));
      return { driver, groups, backoff: d.backoff };
    });
    this.scheduler = new Scheduler(scheduled, (deviceId, result) => {
      if (result.failed) this.logger.debug({ device: deviceId, err: result.error }, 'poll failed');
      this.pipeline.ingest(deviceId, result.samples);
    });
  }

  private buildUplink(): Uplink {
    const c = this.config;
    const u = c.uplink;
    const read = (path: string | undefined) => (path ? readFileSync(path) : undefined);
    const tls = u.tls
      ? {
          ca: read(u.tls.ca),
          cert: read(u.tls.cert),
          key: read(u.tls.key),
          rejectUnauthorized: u.tls.rejectUnauthorized,
        }
      : undefined;
    return new Uplink({
      log: this.log,
      identity: { prefix: u.topicPrefix, region: c.gateway.region, municipality: c.gateway.municipality, gateway: c.gateway.id },
      url: u.url,
      clientId: u.clientId ?? `kedge-${c.gateway.id}`,
      username: u.username,
      password: u.password ?? (u.passwordFile ? readFileSync(u.passwordFile, 'utf8').trim() : undefined),
      tls,
      codec: codecByName(u.codec),
      batchMaxReadings: u.batchMaxReadings,
      batchMaxDelayMs: u.batchMaxDelayMs,
      inflight: u.inflight,
      keepaliveSec: u.keepaliveSec,
      reconnectMinMs: u.reconnectMinMs,
      reconnectMaxMs: u.reconnectMaxMs,
      logger: this.logger.child({ layer: 'uplink' }),
      birth: () => ({
        version: VERSION,
        name: c.gateway.name,
        lastSeq: this.log.lastSeq(),
        evictedTotal: this.log.evictedTotal(),
        points: c.devices
          .filter((d) => d.enabled)
          .flatMap((d) => d.points.map((p) => ({ point: `${d.id}/${p.id}`, unit: p.unit, name: p.name, writable: p.writable }))),
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
