import { z } from 'zod';
import { EPOCH_PATTERN } from './codec/batch.ts';

/**
 * The center's confirmation to a gateway (`kedge-ack/1`), published by the ingest after a
 * durable commit on `<prefix>/<region>/<municipality>/<gateway>/ack`, retained, QoS 1:
 * every sequence 1..confirmed of that log epoch is stored at the center or was reported
 * evicted. Only this lets the gateway forget data; a broker's PUBACK is flow control (a
 * broker crash loses what it queued in memory for an absent ingest).
 *
 * Example: {"format":"kedge-ack/1","gateway":"kem-01","epoch":"9f2c4a1be0d37a55","confirmed":48213}
 */
export const ACK_FORMAT = 'kedge-ack/1';

export interface CenterAck {
  gateway: string;
  /** '' for a gateway that sends no epoch (older versions). */
  epoch: string;
  confirmed: number;
}

const wire = z.object({
  format: z.literal(ACK_FORMAT),
  gateway: z.string().min(1),
  epoch: z.union([z.literal(''), z.string().regex(EPOCH_PATTERN)]),
  confirmed: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
});

export function encodeAck(ack: CenterAck): string {
  return JSON.stringify({ format: ACK_FORMAT, gateway: ack.gateway, epoch: ack.epoch, confirmed: ack.confirmed });
}

/** Parses an ack; an error names what is wrong (the gateway logs it and ignores the message). */
export function decodeAck(payload: Buffer | string): CenterAck {
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString());
  } catch (err) {
    throw new Error(`center ack is not JSON: ${(err as Error).message}`);
  }
  const parsed = wire.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`center ack ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return { gateway: parsed.data.gateway, epoch: parsed.data.epoch, confirmed: parsed.data.confirmed };
}
