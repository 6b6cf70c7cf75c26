/**
 * The launcher systemd or docker runs. It is never replaced by an update (it lives in the
 * installed image, outside the slots), keeps all its state on disk, and on every start
 * finishes whatever a power cut interrupted (slots.reconcile), so the box always boots a
 * release: the known-good one, or a release on trial that it watches.
 *
 * A trial boot is counted BEFORE it starts, so crashes and power cuts count alike. The trial
 * must report healthy over IPC within the deadline; it is rolled back when it reports
 * unhealthy, misses the deadline, or has used up maxCrashes boots.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { realpathSync, writeFileSync } from 'node:fs';
import { isLauncherMessage } from './health.ts';
import { sdNotify } from './sd-notify.ts';
import { currentLink, markGood, readCurrentLink, readReleaseInfo, readState, reconcile, rollback, seed, slotsExist, updatePending, type ReleaseInfo } from './slots.ts';

export interface LauncherOptions {
  slotsDir: string;
  /** Release tree copied into slot a on the very first start. */
  seedDir?: string;
  seedInfo?: ReleaseInfo;
  healthDeadlineMs: number;
  maxCrashes: number;
  /** Passed to the daemon after the release's entry arguments. */
  daemonArgs: string[];
  restartDelayMs?: number;
  /**
   * Rewritten on every sign of life of the daemon; docker's HEALTHCHECK reads it (--probe).
   * Put it on tmpfs: every few seconds is too often for an SD card.
   */
  heartbeatFile?: string;
  log?: (msg: string) => void;
  env?: NodeJS.ProcessEnv;
  /** After stop(), SIGKILL a daemon still running after this long; default LAUNCHER_STOP_KILL_MS. */
  stopKillMs?: number;
}

