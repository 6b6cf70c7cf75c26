#!/usr/bin/env node
import { Command } from 'commander';
import { VERSION } from './version.ts';

// Only the command line here: `--help` and `--version` end in parse(), `--check` loads the
// config's parsing and schemas alone, and the daemon (daemon.ts: pino, the reading log, MQTT,
// the drivers' implementations, the web UI) is imported only when it runs. A static import of it
// cost every `--check` ~1 s of CPU through tsx (scripts/src/build/README.md).
const program = new Command('kedge-gateway')
  .description('kedge edge gateway: polls meters, logs every reading durably, syncs to the regional broker')
  .version(VERSION)
  .option('-c, --config <path>', 'gateway config file (YAML)', process.env.KEDGE_CONFIG ?? 'config/kedge.yaml')
  .option('--check', 'validate the config file and exit')
  .option('--log-level <level>', 'pino log level', process.env.LOG_LEVEL ?? 'info')
  .option('--web-port <port>', 'web UI port, overriding web.port of the config (0: a free port)', process.env.KEDGE_WEB_PORT);
program.parse();
const opts = program.opts<{ config: string; check?: boolean; logLevel: string; webPort?: string }>();

if (opts.check) {
  const { checkConfigFile, ConfigError, formatWarnings } = await import('./config/load.ts');
  let checked;
  try {
    checked = await checkConfigFile(opts.config);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // Every problem, file:line:column field: message.
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  // The check's result alone on stdout (scripts and the README read it); warnings never refuse a config.
  for (const line of formatWarnings(opts.config, checked.warnings)) process.stderr.write(`${line}\n`);
  const n = checked.warnings.length;
  process.stdout.write(`${opts.config}: OK (${checked.config.devices.length} devices${n ? `, ${n} ${n === 1 ? 'warning' : 'warnings'}` : ''})\n`);
  process.exit(0);
}
// Until the daemon's own handlers exist: loading its chunk takes ~0.5 s (on a Pi more), and in
// that time Node's default action for SIGHUP or SIGTERM would end the process (a `systemctl
// reload` right after start, a crash to the launcher). Queued here, replayed by runDaemon.
const earlySignals: NodeJS.Signals[] = [];
const queueSignal = (signal: NodeJS.Signals) => {
  // Before the daemon's logger exists: a plain line (journald keeps stderr too).
  process.stderr.write(`${signal} while the daemon loads: handled once it has loaded\n`);
  earlySignals.push(signal);
};
const EARLY_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
for (const signal of EARLY_SIGNALS) process.on(signal, queueSignal);
const { runDaemon } = await import('./daemon.ts');
await runDaemon(opts, () => {
  for (const signal of EARLY_SIGNALS) process.off(signal, queueSignal);
  return earlySignals.splice(0);
});
