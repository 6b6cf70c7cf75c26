import type { CommandAddress, CommandEnvelope, CommandErrorCode, CommandResponse } from '@kedge/cloud-sync/downlink/envelope.ts';
import { COMMAND_KINDS } from '@kedge/cloud-sync/downlink/envelope.ts';
import { timerDelay } from '@kedge/cloud-sync/clock.ts';
import { ConfigError } from '../config/load.ts';
import { dataDepthIssue } from '../config/config-shape.ts';
import type { CommandsConfig, GatewayConfig } from '../config/schema.ts';
import { WriteError } from '../drivers/write-error.ts';
import { parsePublicKey } from '../ota/verify.ts';
import { ConfigApplyError } from '../config/config-service.ts';
import { checkFreshness, checkSignature, checkTarget, CommandRefused } from './authenticate.ts';
import type { CommandStore } from './command-store.ts';
import { protectedChanges } from './protected-sections.ts';
import type { WriteResult, WriteValue } from './write-point.ts';
import type { ResendAnswer, SinkDefinition } from '@kedge/cloud-sync/north/sink.ts';
import { DRIVERS } from '../drivers/registry.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const TRUST_SECTIONS = ['commands', 'ota'] as const;
export type TrustSection = (typeof TRUST_SECTIONS)[number];
/** More keys than this in one section is a mistake, not a rotation. */
const MAX_TRUSTED_KEYS = 16;

/** What commands act on; the Gateway and the config file in practice, fakes in unit tests. */
export interface CommandTarget {
  /** This gateway, as the downlink subscribed for it: a command signed for any other is refused. */
  address: CommandAddress;
  commandsConfig(): CommandsConfig | undefined;
  /** The maintainer (OTA release) keys in force: the only keys that may sign a `trust` rotation. */
  maintainerKeys(): ReadonlyArray<{ id: string; publicKey: string }> | undefined;
  writePoint(device: string, point: string, value: WriteValue): Promise<WriteResult>;
  rebirth(): boolean;
  /** Sends first..last of the log again (gateway/src/log); null when the uplink cannot. Absent in fakes. */
  resend?(first: number, last: number): ResendAnswer | null;
  /** The log's epoch, which a `resend` may name. */
  logEpoch?(): string;
  /**
   * The config file: `current` is what a remote config is compared with (the file on disk, or
   * the running config when the file does not parse), `validate` parses a new text without
   * touching anything, `replace` validates, stores atomically and applies. Null when the
   * config file is unknown.
   */
  configFile: {
    current(): GatewayConfig;
    validate(yaml: string): GatewayConfig;
    replace(yaml: string): Promise<{ devices: unknown[] }>;
    /** Replaces `<section>.trustedKeys` in the file (the rest kept as written) and applies it. */
    setTrustedKeys(section: TrustSection, keys: Array<{ id: string; publicKey: string }>): Promise<void>;
    /** The sink registry the file is read against: whose credential bindings a remote config must keep. */
    sinks: readonly SinkDefinition[];
  } | null;
  logLevel: { get(): string; set(level: string): void };
}

/** Longest temporary log level (loglevel durationMs): a day. */
export const MAX_LOG_LEVEL_MS = 24 * 3_600_000;

