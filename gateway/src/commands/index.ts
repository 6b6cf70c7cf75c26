import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Downlink } from '@kedge/cloud-sync/downlink/downlink.ts';
import type { Gateway } from '../gateway.ts';
import { ConfigStore } from '../web/config-store.ts';
import { CommandStore } from './command-store.ts';
import { CommandExecutor, type CommandTarget } from './executor.ts';

export interface StartCommandsOptions {
  gateway: Gateway;
  logger: Logger;
  /** The config file the `config` command replaces; without it that command is refused. */
  configPath?: string;
  /** Changes the log level; default sets `logger.level`. */
  logLevel?: CommandTarget['logLevel'];
}

export interface RunningCommands {
  downlink: Downlink | null;
  stop(): Promise<void>;
}

/**
 * Starts the command downlink when the config has `commands:`. Uses the uplink's broker
 * settings with its own client id (`<uplink client id>-cmd`). The trusted keys are read from
 * the config in force at each command, so a config reload that rotates keys takes effect.
 */
export function startCommands(o: StartCommandsOptions): RunningCommands {
  const config = o.gateway.currentConfig();
  if (!config.commands) {
    o.logger.info('no commands: section in the config: the command downlink is off');
    return { downlink: null, stop: async () => undefined };
  }
  const store = new CommandStore(join(config.dataDir, 'commands.db'));
  const configStore = o.configPath ? new ConfigStore(o.configPath, (c) => o.gateway.reload(c)) : null;
  const logger = o.logger.child({ layer: 'commands' });
  const executor = new CommandExecutor(
    {
      commandsConfig: () => o.gateway.currentConfig().commands,
      writePoint: (d, p, v) => o.gateway.writePoint(d, p, v),
      rebirth: () => o.gateway.rebirth(),
      replaceConfig: configStore ? (yaml) => configStore.replace(yaml) : null,
      logLevel: o.logLevel ?? { get: () => o.logger.level, set: (level) => (o.logger.level = level) },
    },
    store,
  );
  const u = config.uplink;
  const read = (path: string | undefined) => (path ? readFileSync(path) : undefined);
  const downlink = new Downlink({
    identity: { prefix: u.topicPrefix, region: config.gateway.region, municipality: config.gateway.municipality, gateway: config.gateway.id },
    url: u.url,
    clientId: `${u.clientId ?? `kedge-${config.gateway.id}`}-cmd`,
    username: u.username,
    password: u.password ?? read(u.passwordFile)?.toString('utf8').trim(),
    tls: u.tls ? { ca: read(u.tls.ca), cert: read(u.tls.cert), key: read(u.tls.key), rejectUnauthorized: u.tls.rejectUnauthorized } : undefined,
    keepaliveSec: u.keepaliveSec,
    reconnectMs: Math.max(1000, u.reconnectMinMs),
    logger,
    handle: async (kind, payload) => {
      const response = await executor.handle(kind, payload);
      const log = response.ok ? logger.info.bind(logger) : logger.warn.bind(logger);
      log({ kind, id: response.id, ok: response.ok, error: response.error?.code, repeated: response.repeated }, `command ${kind} ${response.ok ? 'done' : 'refused'}`);
      return response;
    },
  });
  downlink.start();
  return {
    downlink,
    stop: async () => {
      await downlink.stop();
      executor.stop();
      store.close();
    },
  };
}
