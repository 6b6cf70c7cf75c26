import type { GatewayIdentity } from '../topics.ts';
import { canonicalJson } from '../canonical-json.ts';

/**
 * Commands from the center to one gateway (gateway/src/commands/README.md).
 * Topic `<prefix>/<region>/<municipality>/<gateway>/cmd/<kind>`, answer on `.../cmd/<kind>/response`.
 */
export const COMMAND_KINDS = ['write', 'config', 'rebirth', 'loglevel'] as const;
export type CommandKind = (typeof COMMAND_KINDS)[number];

export interface CommandEnvelope {
  /** UUID chosen by the sender; the gateway executes an id at most once. */
  id: string;
  /** When the center issued it (ms since epoch). */
  ts: number;
  /** Optional deadline (ms since epoch) after which the gateway must not act. */
  expiresAt?: number;
  /** Which trusted key signed it (gateway config commands.trustedKeys[].id). */
  keyId: string;
  /** Base64 Ed25519 signature of signedBytes(envelope). */
  signature: string;
  /** Kind-specific arguments, e.g. device, point, value for write. */
  [arg: string]: unknown;
}

export type CommandErrorCode =
  | 'bad_request'
  | 'unsigned'
  | 'untrusted_key'
  | 'bad_signature'
  | 'stale'
  | 'expired'
  | 'future'
  | 'not_configured'
  | 'unknown_kind'
  | 'invalid_config'
  | 'not_found'
  | 'not_writable'
  | 'invalid_value'
  | 'device_error'
  | 'timeout'
  | 'unsupported'
  | 'internal';

export interface CommandResponse {
  /** The command's id; null when the message was too broken to carry one. */
  id: string | null;
  ok: boolean;
  error?: { code: CommandErrorCode; message: string; details?: unknown };
  result?: unknown;
  /** True when this answer was stored from an earlier delivery of the same id. */
  repeated?: boolean;
}

export function commandTopic(id: GatewayIdentity, kind: string): string {
  return `${id.prefix}/${id.region}/${id.municipality}/${id.gateway}/cmd/${kind}`;
}

/** What the gateway subscribes to: one level for the kind, so responses (one level deeper) are not echoed back. */
export function commandFilter(id: GatewayIdentity): string {
  return commandTopic(id, '+');
}

export function responseTopic(id: GatewayIdentity, kind: string): string {
  return `${commandTopic(id, kind)}/response`;
}

/** The kind from a command topic of this gateway, or null. */
export function kindOfTopic(id: GatewayIdentity, topic: string): string | null {
  const base = commandTopic(id, '');
  if (!topic.startsWith(base)) return null;
  const kind = topic.slice(base.length);
  return kind.length > 0 && !kind.includes('/') ? kind : null;
}


/**
 * The bytes a command signature covers: the envelope without `signature`, plus the kind, so
 * a signed write cannot be replayed on the config topic.
 */
export function signedBytes(kind: string, envelope: Omit<CommandEnvelope, 'signature'> | CommandEnvelope): Buffer {
  const { signature: _drop, ...rest } = envelope as CommandEnvelope;
  return Buffer.from(canonicalJson({ ...rest, kind }), 'utf8');
}
