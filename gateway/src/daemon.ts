/**
 * The daemon (`kedge-gateway --config <file>` without --check): its log, the gateway, OTA,
 * commands and the web UI. main.ts imports this module only when it starts the daemon, so
 * `--check`, `--help` and `--version` never load pino, the reading log, MQTT or the drivers'
 * implementations (scripts/src/build/README.md, "What a command loads").
 */
import { resolve } from 'node:path';
import { multistream, pino } from 'pino';
import { checkConfigFile, ConfigError, formatWarnings, type CheckedConfig } from './config/load.ts';
import { ConfigService } from './config/config-service.ts';
import { consoleDestination } from './console-format.ts';
import { createLogger } from './logger.ts';
import { Gateway } from './gateway.ts';
import { startOta, type OtaRuntime } from './ota/index.ts';
import { startCommands, type RunningCommands } from './commands/index.ts';
import { LogRing } from './web/log-ring.ts';
import type { RunningWeb } from './web/start-web.ts';
import { installTestWallOffset, WALL_OFFSET_FILE_ENV } from '@kedge/cloud-sync/clock.ts';

/** The command line's options main.ts parsed. */
export interface DaemonOptions {
  config: string;
  logLevel: string;
  webPort?: string;
}

/**
 * Runs the daemon until a stop signal or a fatal error ends the process. `takeEarlySignals`
 * (main.ts) removes the handlers that queued signals while this module loaded and returns them:
 * they are handled as if they came now.
 */
