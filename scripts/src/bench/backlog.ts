import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { compactCodec } from '@kedge/cloud-sync/codec/index.ts';
import { SCHEMA } from '@kedge/gateway/log/schema.ts';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { drain, openLog, UPLINK_DEFAULTS } from './uplink.ts';

/** 24 h of 1,000 points every 10 s. */
export const BACKLOG_POINTS = 1000;
export const BACKLOG_STEPS = 8640;
export const BACKLOG_READINGS = BACKLOG_POINTS * BACKLOG_STEPS;

export interface BacklogBenchResult {
  /** Readings actually drained in this run. */
  readings: number;
  /** 8.64 M: what the result is about. */
  targetReadings: number;
  fraction: number;
  prefillSec: number;
  logFileMB: number;
  drainSec: number;
  readingsPerSec: number;
  /** Seconds for the full 8.64 M: measured when fraction = 1 and complete, otherwise extrapolated. */
  fullDrainSec: number;
  extrapolated: boolean;
}

/**
 * Writes `steps` x 1,000 points at 10 s straight into a log file (big transactions, no
 * fsync: setup, not measured), then starts a broker and times the uplink (config defaults,
 * compact codec) delivering all of it. The broker is started only after the backlog exists,
 * as after an outage; the uplink's reconnect wait is not counted (it is configuration).
 */
export async function benchBacklog(dir: string, steps: number, budgetMs: number, progress: (msg: string) => void): Promise<BacklogBenchResult> {
  const path = join(dir, 'backlog-log.db');
  const t0 = performance.now();
  prefillBacklog(path, steps, progress);
  const prefillSec = (performance.now() - t0) / 1000;
  const readings = steps * BACKLOG_POINTS;
  progress(`  prefilled ${readings.toLocaleString('en-US')} readings in ${prefillSec.toFixed(1)} s; starting the broker`);

  const log = openLog(path);
  const broker = await startMosquitto();
  try {
    const r = await drain(log, broker.url, compactCodec, UPLINK_DEFAULTS, (acked) => progress(`  drained ${((acked / readings) * 100).toFixed(0)}%`), budgetMs);
    const rate = r.acked / r.sec;
    const complete = r.complete && readings === BACKLOG_READINGS;
    return {
      readings: r.acked,
      targetReadings: BACKLOG_READINGS,
      fraction: r.acked / BACKLOG_READINGS,
      prefillSec,
      logFileMB: statSync(path).size / 2 ** 20,
      drainSec: r.sec,
      readingsPerSec: rate,
      fullDrainSec: complete ? r.sec : BACKLOG_READINGS / rate,
      extrapolated: !complete,
    };
  } finally {
    log.close();
    await broker.stop();
  }
}

/**
 * Writes `steps` x 1,000 points at 10 s, ending now, straight into a new log file at `path`
 * (big transactions, no fsync: setup, not measured): the backlog of an outage.
 */
export function prefillBacklog(path: string, steps: number, progress: (msg: string) => void): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.exec(SCHEMA);
  const insertPoint = db.prepare('INSERT INTO points (id, key) VALUES (?, ?)');
  db.transaction(() => {
    for (let p = 1; p <= BACKLOG_POINTS; p++) insertPoint.run(p, `station-${Math.ceil(p / 20)}/p${p % 20}`);
  })();
  const insert = db.prepare('INSERT INTO readings (seq, ts, point, value, flags) VALUES (?, ?, ?, ?, ?)');
  const start = Date.now() - steps * 10_000;
  const fill = db.transaction((fromStep: number, toStep: number) => {
    for (let s = fromStep; s < toStep; s++) {
      const ts = start + s * 10_000;
      for (let p = 1; p <= BACKLOG_POINTS; p++) {
        // Meter-like float32 values: slow waves around a per-point level.
        insert.run(s * BACKLOG_POINTS + p, ts, p, Math.fround(100 + p + 10 * Math.sin((s + p) / 50)), 0);
      }
    }
  });
  for (let s = 0; s < steps; s += 100) {
    fill(s, Math.min(steps, s + 100));
    if (s % 1000 === 0 && s > 0) progress(`  backlog prefill ${((s / steps) * 100).toFixed(0)}%`);
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}
