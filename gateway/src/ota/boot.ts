#!/usr/bin/env node
/**
 * kedge-boot: what systemd (deploy/kedge-gateway.service) and docker (Dockerfile.arm64) run.
 *
 *   kedge-boot --slots /var/lib/kedge/slots --seed /opt/kedge/app -- --config /etc/kedge/kedge.yaml
 *   kedge-boot --probe --heartbeat-file /tmp/kedge-heartbeat     (container HEALTHCHECK)
 *
 * Arguments after `--` go to the daemon. Without flags, ota.healthDeadlineMs, ota.maxCrashes
 * and ota.slotsDir come from the daemon's --config file.
 */
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { releaseEntry } from './entry.ts';
import { startLauncher } from './launcher.ts';
import { otaSettings } from './settings.ts';

const dash = process.argv.indexOf('--', 2);
const own = dash === -1 ? process.argv.slice(2) : process.argv.slice(2, dash);
const daemonArgs = dash === -1 ? [] : process.argv.slice(dash + 1);

const program = new Command('kedge-boot')
  .description('starts the current release slot, watches its health, rolls back a failed update; arguments after -- go to the daemon')
  .option('--slots <dir>', 'release slots folder (default: KEDGE_OTA_SLOTS_DIR, ota.slotsDir of the --config)')
  .option('--seed <dir>', 'release to install into an empty slots folder')
  .option('--health-deadline-ms <ms>', 'how long a new release has to report healthy')
  .option('--max-crashes <n>', 'crashes of a trial release before rolling back')
  .option('--restart-delay-ms <ms>', 'wait before restarting a crashed daemon')
  .option('--heartbeat-file <file>', "the daemon's sign of life (--probe reads it)", process.env.KEDGE_HEARTBEAT_FILE)
  .option('--probe', 'container HEALTHCHECK: exit 0 when the heartbeat file is fresh', false)
  .option('--probe-max-age-ms <ms>', 'how fresh --probe wants the heartbeat', '60000')
  // Usage errors exit 2 like the checks below.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
program.parse(own, { from: 'user' });
const opts = program.opts<{
  slots?: string;
  seed?: string;
  healthDeadlineMs?: string;
  maxCrashes?: string;
  restartDelayMs?: string;
  heartbeatFile?: string;
  probe: boolean;
  probeMaxAgeMs: string;
}>();
// The option names as the rest of this file reads them.
const a = {
  slots: opts.slots,
  seed: opts.seed,
  'health-deadline-ms': opts.healthDeadlineMs,
  'max-crashes': opts.maxCrashes,
  'restart-delay-ms': opts.restartDelayMs,
  'heartbeat-file': opts.heartbeatFile,
  probe: opts.probe,
  'probe-max-age-ms': opts.probeMaxAgeMs,
};

if (a.probe) {
  const file = a['heartbeat-file'];
  if (!file) {
    process.stderr.write('kedge-boot --probe needs --heartbeat-file (or KEDGE_HEARTBEAT_FILE)\n');
    process.exit(2);
  }
  let age = Infinity;
  try {
    age = Date.now() - statSync(file).mtimeMs;
  } catch {
    // never written: the daemon has not come up
  }
  const max = Number(a['probe-max-age-ms']);
  process.stdout.write(age <= max ? `healthy: last sign of life ${Math.round(age)} ms ago\n` : `unhealthy: no sign of life for ${age === Infinity ? 'ever' : `${Math.round(age)} ms`}\n`);
  process.exit(age <= max ? 0 : 1);
}

const num = (v: string | undefined, what: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`kedge-boot: --${what} must be a whole number (got "${v}")\n`);
    process.exit(2);
  }
  return n;
};

const configIdx = daemonArgs.findIndex((x) => x === '--config' || x === '-c');
const configPath = configIdx >= 0 ? daemonArgs[configIdx + 1] : undefined;
let fromConfig: ReturnType<typeof otaSettings> | undefined;
if (configPath) {
  try {
    // Imported here: `--probe` (the container's HEALTHCHECK, every interval) and a launcher
    // without --config never load the config's schemas (zod, yaml, every driver's definition).
    const { loadConfigFile } = await import('../config/load.ts');
    fromConfig = otaSettings(await loadConfigFile(configPath));
  } catch (err) {
    // The daemon reports a bad config itself; the launcher must still start the known-good release.
    process.stderr.write(`kedge-boot: using defaults, config not readable: ${(err as Error).message.split('\n')[0]}\n`);
  }
}

const slotsDir = a.slots ?? process.env.KEDGE_OTA_SLOTS_DIR ?? fromConfig?.slotsDir;
if (!slotsDir) {
  process.stderr.write('kedge-boot: --slots <dir> is required (or ota.slotsDir / dataDir in the --config file)\n');
  process.exit(2);
}
const seedDir = a.seed ? resolve(a.seed) : undefined;
const seedVersion = seedDir
  ? (JSON.parse(readFileSync(join(seedDir, 'package.json'), 'utf8')) as { version: string }).version
  : undefined;

const launcher = startLauncher({
  slotsDir: resolve(slotsDir),
  seedDir,
  // The seed runs its production bundle when it was built (dist/), else its TypeScript through tsx.
  seedInfo: seedVersion && seedDir ? { version: seedVersion, entry: releaseEntry(seedDir) } : undefined,
  healthDeadlineMs: num(a['health-deadline-ms'], 'health-deadline-ms') ?? fromConfig?.healthDeadlineMs ?? 120_000,
  maxCrashes: num(a['max-crashes'], 'max-crashes') ?? fromConfig?.maxCrashes ?? 3,
  restartDelayMs: num(a['restart-delay-ms'], 'restart-delay-ms'),
  heartbeatFile: a['heartbeat-file'],
  daemonArgs: configPath ? daemonArgs.map((x, i) => (i === configIdx + 1 ? resolve(x) : x)) : daemonArgs,
});
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => launcher.stop(sig));
for (const sig of ['SIGHUP', 'SIGUSR2'] as const) process.on(sig, () => launcher.forward(sig));
process.exit(await launcher.done);
