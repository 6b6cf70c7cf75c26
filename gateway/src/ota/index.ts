/**
 * Daemon-side OTA wiring: the agent (offers, install) and, when started by kedge-boot, the
 * health reporter. daemon.ts calls startOta() after the gateway started.
 */
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/schema.ts';
import type { Gateway } from '../gateway.ts';
import { OtaAgent, type OtaIdentity, type OtaMqtt } from './agent.ts';
import { brokerSettingsKey, configBrokerConnection } from '../mqtt-connection.ts';
import { HealthReporter, type HealthProbe } from './health.ts';
import { otaSettings } from './settings.ts';

export { OtaAgent, type OtaStatus } from './agent.ts';
export { otaRoutes } from './routes.ts';

/** Whose offers the agent takes, and on which topic, under this config. */
export function otaIdentity(c: GatewayConfig): OtaIdentity {
  return { prefix: c.uplink.topicPrefix, region: c.gateway.region, municipality: c.gateway.municipality, gateway: c.gateway.id };
}

/** What the trial's health check sees of a gateway whose start() has resolved (daemon.ts starts OTA only then). */
export function trialProbe(gateway: Pick<Gateway, 'status' | 'unavailableDevices'>): HealthProbe {
  const st = gateway.status();
  return { started: true, uplinkState: st.uplink?.state ?? null, uplinkError: st.uplink?.lastError ?? null, lastSeq: st.log.lastSeq, unavailable: gateway.unavailableDevices() };
}

export interface OtaRuntime {
  agent: OtaAgent | null;
  stop(): Promise<void>;
}

export function startOta(opts: { config: GatewayConfig; gateway: Gateway; logger: Logger; restart: (why: string) => void }): OtaRuntime {
  const { config, gateway, logger } = opts;
  const env = process.env;
  const trial = env.KEDGE_OTA_TRIAL === '1';
  const deadline = Number(env.KEDGE_OTA_HEALTH_DEADLINE_MS ?? config.ota?.healthDeadlineMs ?? 120_000);
  const s = otaSettings(config);
  let agent: OtaAgent | null = null;
  // The uplink's broker, secret files read as the uplink reads them (gateway/src/mqtt-connection.ts).
  const broker = (c: GatewayConfig): OtaMqtt => configBrokerConnection(c, { clientSuffix: '-ota', warn: (file, problem) => logger.warn({ file }, problem) });
  let unsubscribe = () => {};
  let moving: Promise<void> = Promise.resolve();
  if (s) {
    agent = new OtaAgent({
      identity: otaIdentity(config),
      slotsDir: env.KEDGE_OTA_SLOTS_DIR ?? s.slotsDir,
      incomingDir: s.incomingDir,
      // Read at each offer: editing ota.trustedKeys on the box and SIGHUP rotates the keys.
      trustedKeys: () => otaSettings(gateway.currentConfig())?.trustedKeys ?? [],
      maxBundleBytes: s.maxBundleBytes,
      reserveBytes: s.reserveBytes,
      minDownloadBytesPerSec: s.minDownloadBytesPerSec,
      allowLocalOfferUrls: s.allowLocalOfferUrls,
      mqtt: broker(config),
      trial,
      logger: logger.child({ layer: 'ota' }),
      onInstalled: (version) => opts.restart(`update to ${version} installed`),
    });
    agent.start();
    gateway.otaStatus = () => agent?.otaStatus() ?? null;
    // A reload with another broker URL, credentials or certificates: offers come from there now.
    // One that renames the box (id, region, municipality, topic prefix): they come on its new topic.
    unsubscribe = gateway.onReload((next, prev) => {
      const identityKey = (c: GatewayConfig) => JSON.stringify(otaIdentity(c));
      if (brokerSettingsKey(next) === brokerSettingsKey(prev) && identityKey(next) === identityKey(prev)) return;
      moving = moving.then(async () => {
        let mqtt: OtaMqtt;
        try {
          mqtt = broker(next);
        } catch (err) {
          logger.error({ err: (err as Error).message }, 'ota: not moved to the new broker settings; it stays on the previous ones');
          return;
        }
        await agent?.reconnect(mqtt, otaIdentity(next));
      });
    });
  }
  // The launcher's deadline is authoritative; reporting a little earlier names the cause.
  const health = new HealthReporter({
    trial,
    deadlineMs: Math.max(500, deadline - 1000),
    probe: () => trialProbe(gateway),
    onOrphaned: () => opts.restart('launcher went away'),
    onVerdict: (v) => {
      logger.info({ healthy: v.healthy, why: v.why }, 'ota: health check of this release');
      setTimeout(() => agent?.refresh(), 500).unref();
    },
  });
  health.start();
  return {
    agent,
    async stop() {
      unsubscribe();
      await moving;
      health.stop();
      await agent?.stop();
    },
  };
}
