import { randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import type { GatewayIdentity } from '../topics.ts';
import { commandTopic, responseTopic, signedBytes, type CommandAddress, type CommandEnvelope, type CommandKind, type CommandResponse } from './envelope.ts';

/** Signs the bytes of a command; Ed25519 in practice (node:crypto `sign(null, bytes, key)`). */
export type Signer = (bytes: Buffer) => Buffer;

export interface BuildCommandOptions {
  kind: CommandKind | string;
  /** The gateway the command is for, topic prefix included (a GatewayIdentity); all of it is signed. */
  target: CommandAddress;
  args: Record<string, unknown>;
  keyId: string;
  sign: Signer;
  id?: string;
  ts?: number;
  expiresAt?: number;
}

export function buildCommand(o: BuildCommandOptions): CommandEnvelope {
  const unsigned = {
    ...o.args,
    id: o.id ?? randomUUID(),
    ts: o.ts ?? Date.now(),
    target: { prefix: o.target.prefix, region: o.target.region, municipality: o.target.municipality, gateway: o.target.gateway },
    keyId: o.keyId,
    ...(o.expiresAt !== undefined ? { expiresAt: o.expiresAt } : {}),
  };
  const signature = o.sign(signedBytes(o.kind, unsigned as CommandEnvelope)).toString('base64');
  return { ...unsigned, signature } as CommandEnvelope;
}

/**
 * Center side: publishes a command (QoS 1, never retained: a retained command would act again
 * on every reconnect) and waits for the gateway's answer with the same id.
 */
export async function sendCommand(
  client: MqttClient,
  identity: GatewayIdentity,
  kind: string,
  envelope: CommandEnvelope | Record<string, unknown>,
  timeoutMs: number,
): Promise<CommandResponse> {
  const rTopic = responseTopic(identity, kind);
  const id = (envelope as { id?: unknown }).id;
  let onMessage: ((topic: string, payload: Buffer) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const answer = new Promise<CommandResponse>((resolve, reject) => {
    onMessage = (topic, payload) => {
      if (topic !== rTopic) return;
      try {
        const r = JSON.parse(payload.toString('utf8')) as CommandResponse;
        if (r.id === id || (r.id === null && id === undefined)) resolve(r);
      } catch {
        // Not an answer of ours.
      }
    };
    client.on('message', onMessage);
    timer = setTimeout(() => reject(new Error(`no answer to ${kind} command ${String(id)} on ${rTopic} within ${timeoutMs} ms (gateway offline?)`)), timeoutMs);
  });
  try {
    await client.subscribeAsync(rTopic, { qos: 1 });
    await client.publishAsync(commandTopic(identity, kind), JSON.stringify(envelope), { qos: 1, retain: false });
    return await answer;
  } finally {
    clearTimeout(timer);
    if (onMessage) client.off('message', onMessage);
  }
}
