import { existsSync, statfsSync } from 'node:fs';
import { networkInterfaces, uptime as osUptime } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { VERSION } from '../../gateway.ts';
import type { WebContext } from '../context.ts';
import { looseObject } from './json.ts';
import { DrainMeter } from './box-drain.ts';

/** systemd-timesyncd touches this file once the clock is synchronised (absent: not, or no timesyncd). */
const TIMESYNC_FLAG = '/run/systemd/timesync/synchronized';
/** Acks and appends over this window give the net drain rate. */
const RATE_WINDOW_MS = 60_000;

/** Non-loopback addresses of the box, as an engineer types them into a browser. */
export function boxAddresses(): Array<{ iface: string; address: string; family: string }> {
  return Object.entries(networkInterfaces()).flatMap(([iface, list]) =>
    (list ?? []).filter((a) => !a.internal).map((a) => ({ iface, address: a.address, family: a.family })),
  );
}

/**
 * The box panel: what an engineer checks before leaving a site. Clock (and whether NTP synced
 * it), uptime, disk free under the log, backlog by age with an estimated time to drain (the
 * acks of the last minute minus the readings written meanwhile: box-drain.ts), uplink, addresses, version and OTA state.
 */
export async function boxRoutes(app: FastifyInstance, ctx: WebContext): Promise<void> {
  const drain = new DrainMeter(RATE_WINDOW_MS);
  app.get(
    '/api/box',
    {
      config: { auth: { token: 'read' } },
      schema: {
        tags: ['status'],
        summary: 'Box panel: clock and sync, uptime, disk free for the log, backlog and time to drain, uplink, network addresses, version, OTA',
        response: { 200: looseObject('now, clock, ntpSynchronized, uptimeMs, osUptimeMs, disk, backlog, uplink, addresses, version, ota') },
      },
    },
    async () => {
      const s = ctx.gateway.status();
      const now = ctx.now?.() ?? Date.now();
      const rate = drain.sample(now, s.uplink?.readingsAcked ?? 0, s.log.lastSeq, s.log.unacked);
      let disk: { freeBytes: number; totalBytes: number } | null = null;
      try {
        const fs = statfsSync(ctx.dataDir);
        disk = { freeBytes: fs.bavail * fs.bsize, totalBytes: fs.blocks * fs.bsize };
      } catch {
        disk = null;
      }
      return {
        now,
        clock: { state: s.clock.state, reason: s.clock.reason, jumps: s.clock.jumps },
        ntpSynchronized: existsSync(TIMESYNC_FLAG),
        uptimeMs: s.uptimeMs,
        osUptimeMs: Math.round(osUptime() * 1000),
        disk,
        backlog: {
          unsent: s.log.unacked,
          oldestUnsentAgeMs: s.log.oldestUnackedTs === null ? null : Math.max(0, now - s.log.oldestUnackedTs),
          ackedPerSecond: rate.ackedPerSecond,
          arrivingPerSecond: rate.arrivingPerSecond,
          netPerSecond: rate.netPerSecond,
          drainMs: rate.drainMs,
          keepingUp: rate.keepingUp,
          usedBytes: s.log.usedBytes,
          fileBytes: s.log.fileBytes,
        },
        uplink: s.uplink ? { state: s.uplink.state, url: s.uplink.url, lastError: s.uplink.lastError, connectedSince: s.uplink.connectedSince } : null,
        addresses: boxAddresses(),
        version: VERSION,
        ota: ctx.otaStatus?.() ?? { state: 'not_configured' },
      };
    },
  );
}
