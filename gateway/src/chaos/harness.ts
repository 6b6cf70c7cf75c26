/**
 * The rig the end-to-end crash and chaos tests run on: a center (mosquitto with sessions on
 * disk, an in-process ingest writing to SQLite), the real gateway daemon as a child process,
 * and the checks that prove nothing was lost on the way.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { IngestConsumer, IngestStore } from '@kedge/cloud-sync';
import type { LogRecord, SeqRange } from '@kedge/cloud-sync/model.ts';
import { unpackValue, type SqlValue } from '@kedge/cloud-sync/sqlite-value.ts';
import { startMosquitto, type MosquittoHandle } from '@kedge/testkit/mosquitto.ts';
import { startProcess, type ManagedProcess, type ProcessExit } from '@kedge/testkit/proc.ts';
import { nodeEntry } from '@kedge/testkit/entry.ts';
import { fileTempDir, removeDir } from '@kedge/testkit/temp-dirs.ts';
import { closeAll } from '@kedge/testkit/clean-up.ts';
import { simGatewayConfig, type SimConfigOptions } from '@kedge/testkit/sim/sim-config.ts';
import { waitFor, type WaitOptions } from '@kedge/testkit/wait.ts';

export const GATEWAY_MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Center side: one broker and one ingest per test file, shared by its gateways. */
export class Center {
  private constructor(
    readonly dir: string,
    readonly broker: MosquittoHandle,
    readonly store: IngestStore,
    public ingest: IngestConsumer,
    private readonly statusDb: Database.Database,
    private readonly name: string,
  ) {}

  /** `brokerConf` is appended to mosquitto's config (e.g. a longer autosave_interval). */
  static async start(name: string, o: { brokerConf?: string } = {}): Promise<Center> {
    // Removed by close(), or at exit (after the daemons still running were killed) when a
    // test fails before its clean-up got that far.
    const dir = fileTempDir(`kedge-${name}-`);
    const broker = await startMosquitto({ persistence: true, ...(o.brokerConf ? { extraConf: o.brokerConf } : {}) });
    const dbPath = join(dir, 'center.db');
    const store = new IngestStore(dbPath);
    const ingest = Center.consumer(name, broker.url, store);
    await ingest.start();
    // The store keeps the raw status message but exposes only its state; the birth's fields
    // (evictedTotal) are read here.
    const statusDb = new Database(dbPath, { readonly: true });
    return new Center(dir, broker, store, ingest, statusDb, name);
  }

  private static consumer(name: string, url: string, store: IngestStore): IngestConsumer {
    return new IngestConsumer({
      url,
      // Fixed id, clean: false (as in production): the broker queues for it across restarts.
      clientId: `ingest-${name}`,
      prefix: 'kedge/v1',
      store,
      logger: pino({ level: 'silent' }),
    });
  }

  /** The ingest goes away (its session stays on the broker, which queues for it). */
  async stopIngest(): Promise<void> {
    await this.ingest.stop();
  }

  /** The ingest comes back with the same client id and store. */
  async startIngest(): Promise<void> {
    this.ingest = Center.consumer(this.name, this.broker.url, this.store);
    await this.ingest.start();
  }

  /** Highest sequence of the gateway's current epoch the center holds without a hole (what it confirms). */
  confirmed(gateway: string): number {
    return this.store.confirmed(gateway);
  }

  summary(gateway: string) {
    return this.store.summaries().find((g) => g.gateway === gateway);
  }

  maxSeq(gateway: string): number {
    return this.summary(gateway)?.maxSeq ?? 0;
  }

  status(gateway: string): string | null | undefined {
    return this.summary(gateway)?.status;
  }

  /** The last status message (birth, will or shutdown) as received. */
  statusMessage(gateway: string): Record<string, unknown> | undefined {
    const json = this.statusDb.prepare('SELECT status_json FROM gateways WHERE gateway = ?').pluck().get(gateway) as string | null | undefined;
    return json ? (JSON.parse(json) as Record<string, unknown>) : undefined;
  }

  /** Every step runs even when one throws (closeAll); the removal's error still fails the test. */
  async close(): Promise<void> {
    await closeAll(
      () => this.ingest.stop(),
      () => this.statusDb.close(),
      () => this.store.close(),
      () => this.broker.stop(),
      // After the gateways' stops (a test closes them before this), with retries for the last
      // writes of a daemon that just exited.
      () => removeDir(this.dir),
    );
  }
}

