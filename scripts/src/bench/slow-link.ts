import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { autoCodec, compactCodec } from '@kedge/cloud-sync/codec/index.ts';
import { Uplink } from '@kedge/cloud-sync/north/mqtt/uplink.ts';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { startShapedRelay } from '@kedge/testkit/shaped-relay.ts';
import { startTcpRelay } from '@kedge/testkit/tcp-relay.ts';
import { sleep } from '@kedge/testkit/wait.ts';
import { BACKLOG_POINTS, prefillBacklog } from './backlog.ts';
import { openLog, UPLINK_DEFAULTS } from './uplink.ts';

/** The link: a metered 4G uplink of 20 KB/s with 300 ms latency each way. */
export const SLOW_LINK = { bytesPerSec: 20_000, latencyMs: 300 } as const;
/** 1,000 points x 1,000 polls at 10 s: the issue's ~1 M-reading backlog. */
export const SLOW_LINK_STEPS = 1000;
/** The box keeps polling its 1,000 points every 10 s during the back-fill. */
const POLL_MS = 10_000;
const silent = { info() {}, warn() {}, error() {}, debug() {} };

export interface SlowLinkRun {
  liveFirst: boolean;
  /** Start of the uplink (the broker reachable again) to its CONNACK, over the slow link. */
  connectSec: number;
  /** CONNACK to the first batch at the center holding the newest value of a point (live-first's snapshot; off: never before the drain). */
  firstNewestSec: number | null;
  /** CONNACK to the first reading polled after the reconnect arriving at the center. */
  firstPolledSec: number | null;
  /** CONNACK to the whole backlog (everything logged before the reconnect) acknowledged. */
  drainSec: number;
  complete: boolean;
  /** Bytes the box sent over the link (MQTT framing included). */
  bytesUp: number;
  /** What live-first's snapshot cost on top (the uplink's own count of its payload bytes). */
  extraBytes: number;
  snapshotReadings: number;
}

export interface SlowLinkResult {
  backlogReadings: number;
  link: typeof SLOW_LINK;
  on: SlowLinkRun;
  off: SlowLinkRun;
  /** drainSec on / drainSec off. */
  drainRatio: number;
}

/**
 * The measurement: a backlog of `steps` x 1,000 readings, the broker back behind a
 * shaped link (testkit/shaped-relay.ts), the box still polling every 10 s. An independent
 * subscriber next to the broker stands for the center (the center side is not behind the slow
 * link) and notes when the newest values and the first freshly polled reading arrive. Run once
 * with live-first and once without, same log, same link, shipped uplink settings.
 */
export async function benchSlowLink(dir: string, steps: number, budgetMs: number, progress: (msg: string) => void): Promise<SlowLinkResult> {
  const on = await runOnce(dir, steps, true, budgetMs, progress);
  const off = await runOnce(dir, steps, false, budgetMs, progress);
  return { backlogReadings: steps * BACKLOG_POINTS, link: SLOW_LINK, on, off, drainRatio: on.drainSec / off.drainSec };
}

