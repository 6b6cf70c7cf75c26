import type { HealthQuery } from './context.ts';

export interface Health {
  /** `ok` and `degraded` answer 200, `fail` answers 503. */
  status: 'ok' | 'degraded' | 'fail';
  checks: Record<string, { ok: boolean; detail: string }>;
  /** The wall clock as the box judges it: monitoring sees a jump even after the clock is right again. */
  clock: {
    state: 'ok' | 'wrong';
    reason: string | null;
    offsetMs: number;
    jumps: { forward: number; back: number };
    lastJump: { deltaMs: number; direction: 'forward' | 'back'; wallAfter: string } | null;
  };
  /**
   * Every configured uplink. Not a check: an uplink that is down is not cured by restarting the
   * box (the log keeps its readings), and one being down never stops another.
   */
  uplinks: Array<{ name: string; kind: string; state: string; url: string; ackedSeq: number; unsent: number; evicted: number; lastError: string | null }>;
}

/**
 * Checks that make the box `degraded` (200), not failed (503): a wrong wall clock is not cured
 * by a restart, and polling and logging go on (the readings are marked uncertain_clock), so a
 * service manager or an OTA trial must not restart or roll back over it; monitoring alerts on it.
 */
const DEGRADING_CHECKS: ReadonlySet<string> = new Set(['clock']);

/**
 * Liveness for the service manager and monitoring: the log must be writable and every enabled
 * device's poll loop must have run recently (a stuck scheduler is the failure that matters).
 * Ages are measured on the monotonic clock, so a jump of the wall clock neither hides a stuck
 * loop nor fails a running one. `mono` is a test seam (default: the status's own clock).
 */
export function checkHealth(gateway: HealthQuery, mono?: number): Health {
  const checks: Health['checks'] = {};
  let clock: Health['clock'] = { state: 'ok', reason: null, offsetMs: 0, jumps: { forward: 0, back: 0 }, lastJump: null };
  try {
    const stats = gateway.logHealth();
    const w = stats.write;
    const u = gateway.status().uplink;
    // Both positions: the broker's PUBACK is flow control; only the center's confirmation lets the log forget.
    // A broker link reports them (north/broker-link/link.ts); a primary without them tells none.
    const positions = u && u.ackMode !== undefined
      ? u.ackMode === 'center'
        ? `; broker acknowledged up to ${u.brokerAckedSeq}, center confirmed up to ${u.centerConfirmedSeq}`
        : `; broker acknowledged up to ${u.brokerAckedSeq} (broker ack mode: no center confirmation)`
      : '';
    checks['log'] = w.failing
      ? {
          ok: false,
          detail: `writes failing since ${new Date(w.since ?? Date.now()).toISOString()}: ${w.reason}; ${stats.pending} readings held in memory, ${w.dropped} dropped (reported to the center as evicted); retrying`,
        }
      : { ok: true, detail: `${stats.rows} readings, ${stats.unacked} unsent, epoch ${stats.epoch}${positions}` };
  } catch (err) {
    checks['log'] = { ok: false, detail: (err as Error).message };
  }
  try {
    const status = gateway.status();
    const config = gateway.currentConfig();
    const monoNow = mono ?? status.monoNow;
    const startedMono = status.monoNow - status.uptimeMs;
    const stale: string[] = [];
    for (const d of config.devices.filter((x) => x.enabled)) {
      const state = status.devices.find((s) => s.deviceId === d.id);
      // The longest a healthy loop can be quiet: backoff at its cap plus a timed-out poll.
      const allowed = Math.max(d.intervalMs, d.backoff.maxMs) + d.timeoutMs * 4 + 10_000;
      const last = state?.lastPollMono ?? startedMono;
      if (monoNow - last > allowed) stale.push(d.id);
    }
    checks['scheduler'] = stale.length
      ? { ok: false, detail: `no poll recently: ${stale.join(', ')}` }
      : { ok: true, detail: `${status.devices.length} device loops running` };
    const c = status.clock;
    clock = {
      state: c.state,
      reason: c.reason,
      offsetMs: Math.round(c.offsetMs),
      jumps: c.jumps,
      lastJump: c.lastJump && { deltaMs: Math.round(c.lastJump.deltaMs), direction: c.lastJump.direction, wallAfter: new Date(c.lastJump.wallAfter).toISOString() },
    };
    const jumps = c.jumps.forward + c.jumps.back;
    checks['clock'] =
      c.state === 'wrong'
        ? { ok: false, detail: `${c.reason}; readings are marked uncertain_clock` }
        : { ok: true, detail: jumps ? `trusted; ${jumps} jump(s) since start, the last ${c.lastJump!.direction} by ${Math.round(Math.abs(c.lastJump!.deltaMs) / 1000)} s` : 'trusted, no jump since start' };
  } catch (err) {
    checks['scheduler'] = { ok: false, detail: (err as Error).message };
  }
  let uplinks: Health['uplinks'] = [];
  try {
    const s = gateway.status();
    const unsent = new Map((s.log.sinks ?? []).map((c) => [c.name, c.unacked]));
    uplinks = (s.uplinks ?? []).map((u) => ({
      name: u.name,
      kind: u.kind,
      state: u.status.state,
      url: u.status.url,
      ackedSeq: u.status.ackedSeq,
      unsent: unsent.get(u.name) ?? 0,
      evicted: u.evicted,
      lastError: u.status.lastError,
    }));
  } catch {
    // the checks above already say what failed
  }
  const failed = Object.entries(checks).filter(([, c]) => !c.ok);
  const status = failed.length === 0 ? 'ok' : failed.every(([name]) => DEGRADING_CHECKS.has(name)) ? 'degraded' : 'fail';
  return { status, checks, clock, uplinks };
}
