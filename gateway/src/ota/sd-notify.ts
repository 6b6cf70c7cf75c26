/**
 * sd_notify without a native addon. The protocol is one datagram on the AF_UNIX socket in
 * $NOTIFY_SOCKET, and node's dgram only speaks UDP, so the message is sent by Debian's
 * `systemd-notify` on our behalf. systemd attributes it by the sender's pid, so the unit
 * needs NotifyAccess=all, and --pid names the launcher as the main process.
 */
import { spawn } from 'node:child_process';

export function sdNotifyAvailable(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.NOTIFY_SOCKET);
}

/** Fire and forget: a missing systemd-notify must never take the gateway down. */
export function sdNotify(state: string, env: NodeJS.ProcessEnv = process.env): void {
  if (!sdNotifyAvailable(env)) return;
  const bin = env.KEDGE_SYSTEMD_NOTIFY ?? 'systemd-notify';
  try {
    const child = spawn(bin, [`--pid=${process.pid}`, state], { stdio: 'ignore', env });
    child.on('error', () => {});
    child.unref();
  } catch {
    // best effort
  }
}

/** Half of WatchdogSec (systemd passes it as WATCHDOG_USEC), or null without a watchdog. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  return Number.isFinite(usec) && usec > 0 ? Math.max(500, Math.floor(usec / 2000)) : null;
}