async function runOnce(dir: string, steps: number, liveFirst: boolean, budgetMs: number, progress: (msg: string) => void): Promise<SlowLinkRun> {
  const runDir = mkdtempSync(join(dir, `slow-link-${liveFirst ? 'on' : 'off'}-`));
  const path = join(runDir, 'log.db');
  prefillBacklog(path, steps, () => {});
  const log = openLog(path);
  const broker = await startMosquitto();
  const relay = await startShapedRelay(broker.port, SLOW_LINK);
  const center = await mqtt.connectAsync(broker.url, { clientId: `bench-center-${process.pid}`, reconnectPeriod: 0 });
  const backlogEnd = log.lastSeq();
  let online: number | null = null;
  let firstNewest: number | null = null;
  let firstPolled: number | null = null;
  center.on('message', (_topic, payload) => {
    const at = performance.now();
    const batch = autoCodec.decode(payload);
    const last = batch.readings[batch.readings.length - 1]?.seq ?? 0;
    // The newest value of a point before the reconnect: the last poll of the backlog.
    if (firstNewest === null && batch.readings.some((r) => r.seq > backlogEnd - BACKLOG_POINTS && r.seq <= backlogEnd)) firstNewest = at;
    if (firstPolled === null && last > backlogEnd) firstPolled = at;
  });
  await center.subscribeAsync('kedge/v1/kuzbass/kemerovo/bench-gw/data', { qos: 1 });
  const uplink = new Uplink({
    log,
    identity: { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'bench-gw' },
    url: `mqtt://127.0.0.1:${relay.port}`,
    clientId: `bench-slow-${process.pid}`,
    codec: compactCodec,
    ...UPLINK_DEFAULTS,
    // The shipped pace of the backlog (schema default) and live-first settings.
    maxReadingsPerSec: 10_000,
    liveFirst,
    backlogShare: 0.8,
    keepaliveSec: 30,
    ackTimeoutMs: 30_000,
    reconnectMinMs: 1000,
    reconnectMaxMs: 8000,
    ackMode: 'broker',
    logger: silent,
  });
  const t0 = performance.now();
  uplink.start();
  let step = 0;
  let nextPoll = 0;
  try {
    for (;;) {
      await sleep(20);
      const now = performance.now();
      if (online === null && uplink.status().state === 'online') {
        online = now;
        nextPoll = now;
      }
      if (online !== null && now >= nextPoll) {
        const ts = Date.now();
        log.append(Array.from({ length: BACKLOG_POINTS }, (_, i) => ({ point: `station-${Math.ceil((i + 1) / 20)}/p${(i + 1) % 20}`, ts, value: Math.fround(100 + i + 10 * Math.sin((steps + step + i) / 50)), quality: 'good' as const })));
        log.flush();
        step++;
        nextPoll += POLL_MS;
      }
      const done = log.cursor('uplink') >= backlogEnd;
      if (done || now - t0 > budgetMs) {
        const from = online ?? t0;
        const st = uplink.status();
        const run: SlowLinkRun = {
          liveFirst,
          connectSec: ((online ?? now) - t0) / 1000,
          firstNewestSec: firstNewest === null ? null : (firstNewest - from) / 1000,
          firstPolledSec: firstPolled === null ? null : (firstPolled - from) / 1000,
          drainSec: (now - from) / 1000,
          complete: done,
          bytesUp: relay.bytes().up,
          extraBytes: st.window.liveExtraBytes,
          snapshotReadings: st.window.snapshotReadings,
        };
        progress(
          `  live-first ${liveFirst ? 'on ' : 'off'}: newest values after ${fmtSec(run.firstNewestSec)}, first polled reading after ${fmtSec(run.firstPolledSec)}, backlog ${done ? 'drained' : 'NOT drained'} after ${run.drainSec.toFixed(1)} s, ${(run.bytesUp / 1e6).toFixed(2)} MB up (snapshot ${run.extraBytes} B)`,
        );
        return run;
      }
    }
  } finally {
    await uplink.stop();
    await center.endAsync(true);
    await relay.close();
    await broker.stop();
    log.close();
    rmSync(runDir, { recursive: true, force: true });
  }
}

export interface ReconnectResult {
  runs: number;
  /** Outage lengths (s), drawn uniformly within the bench's range. */
  outagesSec: number[];
  /** Broker back (the link restored) to the uplink's CONNACK, per run (s). */
  reconnectSec: number[];
  p95Sec: number;
  maxSec: number;
}

/**
 * Repeated broker outages of random length behind a relay that refuses connections while
 * "down"; each time, the time from the broker being reachable again to the uplink being
 * online, with the shipped backoff (1 s floor, 8 s cap, no fleet spread).
 */
export async function benchReconnect(runs: number, outageMs: { min: number; max: number }, progress: (msg: string) => void): Promise<ReconnectResult> {
  const broker = await startMosquitto();
  const relay = await startTcpRelay(broker.port);
  const dir = mkdtempSync(join(tmpdir(), 'kedge-bench-reconnect-'));
  const log = openLog(join(dir, 'log.db'));
  const uplink = new Uplink({
    log,
    identity: { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'bench-rc' },
    url: `mqtt://127.0.0.1:${relay.port}`,
    clientId: `bench-rc-${process.pid}`,
    codec: compactCodec,
    ...UPLINK_DEFAULTS,
    keepaliveSec: 30,
    reconnectMinMs: 1000,
    reconnectMaxMs: 8000,
    ackMode: 'broker',
    logger: silent,
  });
  const outagesSec: number[] = [];
  const reconnectSec: number[] = [];
  const until = async (ok: () => boolean) => {
    while (!ok()) await sleep(10);
  };
  try {
    uplink.start();
    await until(() => uplink.status().state === 'online');
    for (let i = 0; i < runs; i++) {
      const outage = outageMs.min + Math.random() * (outageMs.max - outageMs.min);
      relay.cut();
      await until(() => uplink.status().state !== 'online');
      await sleep(outage);
      relay.restore();
      const back = performance.now();
      await until(() => uplink.status().state === 'online');
      outagesSec.push(outage / 1000);
      reconnectSec.push((performance.now() - back) / 1000);
      progress(`  outage ${i + 1}/${runs}: ${(outage / 1000).toFixed(1)} s, online again ${reconnectSec.at(-1)!.toFixed(2)} s after the broker was back`);
    }
  } finally {
    await uplink.stop();
    log.close();
    await relay.close();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const sorted = [...reconnectSec].sort((a, b) => a - b);
  return { runs, outagesSec, reconnectSec, p95Sec: sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]!, maxSec: sorted.at(-1)! };
}

function fmtSec(s: number | null): string {
  return s === null ? 'never (before the end)' : `${s.toFixed(2)} s`;
}
