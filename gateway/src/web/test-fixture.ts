/**
 * A real gateway (polling the in-process Modbus simulator) with the web app on top, for the
 * API tests: requests go through fastify.inject, so no port is needed for HTTP.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { startModbusSim, type ModbusSim } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { defaultMeters } from '@kedge/testkit/sim/meters.ts';
import { simGatewayConfig } from '@kedge/testkit/sim/sim-config.ts';
import { ConfigService } from '../config/config-service.ts';
import { loadConfigFile, type ParseOptions } from '../config/load.ts';
import { Gateway } from '../gateway.ts';
import type { Clock } from '@kedge/cloud-sync/clock.ts';
import type { WebDeps } from './context.ts';
import { LogRing } from './log-ring.ts';
import { buildWebApp, type WebApp } from './server.ts';

export interface Fixture {
  dir: string;
  configPath: string;
  gateway: Gateway;
  web: WebApp;
  sim: ModbusSim;
  logRing: LogRing;
  announced: string[];
  restarts: number;
  token: string;
  /** Creates the owner with the setup token and returns a logged-in client. */
  setup(password?: string): Promise<Client>;
  login(user: string, password: string): Promise<Client>;
  close(): Promise<void>;
}

export interface Client {
  cookie: string;
  csrf: string;
  request(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
}

export const PASSWORD = 'correct horse battery';

/** Generous: a poll slower than this on a loaded box is an error the metrics test would see. */
const WEB_FIXTURE_DEVICE_TIMEOUT_MS = 10_000;

export async function webFixture(
  { clock, sinks, ...o }: Partial<Pick<WebDeps, 'now' | 'monoNow' | 'throttle' | 'https' | 'otaAgent' | 'consoleIsTerminal'>> & { uplinkUrl?: string; clock?: Clock; sinks?: ParseOptions['sinks'] } = {},
): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-web-'));
  const sim = await startModbusSim({ meters: defaultMeters().slice(0, 1) });
  const configPath = join(dir, 'kedge.yaml');
  const config = simGatewayConfig({
    gatewayId: 'web-test',
    simPort: sim.port,
    brokerUrl: o.uplinkUrl ?? 'mqtt://127.0.0.1:1',
    dataDir: join(dir, 'data'),
    intervalMs: 100,
    // Tests assert no poll errors: a loaded 2-core box may take well over the default 1 s to answer.
    timeoutMs: WEB_FIXTURE_DEVICE_TIMEOUT_MS,
    meters: sim.meters,
  });
  writeFileSync(configPath, `# kept comment\n${stringify(config)}`, { mode: 0o640 });
  const logRing = new LogRing(100);
  const logger = pino({ level: 'info' }, logRing);
  // A composed sink registry (a test's fixture sink) reaches the gateway and the config service alike.
  const gateway = new Gateway(await loadConfigFile(configPath), logger, { ...(clock ? { clock } : {}), ...(sinks ? { sinks } : {}) });
  await gateway.start();
  const announced: string[] = [];
  const f = { restarts: 0 } as Fixture;
  const web = await buildWebApp({
    gateway,
    configPath,
    // As main.ts: the one service every change of the file goes through.
    configService: new ConfigService({ path: configPath, apply: (next) => gateway.reload(next), dataDir: gateway.currentConfig().dataDir, ...(sinks ? { sinks } : {}) }),
    logger,
    logRing,
    announce: (line) => announced.push(line),
    restart: () => f.restarts++,
    // Cheap hashes: the tests log in many times; the parameters are stored and checked anyway.
    scryptN: 1024,
    ...o,
  });
  const token = web.issueSetupToken('first start');

  const client = (cookie: string, csrf: string): Client => ({
    cookie,
    csrf,
    request: (method, url, body, headers = {}) =>
      web.app.inject({
        method: method as 'GET',
        url,
        headers: { cookie, ...(method === 'GET' ? {} : { 'x-csrf-token': csrf }), ...headers },
        ...(body === undefined ? {} : { payload: body as object }),
      }),
  });
  const fromResponse = (res: LightMyRequestResponse): Client => {
    if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
    const c = res.cookies.find((x) => x.name === 'kedge_session')!;
    return client(`kedge_session=${c.value}`, res.json<{ csrfToken: string }>().csrfToken);
  };

  return Object.assign(f, {
    dir,
    configPath,
    gateway,
    web,
    sim,
    logRing,
    announced,
    token,
    async setup(password = PASSWORD) {
      return fromResponse(await web.app.inject({ method: 'POST', url: '/api/auth/setup', payload: { token: f.token, user: 'admin', password } }));
    },
    async login(user: string, password: string) {
      return fromResponse(await web.app.inject({ method: 'POST', url: '/api/auth/login', payload: { user, password } }));
    },
    async close() {
      await web.app.close();
      await gateway.stop();
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}
