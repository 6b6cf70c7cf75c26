import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { writeFileAtomic } from '../write-file-atomic.ts';
import { checkConfigFile, ConfigError, parseConfig, type CheckedConfig, type ParseOptions } from './load.ts';
import type { GatewayConfig } from './schema.ts';
import { SINKS, type SinkDefinition } from '@kedge/cloud-sync/north/registry.ts';

/** Where a config change came from: the file edited on the box (SIGHUP), the web UI, a center command. */
export type ConfigSource = 'sighup' | 'web' | 'command';

/** Who or what asked for a change, as the change history shows it. */
export interface ConfigChangeBy {
  source: ConfigSource;
  /** The UI user, the command id, ...; null when unknown (a signal has no author). */
  actor?: string | null;
  /** What was asked for, in a few words (`PUT /api/devices/m1`, `command trust commands`). */
  what: string;
}

export interface ConfigChange {
  /** ISO time of the change (wall clock). */
  at: string;
  source: ConfigSource;
  actor: string | null;
  what: string;
  /** applied: in force; refused: invalid, nothing changed; failed: valid but not applicable, the previous file restored. */
  outcome: 'applied' | 'refused' | 'failed';
  error?: string;
  /**
   * sha256 of the config text in force before and after (the text itself may hold secrets, so
   * it is not kept): each entry's `before` is the `after` of the one before, a hand edit
   * (SIGHUP) included; a refused or failed change has before == after.
   */
  before: string;
  after: string;
}

/** Applying a valid config failed (e.g. a TLS file unreadable); the previous file was restored. */
export class ConfigApplyError extends Error {
  override name = 'ConfigApplyError';
}

/** Entries the change history keeps (older ones are dropped): a few months of hand edits. */
export const CONFIG_HISTORY_MAX = 200;
export const CONFIG_HISTORY_FILE = 'config-history.json';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * The text of the config in force, as the service keeps it between changes: deflated (config
 * texts compress 20x and more; kept plain it was ~60-75 B of live heap per configured point)
 * beside its sha256, which is all the history needs. The text itself is inflated only when a
 * SIGHUP edit fails to apply and the previous config has to be applied and written back.
 */
class KeptText {
  readonly hash: string;
  /** An exact-size copy: zlib's output is a view of a 16 KB chunk, which would stay allocated. */
  private readonly deflated: Uint8Array;

  constructor(text: string) {
    this.hash = sha256(text);
    this.deflated = new Uint8Array(deflateRawSync(text));
  }

  /** Bytes kept for the text (the deflated form and the hash). */
  get bytes(): number {
    return this.deflated.byteLength + this.hash.length;
  }

  text(): string {
    return inflateRawSync(this.deflated).toString('utf8');
  }
}

export interface ConfigServiceOptions {
  /** The YAML file the daemon runs on (may be a symbolic link: it is followed, never replaced). */
  path: string;
  /** Applies a validated config (Gateway.reload). */
  apply: (config: GatewayConfig) => Promise<void>;
  /** The folder the change history is kept in (the gateway's dataDir); none: history in memory only. */
  dataDir?: string;
  historyMax?: number;
  now?: () => number;
  /** The sink registry configs are read against (load.ts ParseOptions; the product's SINKS unless a test composes one). */
  sinks?: ParseOptions['sinks'];
}

/**
 * The one owner of the config file: reads, validates (the loader of start-up), writes
 * atomically and applies. Every source of change — SIGHUP after a hand edit, the web UI, a
 * center `config`/`trust` command — goes through one queue, so each change starts from the file
 * the previous one left and the configs are applied in the order they were written. Each
 * change is recorded (who, what, when, outcome) in a bounded history in the data folder.
 */
export class ConfigService {
  readonly path: string;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly historyFile: string | null;
  private readonly historyMax: number;
  private readonly now: () => number;
  private entries: ConfigChange[];
  /**
   * The text of the config in force: the file as the daemon loaded it (the service is built
   * right after), then each text applied. A SIGHUP compares against it, not the edited file.
   * null: the file could not be read at construction.
   */
  private applied: KeptText | null;

  constructor(private readonly o: ConfigServiceOptions) {
    this.path = o.path;
    try {
      this.applied = new KeptText(readFileSync(o.path, 'utf8'));
    } catch {
      this.applied = null;
    }
    this.historyFile = o.dataDir !== undefined ? join(o.dataDir, CONFIG_HISTORY_FILE) : null;
    this.historyMax = o.historyMax ?? CONFIG_HISTORY_MAX;
    this.now = o.now ?? Date.now;
    this.entries = this.loadHistory();
  }

  read(): string {
    return readFileSync(this.path, 'utf8');
  }

  /** The sink registry this config is read against (undefined: the product's SINKS). */
  get sinks(): ParseOptions['sinks'] {
    return this.o.sinks;
  }

  /** The same registry as a list, never undefined: what credential checks, endpoints and forms read. */
  get sinkDefinitions(): readonly SinkDefinition[] {
    return this.o.sinks ?? (SINKS as readonly SinkDefinition[]);
  }

  /** Validates `text` as this config file without touching anything. Throws ConfigError. */
  validate(text: string): GatewayConfig {
    return parseConfig(text, basename(this.path), dirname(this.path), { sinks: this.o.sinks });
  }

