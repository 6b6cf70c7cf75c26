#!/usr/bin/env node
import { Command } from 'commander';
import { resolve } from 'node:path';
import { multistream, pino } from 'pino';
import { ConfigError, loadConfigFile } from './config/load.ts';
import { createLogger } from './logger.ts';
import { Gateway, VERSION } from './gateway.ts';
import { startOta } from './ota/index.ts';
import { startCommands } from './commands/index.ts';
import { LogRing } from './web/log-ring.ts';
import type { RunningWeb } from './web/start-web.ts';

const program = new Command('kedge-gateway')
  .description('kedge edge gateway: polls meters, logs every reading durably, syncs to the regional broker')
  .version(VERSION)
  .option('-c, --config <path>', 'gateway config file (YAML)', process.env.KEDGE_CONFIG ?? 'config/kedge.yaml')
  .option('--check', 'validate the config file and exit')
  .option('--log-level <level>', 'pino log level', process.env.LOG_LEVEL ?? 'info')
  .option('--web-port <port>', 'web UI port, overriding web.port of the config (0: a free port)', process.env.KEDGE_WEB_PORT);
program.parse();
const opts = program.opts<{ config: string; check?: boolean; logLevel: string; webPort?: string }>();
// The web UI's logs page shows the last records; they are kept at info even when stdout is quieter.
const logRing = new LogRing(2000);
const ringLevel = pino.levels.values[opts.logLevel]! < pino.levels.values['info']! ? opts.logLevel : 'info';
const logger = createLogger({
  name: 'kedge-gateway',
  level: ringLevel,
  destination: multistream([
    { level: opts.logLevel as pino.Level, stream: process.stdout },
    { level: ringLevel as pino.Level, stream: logRing },
  ]),
});

/** The config, or null after printing every problem (file:line:column field: message). */
async function load(onError: (err: ConfigError) => void) {
  try {
    return await loadConfigFile(opts.config);
  } catch (err) {
    if (err instanceof ConfigError) {
      onError(err);
      return null;
    }
    throw err;
  }
}

const config = await load((err) => process.stderr.write(`${err.message}\n`));
if (!config) process.exit(2);
if (opts.check) {
  process.stdout.write(`${opts.config}: OK (${config.devices.length} devices)\n`);
  process.exit(0);
}

const gateway = new Gateway(config, logger);
gateway.start();
// OTA (gateway/src/ota): takes update offers; under kedge-boot it also reports this release's health.
const ota = startOta({ config, gateway, logger, restart: (why) => void shutdown(why) });
// Signed commands from the center over MQTT (gateway/src/commands): off without `commands:` in the config.
const commands = startCommands({ gateway, logger, configPath: resolve(opts.config) });

// The UI is secondary to polling: if it cannot start (port taken), the gateway keeps running.
let web: RunningWeb | null = null;
if (config.web.enabled) {
  try {
    // Loaded only when enabled: fastify and its plugins cost ~0.6 s of start-up on every boot.
    const { startWebServer } = await import('./web/start-web.ts');
    web = await startWebServer(
      {
        gateway,
        configPath: resolve(opts.config),
        logger: logger.child({ layer: 'web' }),
        logRing,
        restart: () => void shutdown('restart from web UI'),
        ...(ota.agent ? { otaStatus: ota.agent.webStatus, otaAgent: ota.agent } : {}),
        // The setup token goes to the console only, not into the log records the UI shows.
        announce: (line) => process.stdout.write(`${line}\n`),
      },
      opts.webPort !== undefined ? { port: Number(opts.webPort) } : {},
    );
  } catch (err) {
    logger.error({ err }, 'web UI not started');
  }
}
// Console recovery for a forgotten password or a lockout: `systemctl kill -s USR2 kedge-gateway`.
process.on('SIGUSR2', () => {
  if (web) web.issueSetupToken('reset');
});

let reloading = false;
process.on('SIGHUP', () => {
  if (reloading) return;
  reloading = true;
  void (async () => {
    const next = await load((err) =>
      logger.error({ config: opts.config, problems: err.issues }, `config reload refused, the running config stays in force: ${err.message}`),
    );
    if (next) await gateway.reload(next);
  })()
    .catch((err: Error) => logger.error({ err: err.message }, 'config reload failed'))
    .finally(() => {
      reloading = false;
    });
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  await web?.close().catch(() => {});
  await ota.stop();
  await commands.stop();
  await gateway.stop();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