export interface LogInspection {
  /** Highest sequence ever assigned (rows may since have been evicted or pruned). */
  lastSeq: number;
  integrity: string;
  evictedTotal: number;
  /** Live data in bytes, as the size cap counts it. */
  usedBytes: number;
  uplinkCursor: number;
  /** The log's identity (meta 'epoch'). */
  epoch: string;
  /** The log's own record of evicted ranges (contiguous ones merged). */
  evictions: SeqRange[];
}

/** The real daemon (gateway/src/main.ts) in a child process, started as often as a test likes. */
export class GatewayUnderTest {
  readonly configPath: string;
  readonly dataDir: string;
  private proc: ManagedProcess | null = null;
  /** Output of every run, oldest first: a failing test shows what each run said. */
  readonly runs: string[] = [];

  constructor(
    readonly id: string,
    readonly dir: string,
    config: Record<string, unknown>,
  ) {
    this.configPath = join(dir, `${id}.yaml`);
    this.dataDir = join(dir, id);
    this.writeConfig({ ...config, dataDir: this.dataDir });
  }

  /** The usual end-to-end config: every point of the simulated meters, every poll logged. */
  static sim(dir: string, o: Omit<SimConfigOptions, 'dataDir'>): GatewayUnderTest {
    return new GatewayUnderTest(o.gatewayId, dir, simGatewayConfig({ ...o, dataDir: join(dir, o.gatewayId) }));
  }

  writeConfig(config: Record<string, unknown>): void {
    // JSON is YAML: the daemon reads it through its usual loader.
    writeFileSync(this.configPath, JSON.stringify(config));
  }

  get process(): ManagedProcess {
    if (!this.proc) throw new Error(`${this.id} was never started`);
    return this.proc;
  }

  /** Spawns the daemon; by default waits for its "gateway started" line. */
  async start(o: { waitReady?: boolean } = {}): Promise<ManagedProcess> {
    if (this.proc) this.runs.push(this.proc.output());
    this.proc = await startProcess(process.execPath, [...nodeEntry(GATEWAY_MAIN), '--config', this.configPath], {
      cwd: ROOT,
      name: this.id,
      ...(o.waitReady === false ? {} : { readyLine: /gateway started/, timeoutMs: 30_000 }),
    });
    return this.proc;
  }

  /** Power cut: SIGKILL, no chance to flush or say goodbye. */
  async kill(): Promise<ProcessExit> {
    this.process.kill('SIGKILL');
    return this.process.exited;
  }

  /** SIGTERM, as systemd stops it. */
  async stop(): Promise<ProcessExit> {
    if (!this.proc) return { code: 0, signal: null };
    await this.proc.stop();
    return this.proc.exited;
  }

  output(): string {
    return this.proc?.output() ?? '';
  }

  /** waitFor whose timeout error carries the end of the daemon's output: the why of a failure. */
  async waitFor<T>(fn: () => T | Promise<T>, opts: WaitOptions): Promise<NonNullable<T>> {
    try {
      return await waitFor(fn, opts);
    } catch (err) {
      const tail = this.output().split('\n').slice(-40).join('\n');
      throw new Error(`${(err as Error).message}\n--- ${this.id} output (last 40 lines) ---\n${tail}`, { cause: err });
    }
  }

