import type { GatewayIdentity } from '../topics.ts';
import { canonicalJson } from '../canonical-json.ts';

/**
 * Commands from the center to one gateway (gateway/src/commands/README.md).
 * Topic `<prefix>/<region>/<municipality>/<gateway>/cmd/<kind>`, answer on `.../cmd/<kind>/response`.
 */
/** `trust` (a rotation of commands/ota trustedKeys) is signed by a maintainer key (ota.trustedKeys), the others by a center key. */
// resend: the center asks for a range of the log it is missing (gateway/src/commands/README.md).
export const COMMAND_KINDS = ['write', 'config', 'rebirth', 'loglevel', 'trust', 'resend'] as const;
export type CommandKind = (typeof COMMAND_KINDS)[number];

/**
 * Which gateway a command is for: signed with it, so a command cannot be replayed on another
 * box, nor on a box of the same names in another deployment on the same broker (the topic
 * prefix, uplink.topicPrefix, is part of it).
 */
export interface CommandAddress {
  prefix: string;
  region: string;
  municipality: string;
  gateway: string;
}

export interface CommandEnvelope {
  /** UUID chosen by the sender; the gateway executes an id at most once. */
  id: string;
  /** The one gateway that may act on it; any other refuses it with `wrong_target`. */
  target: CommandAddress;
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
  | 'wrong_target'
  | 'stale'
  | 'expired'
  | 'future'
  | 'not_configured'
  | 'unknown_kind'
  | 'invalid_config'
  | 'protected_section'
  | 'overloaded'
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


/** Tag inside the signed bytes: a signature of another format (or of an OTA manifest) never verifies as a command. */
export const COMMAND_FORMAT = 'kedge-cmd/2';

/**
 * The bytes a command signature covers: the envelope without `signature` (its `target`
 * included, so a command for one gateway cannot be replayed on another), plus the kind (so a
 * signed write cannot be replayed on the config topic) and the format tag.
 */
export function signedBytes(kind: string, envelope: Omit<CommandEnvelope, 'signature'> | CommandEnvelope): Buffer {
  const { signature: _drop, ...rest } = envelope as CommandEnvelope;
  return Buffer.from(canonicalJson({ ...rest, kind, format: COMMAND_FORMAT }), 'utf8');
}

export const addressOf = (id: GatewayIdentity): CommandAddress => ({ prefix: id.prefix, region: id.region, municipality: id.municipality, gateway: id.gateway });

export const sameAddress = (a: CommandAddress, b: CommandAddress): boolean =>
  a.prefix === b.prefix && a.region === b.region && a.municipality === b.municipality && a.gateway === b.gateway;

/** As the topic names it: `<prefix>/<region>/<municipality>/<gateway>`. */
export const formatAddress = (a: CommandAddress): string => `${a.prefix}/${a.region}/${a.municipality}/${a.gateway}`;
