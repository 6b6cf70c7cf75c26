import { verify } from 'node:crypto';
import { signedBytes, type CommandEnvelope, type CommandErrorCode } from '@kedge/cloud-sync/downlink/envelope.ts';
import type { CommandsConfig } from '../config/schema.ts';
import { parsePublicKey } from '../ota/verify.ts';

export class CommandRefused extends Error {
  constructor(
    readonly code: CommandErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Throws CommandRefused unless the envelope carries a valid signature of a trusted center key. */
export function checkSignature(kind: string, env: CommandEnvelope, config: CommandsConfig | undefined): void {
  if (!config) throw new CommandRefused('not_configured', 'this gateway accepts no commands: its config has no commands.trustedKeys');
  if (typeof env.signature !== 'string' || env.signature === '' || typeof env.keyId !== 'string') {
    throw new CommandRefused('unsigned', 'command is not signed: keyId and signature (Ed25519, base64) are required');
  }
  const entry = config.trustedKeys.find((k) => k.id === env.keyId);
  if (!entry) {
    throw new CommandRefused('untrusted_key', `command is signed with key "${env.keyId}", which is not trusted (trusted: ${config.trustedKeys.map((k) => k.id).join(', ')})`);
  }
  let ok = false;
  try {
    ok = verify(null, signedBytes(kind, env), parsePublicKey(entry.publicKey), Buffer.from(env.signature, 'base64'));
  } catch {
    ok = false;
  }
  if (!ok) throw new CommandRefused('bad_signature', `signature does not verify with trusted key "${entry.id}": the command was altered, sent to another kind, or signed by another key`);
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
