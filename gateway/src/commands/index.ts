import { join } from 'node:path';
import type { Logger } from 'pino';
import { Downlink } from '@kedge/cloud-sync/downlink/downlink.ts';
import { addressOf } from '@kedge/cloud-sync/downlink/envelope.ts';
import { redactUrl } from '@kedge/cloud-sync/redact.ts';
import { brokerSettingsKey, configBrokerConnection } from '../mqtt-connection.ts';
import type { Gateway } from '../gateway.ts';
import type { GatewayConfig } from '../config/schema.ts';
import { ConfigStore } from '../config/config-store.ts';
import type { ConfigService } from '../config/config-service.ts';
import { CommandStore, type CommandStoreOptions } from './command-store.ts';
import { CommandExecutor, type CommandTarget } from './executor.ts';

export interface StartCommandsOptions {
  gateway: Gateway;
  logger: Logger;
  /**
   * The daemon's one config service (daemon.ts shares it with SIGHUP and the UI): the `config` and
   * `trust` commands change the file through it. Required: a second service would bring a
   * second queue back, and a UI edit and a command could overwrite each other.
   */
  configService: ConfigService;
  /** Changes the log level; default sets `logger.level`. */
  logLevel?: CommandTarget['logLevel'];
  /** Wall clock of the freshness check and the replay store (tests move it). */
  now?: () => number;
  /** Limits of the replay store (tests shrink them). */
  store?: Omit<CommandStoreOptions, 'now'>;
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
  const now = o.now ?? Date.now;
  const store = new CommandStore(join(config.dataDir, 'commands.db'), { ...o.store, now });
  // The daemon's one config service (shared with SIGHUP and the UI): one queue for every change.
  const configStore = new ConfigStore(o.configService, () => o.gateway.currentConfig());
  const logger = o.logger.child({ layer: 'commands' });
  const configFile = commandConfigFile(configStore, () => o.gateway.currentConfig());

  /** The executor and downlink for one config's identity and broker (rebuilt when those change). */
  const build = (c: GatewayConfig): { executor: CommandExecutor; downlink: Downlink } => {
    const identity = { prefix: c.uplink.topicPrefix, region: c.gateway.region, municipality: c.gateway.municipality, gateway: c.gateway.id };
    const executor = new CommandExecutor(
      {
        address: addressOf(identity),
        commandsConfig: () => o.gateway.currentConfig().commands,
        maintainerKeys: () => o.gateway.currentConfig().ota?.trustedKeys,
        writePoint: (d, p, v) => o.gateway.writePoint(d, p, v),
        rebirth: () => o.gateway.rebirth(),
        resend: (first, last) => o.gateway.resend(first, last),
        logEpoch: () => o.gateway.log.epoch(),
        configFile,
        logLevel: o.logLevel ?? { get: () => o.logger.level, set: (level) => (o.logger.level = level) },
      },
      store,
      now,
    );
    const downlink = new Downlink({
      identity,
      // The uplink's broker and credentials, secret files read as the uplink reads them (mqtt-connection.ts).
      ...configBrokerConnection(c, { clientSuffix: '-cmd', warn: (file, problem) => logger.warn({ file }, problem) }),
      reconnectMs: Math.max(1000, c.uplink.reconnectMinMs),
      logger,
      handle: async (kind, payload) => {
        const response = await executor.handle(kind, payload);
        const log = response.ok ? logger.info.bind(logger) : logger.warn.bind(logger);
        log({ kind, id: response.id, ok: response.ok, error: response.error?.code, repeated: response.repeated }, `command ${kind} ${response.ok ? 'done' : 'refused'}`);
        return response;
      },
    });
    return { executor, downlink };
  };
  let current = build(config);
  current.downlink.start();

  // A reload that moves the box to another broker (or rotates its credentials, or renames it)
  // moves the downlink too. In a queue of its own, after the reload: the old downlink first
  // finishes the command in progress (maybe the `config` command that asked for this), whose
  // answer it publishes on the old broker.
  let rebuilding: Promise<void> = Promise.resolve();
  let stopped = false;
  const unsubscribe = o.gateway.onReload((next, prev) => {
    const identityOf = (c: GatewayConfig) => JSON.stringify([c.uplink.topicPrefix, c.gateway.region, c.gateway.municipality]);
    if (brokerSettingsKey(next) === brokerSettingsKey(prev) && identityOf(next) === identityOf(prev)) return;
    rebuilding = rebuilding.then(async () => {
      if (stopped) return;
      let fresh: ReturnType<typeof build>;
      try {
        fresh = build(next);
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'command downlink not moved to the new broker settings; it stays on the previous ones');
        return;
      }
      const old = current;
      await old.downlink.stop();
      old.executor.stop();
      if (stopped) return;
      current = fresh;
      fresh.downlink.start();
      logger.info({ url: redactUrl(next.uplink.url) }, 'command downlink reconnecting with the new broker settings');
    });
  });
  return {
    get downlink() {
      return current.downlink;
    },
    stop: async () => {
      stopped = true;
      unsubscribe();
      await rebuilding;
      await current.downlink.stop();
      current.executor.stop();
      store.close();
    },
  };
}

/**
 * The config file as the `config` and `trust` commands change it: through the same store (and
 * so the same queue and checks) as the web UI; each change is recorded as made by a command.
 */
export function commandConfigFile(configStore: ConfigStore, running: () => GatewayConfig): NonNullable<CommandTarget['configFile']> {
  return {
    current: () => {
      try {
        return configStore.validate(configStore.read());
      } catch {
        return running();
      }
    },
    validate: (yaml) => configStore.validate(yaml),
    sinks: configStore.service.sinkDefinitions,
    replace: (yaml) => configStore.replace(yaml, { source: 'command', what: 'command config (whole file)' }),
    setTrustedKeys: async (section, keys) => {
      await configStore.edit((doc) => doc.setIn([section, 'trustedKeys'], doc.createNode(keys)), {
        source: 'command',
        what: `command trust ${section} (${keys.map((k) => k.id).join(', ')})`,
      });
    },
  };
}