function fail(id: string | null, code: CommandErrorCode, message: string, details?: unknown): CommandResponse {
  return { id, ok: false, error: { code, message, ...(details !== undefined ? { details } : {}) } };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isAddress = (v: unknown): v is CommandAddress =>
  isObject(v) && typeof v.prefix === 'string' && typeof v.region === 'string' && typeof v.municipality === 'string' && typeof v.gateway === 'string';

/**
 * Turns one command message into one answer: parse, authenticate, look up the id, check
 * freshness, execute, remember. Authentication comes first so that nobody can learn stored
 * answers without a key; the id lookup comes before freshness so that the center re-asking
 * about an old command gets its answer rather than "stale".
 */
export class CommandExecutor {
  private levelTimer: { cancel(): void } | null = null;

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
    // Anyone on the broker can send this, before any signature check: the canonical form the
    // signature covers is built recursively, so a deep message is refused first.
    const deep = dataDepthIssue(env);
    if (deep !== null) return fail(id, 'bad_request', `command refused: ${deep.message}`);
    if (typeof env.ts !== 'number' || !Number.isFinite(env.ts)) return fail(id, 'bad_request', 'command needs ts: the issue time in ms since the epoch');
    if (env.expiresAt !== undefined && typeof env.expiresAt !== 'number') return fail(id, 'bad_request', 'expiresAt must be ms since the epoch');
    if (!isAddress(env.target)) {
      return fail(id, 'bad_request', 'command needs target {prefix, region, municipality, gateway} (strings; prefix is uplink.topicPrefix), signed with it: re-send it with a current kedge-cmd');
    }
    // signedBytes() puts the topic's kind and the format tag in these places, so an envelope's
    // own `kind` or `format` would travel unsigned: refused, so that no code can ever read one.
    const unsignedField = (['kind', 'format'] as const).find((k) => Object.hasOwn(env, k));
    if (unsignedField) return fail(id, 'bad_request', `command must not carry "${unsignedField}": the kind is the topic's and the format tag is added by the signature, an own value would not be signed`);
    const config = this.target.commandsConfig();
    if (!config) return fail(id, 'not_configured', 'this gateway accepts no commands: its config has no commands.trustedKeys');
    // A rotation of the trust anchors is signed by a maintainer key, never by the center key it may replace.
    const maintainer = kind === 'trust';
    try {
      checkSignature(kind, env, maintainer ? this.target.maintainerKeys() : config.trustedKeys, maintainer ? 'ota.trustedKeys (the maintainer keys)' : 'commands.trustedKeys');
      // Before the id lookup: another box's stored answers are none of this box's business.
      checkTarget(env, this.target.address);
    } catch (err) {
      if (err instanceof CommandRefused) return fail(id, err.code, err.message);
      throw err;
    }
    const earlier = this.store.answerOf(id);
    if (earlier) return { ...earlier, repeated: true };
    try {
      checkFreshness(env, config, this.now());
    } catch (err) {
      if (err instanceof CommandRefused) return fail(id, err.code, err.message);
      throw err;
    }
    // An id may be forgotten only once its command can no longer pass the freshness check.
    if (!this.store.hasRoom(config.maxAgeMs + config.maxClockSkewMs, env.ts)) {
      return fail(id, 'overloaded', 'too many commands answered within the acceptance window (the replay store is full): try again later');
    }
    const response = await this.execute(kind, id, env);
    // Refusals for bad arguments are remembered too: the same id must get the same answer.
    this.store.remember(id, kind, response, env.ts);
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
        case 'trust':
          return { id, ok: true, result: await this.trust(env) };
        case 'resend':
          return { id, ok: true, result: this.resend(env) };
        default:
          return fail(id, 'unknown_kind', `unknown command kind "${kind}" (known: ${COMMAND_KINDS.join(', ')})`);
      }
    } catch (err) {
      if (err instanceof WriteError) return fail(id, err.code, err.message);
      if (err instanceof ConfigError) {
        return fail(id, 'invalid_config', err.message, err.issues.map((i) => ({ path: i.path, message: i.message, ...(i.line !== undefined ? { line: i.line } : {}) })));
      }
      if (err instanceof ConfigApplyError) return fail(id, 'invalid_config', err.message);
      if (err instanceof CommandRefused) return fail(id, err.code, err.message, err.details);
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
    const file = this.target.configFile;
    if (!file) throw new CommandRefused('unsupported', 'this gateway was started without a config file path, so it cannot store a new config');
    const changes = protectedChanges(file.current(), file.validate(env.yaml), DRIVERS, file.sinks);
    if (changes.length > 0) {
      throw new CommandRefused(
        'protected_section',
        `remote config refused, it changes protected settings: ${changes.map((c) => c.path).join(', ')}. ${changes[0]!.message}`,
        changes,
      );
    }
    const applied = await file.replace(env.yaml);
    return { devices: applied.devices.length };
  }

  /** `trust`: replaces commands.trustedKeys or ota.trustedKeys; the signature was checked against the maintainer keys. */
  private async trust(env: CommandEnvelope): Promise<{ section: TrustSection; keys: string[] }> {
    const { section, trustedKeys } = env;
    if (typeof section !== 'string' || !(TRUST_SECTIONS as readonly string[]).includes(section)) {
      throw new CommandRefused('bad_request', `trust needs section: one of ${TRUST_SECTIONS.join(', ')} (got ${JSON.stringify(section)})`);
    }
    if (!Array.isArray(trustedKeys) || trustedKeys.length === 0 || trustedKeys.length > MAX_TRUSTED_KEYS) {
      throw new CommandRefused('bad_request', `trust needs trustedKeys: 1..${MAX_TRUSTED_KEYS} entries {id, publicKey}`);
    }
    const keys: Array<{ id: string; publicKey: string }> = [];
    for (const [i, k] of trustedKeys.entries()) {
      if (!isObject(k) || typeof k.id !== 'string' || k.id.length === 0 || k.id.length > 128 || typeof k.publicKey !== 'string') {
        throw new CommandRefused('bad_request', `trustedKeys[${i}] must be {id, publicKey} (strings)`);
      }
      try {
        parsePublicKey(k.publicKey);
      } catch (err) {
        throw new CommandRefused('bad_request', `trustedKeys[${i}] (${k.id}): ${(err as Error).message}`);
      }
      if (keys.some((o) => o.id === k.id)) throw new CommandRefused('bad_request', `trustedKeys lists the key id ${k.id} twice`);
      keys.push({ id: k.id, publicKey: k.publicKey });
    }
    const file = this.target.configFile;
    if (!file) throw new CommandRefused('unsupported', 'this gateway was started without a config file path, so it cannot store new keys');
    if (!file.current()[section as TrustSection]) {
      throw new CommandRefused('not_configured', `this gateway has no ${section} section: it is set up on the box, not by a rotation`);
    }
    await file.setTrustedKeys(section as TrustSection, keys);
    return { section: section as TrustSection, keys: keys.map((k) => k.id) };
  }

  /** `{first, last, epoch?}`: the center is missing these sequences of this box's log. */
  private resend(env: CommandEnvelope): ResendAnswer {
    const { first, last, epoch } = env;
    const seq = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
    if (!seq(first) || !seq(last) || (last as number) < (first as number)) {
      throw new CommandRefused('bad_request', 'resend needs first and last: whole sequence numbers >= 1 with first <= last');
    }
    const current = this.target.logEpoch?.();
    if (epoch !== undefined && epoch !== current) {
      throw new CommandRefused('bad_request', `this box's log is epoch ${current ?? '(unknown)'}, not ${String(epoch)}: sequences of another epoch are not held`);
    }
    const answer = this.target.resend?.(first as number, last as number);
    if (!answer) throw new CommandRefused('unsupported', "this gateway's uplink cannot resend (Sparkplug hosts use rebirth)");
    return answer;
  }

  private logLevel(env: CommandEnvelope): { level: string; previous: string; until?: number } {
    const { level, durationMs } = env;
    if (typeof level !== 'string' || !(LOG_LEVELS as readonly string[]).includes(level)) {
      throw new CommandRefused('bad_request', `level must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(level)})`);
    }
    if (durationMs !== undefined && (typeof durationMs !== 'number' || !Number.isInteger(durationMs) || durationMs < 1 || durationMs > MAX_LOG_LEVEL_MS)) {
      throw new CommandRefused('bad_request', `durationMs must be a whole number of ms in 1..${MAX_LOG_LEVEL_MS}`);
    }
    this.levelTimer?.cancel();
    this.levelTimer = null;
    const previous = this.target.logLevel.get();
    this.target.logLevel.set(level);
    if (durationMs === undefined) return { level, previous };
    // A debug level left on by mistake would fill the box's disk: it reverts by itself.
    this.levelTimer = longTimeout(durationMs, () => this.target.logLevel.set(previous));
    return { level, previous, until: this.now() + durationMs };
  }

  stop(): void {
    this.levelTimer?.cancel();
  }
}

/**
 * Runs `fn` once `ms` have passed, for any `ms`: setTimeout turns a delay above 2^31-1 ms into
 * 1 ms, so a long delay is waited in chunks (timerDelay). Unref'd: it never keeps the daemon up.
 */
export function longTimeout(ms: number, fn: () => void): { cancel(): void } {
  let timer: NodeJS.Timeout;
  const arm = (remaining: number) => {
    const step = timerDelay(remaining);
    timer = setTimeout(() => (remaining - step > 0 ? arm(remaining - step) : fn()), step);
    timer.unref();
  };
  arm(ms);
  return { cancel: () => clearTimeout(timer) };
}

function jsonSafe(r: WriteResult): unknown {
  return typeof r.value === 'bigint' ? { ...r, value: r.value.toString() } : r;
}