  /** Bytes the service keeps for the text of the config in force (0: none was read). */
  get appliedTextBytes(): number {
    return this.applied?.bytes ?? 0;
  }

  /** Runs `fn` in the queue of config changes (after every change asked for before it). */
  serial<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    // Settled without the result: the queue must not keep the last config returned (a whole
    // parsed config, after a failed apply one that nothing else holds) until the next change.
    this.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * A change of the file: in the queue, `prepare` gets the file as it is now (with every
   * earlier change in it) and returns the new text and its validated config (throwing
   * ConfigError refuses the change, nothing written). The text is written atomically and
   * applied; if applying fails, the previous file is written back and applied again.
   */
  change(by: ConfigChangeBy, prepare: (before: string) => { text: string; config: GatewayConfig }): Promise<GatewayConfig> {
    return this.serial(async () => {
      const before = this.read();
      let prepared: { text: string; config: GatewayConfig };
      try {
        prepared = prepare(before);
      } catch (err) {
        const same = sha256(before);
        this.record(by, 'refused', same, same, err);
        throw err;
      }
      this.write(prepared.text);
      try {
        await this.o.apply(prepared.config);
      } catch (err) {
        this.write(before);
        await this.o.apply(this.validate(before)).catch(() => {});
        this.applied = new KeptText(before);
        this.record(by, 'failed', this.applied.hash, this.applied.hash, err);
        throw new ConfigApplyError(`the new config is valid but could not be applied (${(err as Error).message}); the previous file was restored`);
      }
      this.applied = new KeptText(prepared.text);
      this.record(by, 'applied', sha256(before), this.applied.hash);
      return prepared.config;
    });
  }

  /**
   * The file was changed on the box (SIGHUP): validated by the start-up loader and applied, in
   * the same queue. The history's `before` is the text last applied (the hand edit happened
   * outside the service, so the file no longer holds it). Throws ConfigError when the file is
   * invalid (nothing changes: the file keeps the edit to be fixed, the running config stays).
   * Throws ConfigApplyError when the file is valid but applying it failed: as change() does,
   * the previous config is applied again and the file is put back to it, so that the next UI or
   * command change starts from what runs; the hand edit is kept beside it (`<file>.rejected`).
   */
  reloadFile(by: ConfigChangeBy = { source: 'sighup', what: 'SIGHUP' }): Promise<CheckedConfig> {
    return this.serial(async () => {
      const text = this.read();
      const kept = this.applied ?? new KeptText(text);
      let checked: CheckedConfig;
      try {
        checked = await checkConfigFile(this.path, { sinks: this.o.sinks });
      } catch (err) {
        this.record(by, 'refused', kept.hash, kept.hash, err);
        throw err;
      }
      try {
        await this.o.apply(checked.config);
      } catch (err) {
        const previous = kept.text();
        // The running state first: a folder that refuses the writes below must not leave it half-applied.
        await this.o.apply(this.validate(previous)).catch(() => {});
        const rejected = `${realpathSync(this.path)}.rejected`;
        let where: string;
        try {
          writeFileAtomic(rejected, text, 0o600);
          this.write(previous);
          where = `the previous config is in force again and in the file, the edit is kept in ${rejected}`;
        } catch (writeErr) {
          where = `the previous config is in force again; the file still holds the edit (${(writeErr as Error).message})`;
        }
        this.record(by, 'failed', kept.hash, kept.hash, err);
        throw new ConfigApplyError(`the edited config is valid but could not be applied (${(err as Error).message}); ${where}`);
      }
      this.applied = new KeptText(text);
      this.record(by, 'applied', kept.hash, this.applied.hash);
      return checked;
    });
  }

  /** The recorded changes, oldest first. */
  history(): ConfigChange[] {
    return this.entries.map((e) => ({ ...e }));
  }

  /** Writes through a symbolic link (the file it names is replaced atomically; the link stays). */
  private write(text: string): void {
    writeFileAtomic(realpathSync(this.path), text);
  }

  /** `before`/`after`: the sha256 of the texts (history entries never hold a text). */
  private record(by: ConfigChangeBy, outcome: ConfigChange['outcome'], before: string, after: string, err?: unknown): void {
    const error = err === undefined ? undefined : err instanceof ConfigError ? err.message : (err as Error).message;
    const entry: ConfigChange = {
      at: new Date(this.now()).toISOString(),
      source: by.source,
      actor: by.actor ?? null,
      what: by.what,
      outcome,
      ...(error !== undefined ? { error } : {}),
      before,
      after,
    };
    this.entries = [...this.entries, entry].slice(-this.historyMax);
    if (!this.historyFile) return;
    try {
      mkdirSync(dirname(this.historyFile), { recursive: true, mode: 0o700 });
      writeFileAtomic(this.historyFile, `${JSON.stringify(this.entries, null, 1)}\n`, 0o600);
    } catch {
      // The history is for people; a full disk must not turn a change applied into an error.
    }
  }

  private loadHistory(): ConfigChange[] {
    if (!this.historyFile) return [];
    try {
      const parsed = JSON.parse(readFileSync(this.historyFile, 'utf8')) as unknown;
      return Array.isArray(parsed) ? (parsed as ConfigChange[]).slice(-this.historyMax) : [];
    } catch {
      // Missing (first start) or damaged: the history starts again; the config is not affected.
      return [];
    }
  }
}
