import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { Gateway } from '../gateway.ts';
import type { ApiTokenStore } from './auth/api-tokens.ts';
import type { SessionStore } from './auth/sessions.ts';
import type { SetupToken } from './auth/setup-token.ts';
import type { LoginThrottle } from './auth/throttle.ts';
import type { UserStore } from './auth/users.ts';
import type { ConfigStore } from './config-store.ts';
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

/** What the web layer needs from the daemon. */
export interface WebDeps {
  gateway: Pick<Gateway, 'status' | 'reload' | 'currentConfig' | 'onPoll' | 'log' | 'onReadings' | 'writePoint'>;
  /** The YAML file the daemon runs on; UI changes are written back to it. */
  configPath: string;
  logger: Logger;
  logRing?: LogRing;
  https?: boolean;
  otaStatus?: () => OtaStatus;
  /** Offers and status for POST /api/ota/offer and GET /api/ota/status (gateway/src/ota/routes.ts). */
  otaAgent?: OtaRoutesOptions['agent'];
  /** Graceful restart (main.ts: stop, exit 0, the service manager starts it again). */
  restart?: () => void;
  /** Where the setup token goes (the daemon's console); never the log ring. */
  announce?: (line: string) => void;
  /** Further API plugins (e.g. the OTA module's routes); they sit behind the same session and CSRF guard. */
  extraRoutes?: FastifyPluginAsync[];
  /** Test seams. */
  now?: () => number;
  scryptN?: number;
  throttle?: { freeFailures?: number; baseLockMs?: number; maxLockMs?: number };
}

export interface WebContext extends WebDeps {
  users: UserStore;
  sessions: SessionStore;
  apiTokens: ApiTokenStore;
  throttle: LoginThrottle;
  setupToken: SetupToken;
  configStore: ConfigStore;
  dataDir: string;
}
