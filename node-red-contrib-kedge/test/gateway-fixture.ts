/**
 * A real kedge gateway for the Node-RED tests: the in-process Modbus simulator's river level
 * station (pump_on coil writable), the Gateway polling it, and the web API listening on a free
 * 127.0.0.1 port, with an owner account and an API token.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { ConfigService } from '@kedge/gateway/config/config-service.ts';
import { loadConfigFile } from '@kedge/gateway/config/load.ts';
import { Gateway } from '@kedge/gateway/gateway.ts';
import { buildWebApp, type WebApp } from '@kedge/gateway/web/server.ts';
import { defaultMeters, startModbusSim, type ModbusSim } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { simGatewayConfig } from '@kedge/testkit/sim/sim-config.ts';

export const DEVICE = 'river-level-station';
export const USER = 'admin';
export const PASSWORD = 'correct horse battery';

export interface KedgeGateway {
  url: string;
  token: string;
  gateway: Gateway;
  web: WebApp;
  sim: ModbusSim;
  close(): Promise<void>;
}

export async function startKedgeGateway(): Promise<KedgeGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-nr-'));
  const sim = await startModbusSim({ meters: defaultMeters().filter((m) => m.name === 'river level station') });
  const config = simGatewayConfig({
    gatewayId: 'nr-test',
    simPort: sim.port,
    brokerUrl: 'mqtt://127.0.0.1:1',
    dataDir: join(dir, 'data'),
    intervalMs: 100,
    meters: sim.meters,
  }) as { devices: Array<{ id: string; points: Array<Record<string, unknown>> }> };
  for (const p of config.devices[0]!.points) {
    if (p['id'] === 'level') p['unit'] = 'cm';
    if (p['id'] === 'pump_on') p['writable'] = true;
  }
  const configPath = join(dir, 'kedge.yaml');
  writeFileSync(configPath, stringify(config));
  const logger = pino({ level: 'silent' });
  const gateway = new Gateway(await loadConfigFile(configPath), logger);
  await gateway.start();
  const configService = new ConfigService({ path: configPath, apply: (c) => gateway.reload(c), dataDir: gateway.currentConfig().dataDir });
  const web = await buildWebApp({ gateway, configPath, configService, logger, scryptN: 1024 });
  const setupToken = web.issueSetupToken('first start');
  await web.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = web.app.server.address() as { port: number };

  const setup = await web.app.inject({ method: 'POST', url: '/api/auth/setup', payload: { token: setupToken, user: USER, password: PASSWORD } });
  if (setup.statusCode !== 200) throw new Error(`setup failed: ${setup.body}`);
  const cookie = setup.cookies.find((c) => c.name === 'kedge_session')!;
  const created = await web.app.inject({
    method: 'POST',
    url: '/api/tokens',
    headers: { cookie: `kedge_session=${cookie.value}`, 'x-csrf-token': setup.json<{ csrfToken: string }>().csrfToken },
    // What the Node-RED nodes need: live values, status, point writes (config and restart stay session-only).
    payload: { name: 'node-red test', scopes: ['live', 'read', 'write-points'] },
  });
  if (created.statusCode !== 201) throw new Error(`token creation failed: ${created.body}`);

  return {
    url: `http://127.0.0.1:${port}`,
    token: created.json<{ token: string }>().token,
    gateway,
    web,
    sim,
    async close() {
      await web.app.close();
      await gateway.stop();
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