export interface Launcher {
  /** Resolves with the exit code the launcher should end with. */
  done: Promise<number>;
  stop(signal?: NodeJS.Signals): void;
  /** Passes a signal to the running daemon (SIGHUP: reload its config). */
  forward(signal: NodeJS.Signals): void;
  pid(): number | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** After a stop, the daemon is killed if it still runs: above its 10 s grace, below systemd's TimeoutStopSec (30 s). */
export const LAUNCHER_STOP_KILL_MS = 15_000;

export function startLauncher(o: LauncherOptions): Launcher {
  const log = o.log ?? ((m: string) => process.stderr.write(`kedge-boot: ${m}\n`));
  let child: ChildProcess | null = null;
  let stopping = false;
  let stopSignal: NodeJS.Signals = 'SIGTERM';

  const kill = (c: ChildProcess, sig: NodeJS.Signals) => {
    if (c.exitCode === null && c.signalCode === null) c.kill(sig);
  };

  /** Runs one daemon until it exits; returns its exit code. */
  const runOnce = (info: ReleaseInfo, slot: string, slotPath: string, trial: boolean): Promise<{ code: number | null; signal: string | null }> =>
    new Promise((resolve) => {
      const env = {
        ...(o.env ?? process.env),
        KEDGE_OTA_SLOTS_DIR: o.slotsDir,
        KEDGE_OTA_SLOT: slot,
        KEDGE_OTA_VERSION: info.version,
        KEDGE_OTA_TRIAL: trial ? '1' : '0',
        KEDGE_OTA_HEALTH_DEADLINE_MS: String(o.healthDeadlineMs),
      };
      const c = spawn(process.execPath, [...info.entry, ...o.daemonArgs], { cwd: slotPath, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      child = c;
      let ready = false;
      let deadlineTimer: NodeJS.Timeout | null = null;
      const fail = (reason: string) => {
        updatePending(o.slotsDir, (p) => {
          p.failure ??= reason;
        });
        kill(c, 'SIGTERM');
        setTimeout(() => kill(c, 'SIGKILL'), 5000).unref();
      };
      if (trial) deadlineTimer = setTimeout(() => fail(`no healthy report within ${o.healthDeadlineMs} ms`), o.healthDeadlineMs + 1000);
      c.on('message', (m: unknown) => {
        if (!isLauncherMessage(m)) return;
        if (m.kedgeOta === 'alive') {
          if (o.heartbeatFile) writeFileSync(o.heartbeatFile, `${Date.now()}\n`);
          if (!ready && !trial) {
            ready = true;
            sdNotify(`READY=1\nSTATUS=running ${info.version} (slot ${slot})`, env);
          }
          sdNotify('WATCHDOG=1', env);
        } else if (m.kedgeOta === 'healthy' && trial) {
          if (deadlineTimer) clearTimeout(deadlineTimer);
          markGood(o.slotsDir);
          log(`release ${info.version} (slot ${slot}) passed its health check: ${m.why}; marked good`);
          ready = true;
          sdNotify(`READY=1\nSTATUS=running ${info.version} (slot ${slot})`, env);
        } else if (m.kedgeOta === 'unhealthy' && trial) {
          if (deadlineTimer) clearTimeout(deadlineTimer);
          fail(m.reason);
        }
      });
      c.on('error', (err) => log(`cannot start ${info.version}: ${err.message}`));
      c.on('exit', (code, signal) => {
        if (deadlineTimer) clearTimeout(deadlineTimer);
        child = null;
        resolve({ code, signal });
      });
    });

  const loop = async (): Promise<number> => {
    if (!slotsExist(o.slotsDir)) {
      if (!o.seedDir || !o.seedInfo) throw new Error(`${o.slotsDir} holds no release and no --seed was given`);
      seed(o.slotsDir, o.seedDir, o.seedInfo);
      log(`seeded slot a with ${o.seedInfo.version} from ${o.seedDir}`);
    }
    let lastExit = '';
    for (;;) {
      if (stopping) return 0;
      const state = reconcile(o.slotsDir);
      const p = state.pending;
      if (p?.failure) {
        rollback(o.slotsDir, p.failure);
        log(`rolled back ${p.version}: ${p.failure}`);
        continue;
      }
      if (p && p.attempts >= o.maxCrashes) {
        const reason = `did not pass its health check in ${p.attempts} boots${lastExit ? ` (last: ${lastExit})` : ''}`;
        rollback(o.slotsDir, reason);
        log(`rolled back ${p.version}: ${reason}`);
        continue;
      }
      if (p) {
        updatePending(o.slotsDir, (q) => {
          q.attempts += 1;
          q.deadline = Date.now() + o.healthDeadlineMs;
        });
      }
      const slot = readCurrentLink(o.slotsDir)!;
      const slotPath = realpathSync(currentLink(o.slotsDir));
      const info = readReleaseInfo(slotPath);
      if (!info) {
        if (p) {
          rollback(o.slotsDir, `slot ${slot} holds no ${'kedge-release.json'}`);
          continue;
        }
        throw new Error(`the known-good slot ${slot} holds no release (${slotPath})`);
      }
      log(`starting ${info.version} from slot ${slot}${p ? ` (trial, boot ${p.attempts + 1} of ${o.maxCrashes})` : ''}`);
      const exit = await runOnce(info, slot, slotPath, p !== null);
      lastExit = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
      if (stopping) return 0;
      const after = readState(o.slotsDir);
      // A trial that failed or crashed, or an update the daemon just installed: go round.
      if (after?.pending) {
        if (!after.pending.failure && p) await sleep(o.restartDelayMs ?? 1000);
        continue;
      }
      log(`${info.version} stopped (${lastExit})`);
      return exit.code ?? 1;
    }
  };

  const done = loop().catch((err: unknown) => {
    log(`fatal: ${(err as Error).message}`);
    return 1;
  });

  return {
    done,
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      stopping = true;
      stopSignal = signal;
      const c = child as ChildProcess | null;
      if (!c) return;
      kill(c, stopSignal);
      // A daemon that does not end (its own grace is SHUTDOWN_GRACE_MS in daemon.ts) is killed:
      // a stop of the launcher always ends, under systemd and in tests alike.
      const graceMs = o.stopKillMs ?? LAUNCHER_STOP_KILL_MS;
      setTimeout(() => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        log(`the daemon did not stop within ${graceMs} ms of ${signal}: killing it`);
        kill(c, 'SIGKILL');
      }, graceMs).unref();
    },
    forward(signal: NodeJS.Signals) {
      const c = child as ChildProcess | null;
      if (c) kill(c, signal);
    },
    pid: () => (child as ChildProcess | null)?.pid ?? null,
  };
}
