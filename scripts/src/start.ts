/**
 * `npm start`: the whole system on embedded defaults, on one machine.
 *   simulated meters (Modbus TCP) -> gateway daemon (+ web UI) -> embedded MQTT broker (aedes) -> ingest
 * The gateway and the ingest run as their own processes through their real command lines;
 * the ingest prints what arrives every few seconds. Ctrl-C stops everything.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { parseDocument } from 'yaml';
import { startEmbeddedBroker } from '@kedge/cloud-sync/broker/embedded.ts';
import { startModbusSim } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { canConnect } from '@kedge/testkit/wait.ts';
import { freePort } from '@kedge/testkit/ports.ts';
import { usageExit } from './cli-args.ts';
import { startProcess, type ManagedProcess } from '@kedge/testkit/proc.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const program = usageExit(
  new Command('kedge-start')
    .description('the demo: broker, Modbus simulator, gateway and ingest on this machine')
    .option('--data-dir <dir>', 'where the demo keeps its data', join(ROOT, 'data', 'demo'))
    .option('--broker-port <port>', 'MQTT port (another free one when taken)', process.env.KEDGE_BROKER_PORT ?? '1883')
    .option('--sim-port <port>', 'Modbus simulator port (another free one when taken)', process.env.KEDGE_SIM_PORT ?? '5020')
    .option('--web-port <port>', 'web UI port (another free one when taken)', process.env.KEDGE_WEB_PORT ?? '8080')
    .option('--config <file>', 'the gateway config to start from', join(ROOT, 'config', 'kedge.example.yaml'))
    .option('--for <seconds>', 'stop after this many seconds (smoke tests)')
    .option('--report-every <seconds>', "seconds between the ingest's reports", '5'),
);
program.parse();
const opts = program.opts<{ dataDir: string; brokerPort: string; simPort: string; webPort: string; config: string; for?: string; reportEvery: string }>();
// The option names as the rest of this script reads them.
const args: Record<'data-dir' | 'broker-port' | 'sim-port' | 'web-port' | 'config' | 'report-every', string> & { for?: string | undefined } = {
  'data-dir': opts.dataDir,
  'broker-port': opts.brokerPort,
  'sim-port': opts.simPort,
  'web-port': opts.webPort,
  config: opts.config,
  for: opts.for,
  'report-every': opts.reportEvery,
};

/** The preferred port when it is free, else any free one: a box may already run a broker on 1883. */
async function portOr(preferred: number): Promise<number> {
  return (await canConnect(preferred, '127.0.0.1', 300)) ? freePort() : preferred;
}

const dataDir = resolve(args['data-dir']!);
mkdirSync(dataDir, { recursive: true });
const brokerPort = await portOr(Number(args['broker-port']));
const simPort = await portOr(Number(args['sim-port']));
const webPort = await portOr(Number(args['web-port']));

const broker = await startEmbeddedBroker({ port: brokerPort });
const sim = await startModbusSim({ port: simPort });

// The example config, pointed at this run's broker, simulator and data folder.
const doc = parseDocument(readFileSync(args.config!, 'utf8'));
doc.setIn(['dataDir'], join(dataDir, 'gateway'));
// Every MQTT uplink of the example goes to this run's broker (`uplinks:`, or an older file's `uplink:`).
const uplinks = doc.get('uplinks') as { items: unknown[] } | undefined;
if (uplinks) {
  uplinks.items.forEach((_, i) => {
    if (doc.getIn(['uplinks', i, 'kind']) !== 'http') doc.setIn(['uplinks', i, 'url'], broker.url);
  });
} else {
  doc.setIn(['uplink', 'url'], broker.url);
}
const devices = doc.get('devices') as { items: unknown[] } | undefined;
devices?.items.forEach((_, i) => doc.setIn(['devices', i, 'port'], sim.port));
// The demo's UI stays on this machine; a box in the field listens on all interfaces.
doc.setIn(['web'], { enabled: true, host: '127.0.0.1', port: webPort });
const configPath = join(dataDir, 'kedge.yaml');
writeFileSync(configPath, doc.toString());

const childEnv = { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' };
const children: ManagedProcess[] = [];
const echo = (p: ManagedProcess) => {
  let shown = 0;
  return setInterval(() => {
    const out = p.output();
    if (out.length > shown) process.stdout.write(out.slice(shown));
    shown = out.length;
  }, 250);
};

process.stdout.write(
  [
    'kedge demo',
    `  broker     ${broker.url} (embedded aedes)`,
    `  simulator  modbus tcp 127.0.0.1:${sim.port}, units ${sim.meters.map((m) => m.unitId).join(', ')}`,
    `  gateway    config ${configPath}`,
    `  web UI     http://127.0.0.1:${webPort}/ (first start: the setup token is printed below)`,
    `  ingest     ${join(dataDir, 'center.db')}`,
    '',
  ].join('\n'),
);

const ingest = await startProcess(
  process.execPath,
  ['--import', 'tsx', join(ROOT, 'cloud-sync/src/ingest/main.ts'), '--url', broker.url, '--db', join(dataDir, 'center.db'), '--report-every', args['report-every']!],
  { cwd: ROOT, name: 'ingest', env: childEnv, readyLine: /ingest subscribed|^/, timeoutMs: 30_000 },
);
children.push(ingest);
const gateway = await startProcess(process.execPath, ['--import', 'tsx', join(ROOT, 'gateway/src/main.ts'), '--config', configPath], {
  cwd: ROOT,
  name: 'gateway',
  env: childEnv,
  readyLine: /^/,
  timeoutMs: 30_000,
});
children.push(gateway);
const timers = children.map(echo);
// The daemon's stdout is a pipe here (as under journald), so it puts the setup token only in
// its 0600 file; this is the developer's own machine, so the demo shows it.
const setupTokenFile = join(dataDir, 'gateway', 'web', 'setup-token');
const showSetupToken = setInterval(() => {
  if (!existsSync(setupTokenFile)) return;
  clearInterval(showSetupToken);
  process.stdout.write(`demo: web UI one-time setup token: ${readFileSync(setupTokenFile, 'utf8').trim()} (from ${setupTokenFile})\n`);
}, 250);
timers.push(showSetupToken);

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stdout.write('\nstopping...\n');
  // The gateway first, so its last readings still reach the ingest.
  await gateway.stop();
  await ingest.stop();
  timers.forEach(clearInterval);
  for (const p of children) process.stdout.write(p.output().slice(-2000).includes('Error') ? `${p.name} output:\n${p.output().slice(-2000)}\n` : '');
  await sim.close();
  await broker.close();
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
for (const child of children) {
  void child.exited.then((e) => {
    if (!stopping) {
      process.stdout.write(`${child.name} exited (${e.code ?? e.signal}):\n${child.output().slice(-4000)}\n`);
      void stop(1);
    }
  });
}
if (args.for) setTimeout(() => void stop(0), Number(args.for) * 1000);
