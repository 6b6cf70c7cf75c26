/**
 * Daemon-side OTA wiring: the agent (offers, install) and, when started by kedge-boot, the
 * health reporter. main.ts calls startOta() after the gateway started.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/schema.ts';
import type { Gateway } from '../gateway.ts';
import { OtaAgent } from './agent.ts';
import { HealthReporter } from './health.ts';
import { otaSettings } from './settings.ts';

export { OtaAgent, type OtaStatus } from './agent.ts';
export { otaRoutes } from './routes.ts';

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
  if (s) {
    const u = config.uplink;
    const read = (p: string | undefined) => (p ? readFileSync(p) : undefined);
    agent = new OtaAgent({
      identity: { prefix: u.topicPrefix, region: config.gateway.region, municipality: config.gateway.municipality, gateway: config.gateway.id },
      slotsDir: env.KEDGE_OTA_SLOTS_DIR ?? s.slotsDir,
      incomingDir: s.incomingDir,
      trustedKeys: s.trustedKeys,
      mqtt: {
        url: u.url,
        clientId: `${u.clientId ?? `kedge-${config.gateway.id}`}-ota`,
        username: u.username,
        password: u.password ?? (u.passwordFile ? readFileSync(u.passwordFile, 'utf8').trim() : undefined),
        tls: u.tls ? { ca: read(u.tls.ca), cert: read(u.tls.cert), key: read(u.tls.key), rejectUnauthorized: u.tls.rejectUnauthorized } : undefined,
      },
      trial,
      logger: logger.child({ layer: 'ota' }),
      onInstalled: (version) => opts.restart(`update to ${version} installed`),
    });
    agent.start();
    gateway.otaStatus = () => agent?.otaStatus() ?? null;
  }
  // The launcher's deadline is authoritative; reporting a little earlier names the cause.
  const health = new HealthReporter({
    trial,
    deadlineMs: Math.max(500, deadline - 1000),
    probe: () => {
      const st = gateway.status();
      return { started: true, uplinkState: st.uplink?.state ?? null, uplinkError: st.uplink?.lastError ?? null, lastSeq: st.log.lastSeq };
    },
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
      health.stop();
      await agent?.stop();
    },
  };
}
