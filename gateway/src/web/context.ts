import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { Gateway } from '../gateway.ts';
import type { ApiTokenStore } from './auth/api-tokens.ts';
import type { SessionStore } from './auth/sessions.ts';
import type { SetupToken } from './auth/setup-token.ts';
import type { LoginThrottle } from './auth/throttle.ts';
import type { UserStore } from './auth/users.ts';
import type { ConfigStore } from '../config/config-store.ts';
import type { ConfigService } from '../config/config-service.ts';
import type { LogRing } from './log-ring.ts';
import type { OtaRoutesOptions } from '../ota/routes.ts';

/**
 * OTA state as the system page shows it: `state` plus whatever the OTA module reports
 * (version, progress, lastError...). The OTA module (gateway/src/ota/) plugs in by passing
 * `otaStatus` (e.g. `() => ota.agent?.status() ?? { state: 'not_configured' }`); until then
 * the page says "not configured".
 */
export interface OtaStatus {
  state: string;
  [detail: string]: unknown;
}

/**
 * The narrow queries the web layer reads the daemon through (never the reading log itself):
 * status and config in force, one point's recent readings, the log's health.
 */
export type StatusQuery = Pick<Gateway, 'status' | 'currentConfig' | 'onPoll' | 'onReadings'>;
export type RecentReadingsQuery = Pick<Gateway, 'recentReadings'>;
export type HealthQuery = Pick<Gateway, 'status' | 'currentConfig' | 'logHealth'>;
/**
 * The only thing the web layer makes the daemon do directly: write a point. A config is applied
 * through the config service (WebDeps.configService), never by calling Gateway.reload.
 */
export type GatewayActions = Pick<Gateway, 'writePoint'>;

/** What the web layer needs from the daemon. */
export interface WebDeps {
  gateway: StatusQuery & RecentReadingsQuery & HealthQuery & GatewayActions;
  /** The YAML file the daemon runs on; UI changes are written back to it. */
  configPath: string;
  /**
   * The daemon's one config service (daemon.ts shares it with SIGHUP and the commands), so every
   * change waits for the others. Required: a second service would bring a second queue back.
   */
  configService: ConfigService;
  logger: Logger;
  logRing?: LogRing;
  https?: boolean;
  otaStatus?: () => OtaStatus;
  /** Offers and status for POST /api/ota/offer and GET /api/ota/status (gateway/src/ota/routes.ts). */
  otaAgent?: OtaRoutesOptions['agent'];
  /** Graceful restart (daemon.ts: stop, exit 0, the service manager starts it again). */
  restart?: () => void;
  /** Where start-up lines go (the daemon's console); never the log ring. */
  announce?: (line: string) => void;
  /** The console is a terminal (not journald or a pipe): the setup token may be shown on it, not only put in its file. */
  consoleIsTerminal?: boolean;
  /** Further API plugins (e.g. the OTA module's routes); they sit behind the same session and CSRF guard. */
  extraRoutes?: FastifyPluginAsync[];
  /** Test seams. */
  now?: () => number;
  /** Monotonic ms for /healthz ages (default: the gateway's Clock.mono). */
  monoNow?: () => number;
  scryptN?: number;
  throttle?: { freeFailures?: number; baseLockMs?: number; maxLockMs?: number };
}

export interface WebContext extends WebDeps {
  users: UserStore;
  sessions: SessionStore;
  apiTokens: ApiTokenStore;
  throttle: LoginThrottle;
  setupToken: SetupToken;
  /** <dataDir>/web/setup-token (0600) while a setup token is open. */
  setupTokenFile: string;
  configStore: ConfigStore;
  configService: ConfigService;
  dataDir: string;
}