export async function runDaemon(opts: DaemonOptions, takeEarlySignals: () => NodeJS.Signals[] = () => []): Promise<void> {
  // The web UI's logs page shows the last records; they are kept at info even when stdout is quieter.
  const logRing = new LogRing(2000);
  const ringLevel = pino.levels.values[opts.logLevel]! < pino.levels.values['info']! ? opts.logLevel : 'info';
  const logger = createLogger({
    name: 'kedge-gateway',
    level: ringLevel,
    destination: multistream([
      // Human lines on a terminal, JSON lines for journald (console-format.ts).
      { level: opts.logLevel as pino.Level, stream: consoleDestination() },
      { level: ringLevel as pino.Level, stream: logRing },
    ]),
  });

  // ---------------------------------------------------------------------------------------
  // Stopping. Installed before anything starts, so that a SIGTERM during start-up (a broker that
  // does not answer, a web port that is taken) stops what has started so far instead of being
  // ignored or racing it. Every stop step is bounded by one grace: a client waiting for a broker
  // that never acknowledges must not keep the daemon up (systemd's TimeoutStopSec is 30 s, the
  // launcher kills after LAUNCHER_STOP_KILL_MS).

  /** How long a clean stop may take before the daemon exits anyway (exit code 1). */
  const SHUTDOWN_GRACE_MS = Number(process.env.KEDGE_SHUTDOWN_GRACE_MS ?? 10_000);
  let gateway: Gateway | undefined;
  let ota: OtaRuntime | undefined;
  let commands: RunningCommands | undefined;
  let web: RunningWeb | null = null;
  let stopping = false;
  /** Start-up awaits this once a stop began: nothing more is started, shutdown() ends the process. */
  const untilExit = new Promise<never>(() => {});

  async function shutdown(reason: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    logger.info({ signal: reason }, 'stopping');
    // Referenced: it keeps the process alive until it fires, whatever the steps wait for.
    setTimeout(() => {
      logger.error({ graceMs: SHUTDOWN_GRACE_MS }, `stop did not finish within ${SHUTDOWN_GRACE_MS} ms: exiting anyway`);
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    await web?.close().catch(() => {});
    await ota?.stop();
    await commands?.stop();
    await gateway?.stop();
    process.exit(0);
  }
  const onStopSignal = (signal: NodeJS.Signals) => {
    // A second signal while stopping: the operator means it.
    if (stopping) {
      logger.warn({ signal }, 'second stop signal while stopping: exiting now');
      process.exit(1);
    }
    void shutdown(signal);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, onStopSignal);
  // A hand edit on the box (`systemctl reload`, forwarded by kedge-boot): installed as early as the
  // stop signals, since Node's default action for SIGHUP (and SIGUSR2) ends the process, and a slow
  // start-up (node-opcua loading on a Pi) would turn a reload into a crash, on a trial boot a
  // rollback. One that comes before the config service exists is applied once start-up completed;
  // the file is read then, so several coalesce into one reload.
  let reloadFromFile: (() => void) | null = null;
  let reloadPending = false;
  const onHangup = () => {
    if (stopping) return;
    if (reloadFromFile) return reloadFromFile();
    if (!reloadPending) logger.info('SIGHUP during start-up: the config file is reloaded once start-up completes');
    reloadPending = true;
  };
  process.on('SIGHUP', onHangup);
  // Those that came while this module loaded, in their order, now that the handlers above exist.
  for (const signal of takeEarlySignals()) {
    if (signal === 'SIGHUP') onHangup();
    else onStopSignal(signal);
  }
  // Console recovery for a forgotten password or a lockout: `systemctl kill -s USR2 kedge-gateway`.
  process.on('SIGUSR2', () => {
    if (web) web.issueSetupToken('reset');
  });

  /** The config, or null after printing every problem (file:line:column field: message). */
  async function load(onError: (err: ConfigError) => void): Promise<CheckedConfig | null> {
    try {
      return await checkConfigFile(opts.config);
    } catch (err) {
      if (err instanceof ConfigError) {
        onError(err);
        return null;
      }
      throw err;
    }
  }

  /** Warnings never refuse a config; they go to the log (console and the UI's log page). */
  function logWarnings(checked: CheckedConfig): void {
    const lines = formatWarnings(opts.config, checked.warnings);
    checked.warnings.forEach((w, i) => logger.warn({ config: opts.config, path: w.path, line: w.line }, `config ${lines[i]}`));
  }

  const checked = await load((err) => process.stderr.write(`${err.message}\n`));
  if (!checked) process.exit(2);
  const config = checked.config;
  logger.info({ config: opts.config }, 'starting');
  logWarnings(checked);

  // Tests only (cloud-sync/src/clock.ts): jumps this process's wall clock without root.
  const wallOffsetFile = installTestWallOffset();
  if (wallOffsetFile) logger.warn({ file: wallOffsetFile }, `${WALL_OFFSET_FILE_ENV} is set: Date.now() is shifted by the offset in that file (tests only)`);
  if (stopping) await untilExit;
  let running: Gateway;
  try {
    running = new Gateway(config, logger);
  } catch (err) {
    // E.g. a new log that cannot even be created (disk full, read-only): one line, and systemd
    // starts us again later (deploy/kedge-gateway.service has no start limit).
    logger.fatal({ code: (err as { code?: string }).code }, `cannot start: ${(err as Error).message}`);
    process.exit(1);
  }
  gateway = running;
  try {
    // Resolves once every device polls (or stands in failing) and every uplink was started (or
    // logged as unable to): only then do OTA's health reports, which the launcher turns into
    // systemd's READY=1, begin, and only then is the start-up complete.
    await running.start();
  } catch (err) {
    // Gateway.start() rejects for no device or sink: this is a fault of the gateway itself.
    logger.fatal({ err }, `cannot start: ${(err as Error).message}`);
    if (stopping) await untilExit; // a stop signal came meanwhile: shutdown() owns the exit
    stopping = true;
    setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS);
    await running.stop().catch(() => {});
    process.exit(1);
  }
  if (stopping) await untilExit;
  // The one owner of the config file: SIGHUP, the web UI and the center's commands change it through it.
  const configService = new ConfigService({ path: resolve(opts.config), apply: (next) => running.reload(next), dataDir: config.dataDir });
  // OTA (gateway/src/ota): takes update offers; under kedge-boot it also reports this release's health.
  const otaRuntime = startOta({ config, gateway: running, logger, restart: (why) => void shutdown(why) });
  ota = otaRuntime;
  // Signed commands from the center over MQTT (gateway/src/commands): off without `commands:` in the config.
  commands = startCommands({ gateway: running, logger, configService });

  // The UI is secondary to polling: if it cannot start (port taken), the gateway keeps running.
  if (config.web.enabled && !stopping) {
    try {
      // Loaded only when enabled: fastify and its plugins cost ~0.6 s of start-up on every boot.
      const { startWebServer } = await import('./web/start-web.ts');
      web = await startWebServer(
        {
          gateway: running,
          configPath: resolve(opts.config),
          configService,
          logger: logger.child({ layer: 'web' }),
          logRing,
          restart: () => void shutdown('restart from web UI'),
          ...(otaRuntime.agent ? { otaStatus: otaRuntime.agent.webStatus, otaAgent: otaRuntime.agent } : {}),
          // Start-up lines go to the console, not into the log records the UI shows. The setup
          // token itself only when the console is a terminal; else (journald) it is in a 0600 file.
          announce: (line) => process.stdout.write(`${line}\n`),
          consoleIsTerminal: process.stdout.isTTY === true,
        },
        opts.webPort !== undefined ? { port: Number(opts.webPort) } : {},
      );
    } catch (err) {
      logger.error({ err }, 'web UI not started');
    }
  }
  // SIGHUP from here on (handler installed at the top): through the config service's queue, after
  // any UI or command change under way.
  reloadFromFile = () => {
    configService.reloadFile({ source: 'sighup', what: 'SIGHUP (file edited on the box)' }).then(
      (next) => logWarnings(next),
      (err: Error) => {
        if (err instanceof ConfigError) {
          logger.error({ config: opts.config, problems: err.issues }, `config reload refused, the running config stays in force: ${err.message}`);
        } else logger.error({ err: err.message }, 'config reload failed');
      },
    );
  };

  if (stopping) await untilExit;
  logger.info('start-up complete');
  // After everything that follows reloads (OTA, commands, web) has subscribed.
  if (reloadPending) {
    reloadPending = false;
    logger.info('applying the SIGHUP received during start-up');
    reloadFromFile();
  }
}
