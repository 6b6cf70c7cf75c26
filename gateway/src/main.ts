#!/usr/bin/env node
import { Command } from 'commander';
import { pino } from 'pino';
import { ConfigError, loadConfigFile } from './config/load.ts';
import { Gateway, VERSION } from './gateway.ts';

const program = new Command('kedge-gateway')
  .description('kedge edge gateway: polls meters, logs every reading durably, syncs to the regional broker')
  .version(VERSION)
  .option('-c, --config <path>', 'gateway config file (YAML)', process.env.KEDGE_CONFIG ?? 'config/kedge.yaml')
  .option('--check', 'validate the config file and exit')
  .option('--log-level <level>', 'pino log level', process.env.LOG_LEVEL ?? 'info');
program.parse();
const opts = program.opts<{ config: string; check?: boolean; logLevel: string }>();
const logger = pino({ name: 'kedge-gateway', level: opts.logLevel });

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
  await gateway.stop();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
