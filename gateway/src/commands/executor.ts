import type { CommandEnvelope, CommandErrorCode, CommandResponse } from '@kedge/cloud-sync/downlink/envelope.ts';
import { COMMAND_KINDS } from '@kedge/cloud-sync/downlink/envelope.ts';
import { ConfigError } from '../config/load.ts';
import type { CommandsConfig } from '../config/schema.ts';
import { WriteError } from '../drivers/write-error.ts';
import { ConfigApplyError } from '../web/config-store.ts';
import { checkFreshness, checkSignature, CommandRefused } from './authenticate.ts';
import type { CommandStore } from './command-store.ts';
import type { WriteResult, WriteValue } from './write-point.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** What commands act on; the Gateway and the config file in practice, fakes in unit tests. */
export interface CommandTarget {
  commandsConfig(): CommandsConfig | undefined;
  writePoint(device: string, point: string, value: WriteValue): Promise<WriteResult>;
  rebirth(): boolean;
  /** Validates, stores atomically and applies a whole config file; null when the config file is unknown. */
  replaceConfig: ((yaml: string) => Promise<{ devices: unknown[] }>) | null;
  logLevel: { get(): string; set(level: string): void };
}

const MAX_LOG_LEVEL_MS = 24 * 3_600_000;

function fail(id: string | null, code: CommandErrorCode, message: string, details?: unknown): CommandResponse {
  return { id, ok: false, error: { code, message, ...(details !== undefined ? { details } : {}) } };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Turns one command message into one answer: parse, authenticate, look up the id, check
 * freshness, execute, remember. Authentication comes first so that nobody can learn stored
 * answers without a key; the id lookup comes before freshness so that the center re-asking
 * about an old command gets its answer rather than "stale".
 */
export class CommandExecutor {
  private levelTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly target: CommandTarget,
    private readonly store: CommandStore,
    private readonly now: () => number = Date.now,
  ) {}

  async handle(kind: string, payload: Buffer): Promise<CommandResponse> {
    let env: CommandEnvelope;
    try {
      const parsed: unknown = JSON.parse(payload.toString('utf8'));
      if (!isObject(parsed)) throw new Error('the message is not a JSON object');
      env = parsed as CommandEnvelope;
    } catch (err) {
      return fail(null, 'bad_request', `command is not valid JSON: ${(err as Error).message}`);
    }
    const id = typeof env.id === 'string' && env.id.length > 0 && env.id.length <= 128 ? env.id : null;
    if (id === null) return fail(null, 'bad_request', 'command needs an id: a string of 1..128 characters (a UUID)');
    if (typeof env.ts !== 'number' || !Number.isFinite(env.ts)) return fail(id, 'bad_request', 'command needs ts: the issue time in ms since the epoch');
    if (env.expiresAt !== undefined && typeof env.expiresAt !== 'number') return fail(id, 'bad_request', 'expiresAt must be ms since the epoch');
    const config = this.target.commandsConfig();
    try {
      checkSignature(kind, env, config);
    } catch (err) {
      if (err instanceof CommandRefused) return fail(id, err.code, err.message);
      throw err;
    }
    const earlier = this.store.answerOf(id);
    if (earlier) return { ...earlier, repeated: true };
    try {
      checkFreshness(env, config!, this.now());
    } catch (err) {
      if (err instanceof CommandRefused) return fail(id, err.code, err.message);
      throw err;
    }
    const response = await this.execute(kind, id, env);
    // Refusals for bad arguments are remembered too: the same id must get the same answer.
    this.store.remember(id, kind, response);
    return response;
  }

  private async execute(kind: string, id: string, env: CommandEnvelope): Promise<CommandResponse> {
    try {
      switch (kind) {
        case 'write':
          return { id, ok: true, result: jsonSafe(await this.write(env)) };
        case 'config':
          return { id, ok: true, result: await this.config(env) };
        case 'rebirth':
          return { id, ok: true, result: { sent: this.target.rebirth() } };
        case 'loglevel':
          return { id, ok: true, result: this.logLevel(env) };
        default:
          return fail(id, 'unknown_kind', `unknown command kind "${kind}" (known: ${COMMAND_KINDS.join(', ')})`);
      }
    } catch (err) {
      if (err instanceof WriteError) return fail(id, err.code, err.message);
      if (err instanceof ConfigError) {
        return fail(id, 'invalid_config', err.message, err.issues.map((i) => ({ path: i.path, message: i.message, ...(i.line !== undefined ? { line: i.line } : {}) })));
      }
      if (err instanceof ConfigApplyError) return fail(id, 'invalid_config', err.message);
      if (err instanceof CommandRefused) return fail(id, err.code, err.message);
      return fail(id, 'internal', (err as Error).message);
    }
  }

  private write(env: CommandEnvelope): Promise<WriteResult> {
    const { device, point, value } = env;
    if (typeof device !== 'string' || typeof point !== 'string') throw new CommandRefused('bad_request', 'write needs device and point (strings) and value');
    if (!['number', 'boolean', 'string'].includes(typeof value)) {
      throw new WriteError('invalid_value', `write value for ${device}/${point} must be a number, boolean or string, got ${value === null ? 'null' : typeof value}`);
    }
    return this.target.writePoint(device, point, value as WriteValue);
  }

  private async config(env: CommandEnvelope): Promise<{ devices: number }> {
    if (typeof env.yaml !== 'string') throw new CommandRefused('bad_request', 'config needs yaml: the whole config file as a string');
    if (!this.target.replaceConfig) throw new CommandRefused('unsupported', 'this gateway was started without a config file path, so it cannot store a new config');
    const applied = await this.target.replaceConfig(env.yaml);
    return { devices: applied.devices.length };
  }

  private logLevel(env: CommandEnvelope): { level: string; previous: string; until?: number } {
    const { level, durationMs } = env;
    if (typeof level !== 'string' || !(LOG_LEVELS as readonly string[]).includes(level)) {
      throw new CommandRefused('bad_request', `level must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(level)})`);
    }
    if (durationMs !== undefined && (typeof durationMs !== 'number' || !Number.isInteger(durationMs) || durationMs < 1 || durationMs > MAX_LOG_LEVEL_MS)) {
      throw new CommandRefused('bad_request', `durationMs must be a whole number of ms in 1..${MAX_LOG_LEVEL_MS}`);
    }
    if (this.levelTimer) clearTimeout(this.levelTimer);
    this.levelTimer = null;
    const previous = this.target.logLevel.get();
    this.target.logLevel.set(level);
    if (durationMs === undefined) return { level, previous };
    // A debug level left on by mistake would fill the box's disk: it reverts by itself.
    this.levelTimer = setTimeout(() => this.target.logLevel.set(previous), durationMs);
    this.levelTimer.unref();
    return { level, previous, until: this.now() + durationMs };
  }

  stop(): void {
    if (this.levelTimer) clearTimeout(this.levelTimer);
  }
}

function jsonSafe(r: WriteResult): unknown {
  return typeof r.value === 'bigint' ? { ...r, value: r.value.toString() } : r;
}