  /** Reads the log file from outside, as a technician would after pulling the SD card. */
  inspectLog(): LogInspection {
    const db = new Database(join(this.dataDir, 'log.db'), { readonly: true });
    try {
      const counter = (db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'readings'").pluck().get() as number | undefined) ?? 0;
      const max = (db.prepare('SELECT max(seq) FROM readings').pluck().get() as number | null) ?? 0;
      const pragma = (name: string) => db.pragma(name, { simple: true }) as number;
      return {
        lastSeq: Math.max(counter, max),
        integrity: String(db.pragma('integrity_check', { simple: true })),
        evictedTotal: Number(db.prepare("SELECT value FROM meta WHERE key = 'evicted_total'").pluck().get() ?? 0),
        usedBytes: (pragma('page_count') - pragma('freelist_count')) * pragma('page_size'),
        uplinkCursor: (db.prepare("SELECT seq FROM cursors WHERE name = 'uplink'").pluck().get() as number | undefined) ?? 0,
        epoch: String(db.prepare("SELECT value FROM meta WHERE key = 'epoch'").pluck().get() ?? ''),
        evictions: db.prepare('SELECT first, last FROM evictions ORDER BY first').all() as SeqRange[],
      };
    } finally {
      db.close();
    }
  }

  /** Every reading still in the log, oldest first. */
  logRecords(): LogRecord[] {
    const db = new Database(join(this.dataDir, 'log.db'), { readonly: true });
    try {
      const rows = db
        .prepare('SELECT r.seq, p.key AS point, r.ts, r.value, r.flags FROM readings r JOIN points p ON p.id = r.point ORDER BY r.seq')
        .all() as Array<{ seq: number; point: string; ts: number; value: SqlValue; flags: number }>;
      return rows.map((r) => ({ seq: r.seq, point: r.point, ts: r.ts, ...unpackValue(r.value, r.flags) }));
    } finally {
      db.close();
    }
  }
}

const recordKey = (r: LogRecord) => `${r.seq} ${r.point} ${r.ts} ${r.quality} ${String(r.value)}`;

/**
 * What the center stored under each sequence is what the log holds under it: a crash must
 * never let a sequence be assigned twice, to two different readings.
 */
export function assertSameReadings(store: IngestStore, gw: GatewayUnderTest): number {
  const inLog = gw.logRecords();
  const atCenter = new Map(store.readings(gw.id, 0, Number.MAX_SAFE_INTEGER).map((r) => [r.seq, recordKey(r)]));
  const differ = inLog.filter((r) => atCenter.get(r.seq) !== recordKey(r));
  assert.deepEqual(
    differ.slice(0, 5).map((r) => ({ log: recordKey(r), center: atCenter.get(r.seq) })),
    [],
    `${differ.length} of ${inLog.length} logged readings differ at the center`,
  );
  return inLog.length;
}

export interface Coverage {
  stored: number;
  evicted: number;
}

/**
 * The center's promise: every sequence 1..lastSeq is stored exactly once or lies inside a
 * range the gateway reported evicted; nothing beyond lastSeq; no hole the store calls a gap.
 * (gateway, seq) is the store's primary key, so "once" holds by construction; what can break
 * is a hole, a reading also reported evicted, or a sequence the gateway never assigned.
 */
export function assertEverySequenceOnce(store: IngestStore, gateway: string, lastSeq: number): Coverage {
  const seqs = store.sequences(gateway);
  const evicted = store.evictedRanges(gateway);
  const seen = new Uint8Array(lastSeq + 1);
  const beyond: number[] = [];
  for (const s of seqs) {
    if (s < 1 || s > lastSeq) beyond.push(s);
    else seen[s]!++;
  }
  let evictedCount = 0;
  const overlaps: SeqRange[] = [];
  for (const r of evicted) {
    assert.ok(r.first >= 1 && r.last <= lastSeq && r.first <= r.last, `evicted range ${r.first}..${r.last} outside 1..${lastSeq}`);
    for (let s = r.first; s <= r.last; s++) {
      if (seen[s]) overlaps.push({ first: s, last: s });
      seen[s]!++;
      evictedCount++;
    }
  }
  const missing: SeqRange[] = [];
  for (let s = 1; s <= lastSeq; s++) {
    if (seen[s]) continue;
    const prev = missing.at(-1);
    if (prev && prev.last === s - 1) prev.last = s;
    else missing.push({ first: s, last: s });
  }
  assert.deepEqual(beyond, [], `sequences the gateway never assigned (last is ${lastSeq})`);
  assert.deepEqual(missing, [], 'sequences neither stored nor reported evicted');
  assert.equal(overlaps.length, 0, `sequences both stored and counted evicted: ${JSON.stringify(overlaps.slice(0, 5))}`);
  assert.deepEqual(store.gaps(gateway), [], 'the store reports no gap');
  return { stored: seqs.length, evicted: evictedCount };
}

/** Deterministic randomness for a chaos run: the seed is printed, and CHAOS_SEED replays it. */
export function seededRandom(seed: number): () => number {
  // mulberry32
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function chaosSeed(): number {
  const fromEnv = process.env.CHAOS_SEED;
  if (fromEnv !== undefined && fromEnv !== '') {
    const n = Number(fromEnv);
    if (!Number.isInteger(n)) throw new Error(`CHAOS_SEED must be an integer (got "${fromEnv}")`);
    return n;
  }
  return Math.floor(Math.random() * 2 ** 31);
}
