import { verify } from 'node:crypto';
import {
  formatAddress,
  sameAddress,
  signedBytes,
  type CommandAddress,
  type CommandEnvelope,
  type CommandErrorCode,
} from '@kedge/cloud-sync/downlink/envelope.ts';
import type { CommandsConfig } from '../config/schema.ts';
import { parsePublicKey } from '../ota/verify.ts';

export class CommandRefused extends Error {
  constructor(
    readonly code: CommandErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/**
 * Throws CommandRefused unless the envelope carries a valid signature of one of `keys`: the
 * center keys (commands.trustedKeys) for every kind but `trust`, which only a maintainer key
 * (ota.trustedKeys) may sign.
 */
export function checkSignature(kind: string, env: CommandEnvelope, keys: ReadonlyArray<{ id: string; publicKey: string }> | undefined, anchor = 'commands.trustedKeys'): void {
  if (!keys || keys.length === 0) throw new CommandRefused('not_configured', `this gateway accepts no ${kind} commands: its config has no ${anchor}`);
  if (typeof env.signature !== 'string' || env.signature === '' || typeof env.keyId !== 'string') {
    throw new CommandRefused('unsigned', 'command is not signed: keyId and signature (Ed25519, base64) are required');
  }
  const entry = keys.find((k) => k.id === env.keyId);
  if (!entry) {
    throw new CommandRefused('untrusted_key', `command is signed with key "${env.keyId}", which is not in ${anchor} (trusted: ${keys.map((k) => k.id).join(', ')})`);
  }
  let ok = false;
  try {
    ok = verify(null, signedBytes(kind, env), parsePublicKey(entry.publicKey), Buffer.from(env.signature, 'base64'));
  } catch {
    ok = false;
  }
  if (!ok) throw new CommandRefused('bad_signature', `signature does not verify with trusted key "${entry.id}": the command was altered (its arguments, kind or target), or signed by another key`);
}

/** Throws CommandRefused when the command is too old, expired, or dated in the future. */
export function checkFreshness(env: CommandEnvelope, config: CommandsConfig, now: number): void {
  if (env.ts > now + config.maxClockSkewMs) {
    throw new CommandRefused('future', `command ts ${new Date(env.ts).toISOString()} is ${env.ts - now} ms in the future (allowed clock skew ${config.maxClockSkewMs} ms): check the clocks`);
  }
  if (now - env.ts > config.maxAgeMs) {
    throw new CommandRefused('stale', `command is ${now - env.ts} ms old, more than commands.maxAgeMs ${config.maxAgeMs}: refused so that a late or replayed command does not act`);
  }
  if (env.expiresAt !== undefined && now > env.expiresAt) {
    throw new CommandRefused('expired', `command expired at ${new Date(env.expiresAt).toISOString()}`);
  }
}

/**
 * Throws CommandRefused unless the (signature-checked) target is this gateway. Checked after
 * the signature, so that the answer names a genuine misdirection, not an attacker's rewrite
 * (which fails as bad_signature: the target is inside the signed bytes).
 */
export function checkTarget(env: CommandEnvelope, self: CommandAddress): void {
  if (!sameAddress(env.target, self)) {
    throw new CommandRefused(
      'wrong_target',
      `command is signed for gateway ${formatAddress(env.target)}, this is ${formatAddress(self)}: refused (a command captured for one box must not act on another)`,
    );
  }
}
