import { accessSync, constants } from 'node:fs';
import { dirname } from 'node:path';
import type { WebDeps } from './context.ts';

export interface Health {
  status: 'ok' | 'fail';
  checks: Record<string, { ok: boolean; detail: string }>;
}

/**
 * Liveness for the service manager and monitoring: the log must be writable and every enabled
 * device's poll loop must have run recently (a stuck scheduler is the failure that matters).
 */
export function checkHealth(gateway: WebDeps['gateway'], now = Date.now()): Health {
  const checks: Health['checks'] = {};
  try {
    const stats = gateway.log.stats();
    if (gateway.log.path !== ':memory:') accessSync(dirname(gateway.log.path), constants.W_OK);
    accessSync(gateway.log.path, constants.W_OK);
    checks['log'] = { ok: true, detail: `${stats.rows} readings, ${stats.unacked} unsent` };
  } catch (err) {
    checks['log'] = { ok: false, detail: (err as Error).message };
  }
  try {
    const status = gateway.status();
    const config = gateway.currentConfig();
    const stale: string[] = [];
    for (const d of config.devices.filter((x) => x.enabled)) {
      const state = status.devices.find((s) => s.deviceId === d.id);
      // The longest a healthy loop can be quiet: backoff at its cap plus a timed-out poll.
      const allowed = Math.max(d.intervalMs, d.backoff.maxMs) + d.timeoutMs * 4 + 10_000;
      const last = state?.lastPollAt ?? status.startedAt;
      if (now - last > allowed) stale.push(d.id);
    }
    checks['scheduler'] = stale.length
      ? { ok: false, detail: `no poll recently: ${stale.join(', ')}` }
      : { ok: true, detail: `${status.devices.length} device loops running` };
  } catch (err) {
    checks['scheduler'] = { ok: false, detail: (err as Error).message };
  }
  return { status: Object.values(checks).every((c) => c.ok) ? 'ok' : 'fail', checks };
}
