/**
 * OTA offers (gateway/src/ota/README.md, SECURITY.md). An offer makes the box download
 * something, so it must be authentic before a byte is fetched:
 *
 * - a **signed offer** carries `keyId` + `signature`: Ed25519 by a trusted OTA key over the
 *   canonical JSON of the offer without `signature`, plus the format tag (so neither a command
 *   nor a manifest signature can pass as an offer). With `target` it is for that gateway only.
 * - an **unsigned offer** must carry `manifestUrl`: the gateway fetches the manifest (size
 *   capped), verifies its signature and version, bounds the bundle size by what the manifest
 *   lists, and only then downloads; the bundle's own manifest must then be the same one.
 *
 * Anything else is refused without a download.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from '@kedge/cloud-sync/canonical-json.ts';
import { semverSchema } from './manifest.ts';
import { parsePublicKey, VerifyError, type TrustedKey } from './verify.ts';

export const OFFER_FORMAT = 'kedge-ota-offer/1';

const addressSchema = z.strictObject({ region: z.string().min(1), municipality: z.string().min(1), gateway: z.string().min(1) });
export type OfferAddress = z.output<typeof addressSchema>;

export const offerSchema = z.strictObject({
  format: z.literal(OFFER_FORMAT).optional(),
  version: semverSchema,
  url: z.string().url(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, { error: 'must be 64 lowercase hex digits' }),
  size: z.number().int().positive(),
  /** Lets the gateway check key and version before spending 4G bytes; required when the offer is unsigned. */
  manifestUrl: z.string().url().optional(),
  /** The one gateway a signed offer is for; absent: any gateway that trusts the key. */
  target: addressSchema.optional(),
  keyId: z.string().min(1).optional(),
  signature: z.string().min(1).optional(),
});
export type Offer = z.output<typeof offerSchema>;
export type UnsignedOffer = Omit<Offer, 'signature' | 'keyId' | 'format'>;

export function parseOffer(raw: unknown): Offer {
  const r = offerSchema.safeParse(raw);
  if (!r.success) {
    throw new VerifyError(`invalid OTA offer: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  return r.data;
}

function offerBytes(offer: Offer): Buffer {
  const { signature: _drop, ...rest } = offer;
  return Buffer.from(canonicalJson({ ...rest, format: OFFER_FORMAT }), 'utf8');
}

export function signOffer(unsigned: UnsignedOffer, keyId: string, privateKey: KeyObject): Offer {
  const withKey: Offer = { ...unsigned, format: OFFER_FORMAT, keyId };
  return { ...withKey, signature: sign(null, offerBytes(withKey), privateKey).toString('base64') };
}

/** How an offer was authenticated: by its own signature, or (still to do) by the manifest at manifestUrl. */
export type OfferTrust = { by: 'signature'; keyId: string } | { by: 'manifest'; manifestUrl: string };

const fmt = (a: OfferAddress) => `${a.region}/${a.municipality}/${a.gateway}`;

/**
 * Throws VerifyError unless the offer is signed by a trusted key (and meant for `self` when it
 * names a target) or is unsigned with a manifestUrl, which the install then verifies first.
 */
export function authenticateOffer(offer: Offer, trusted: readonly TrustedKey[], self?: OfferAddress): OfferTrust {
  if (trusted.length === 0) throw new VerifyError('no trusted OTA keys configured (ota.trustedKeys): refusing every offer');
  if (offer.signature === undefined && offer.keyId === undefined) {
    if (offer.manifestUrl) return { by: 'manifest', manifestUrl: offer.manifestUrl };
    throw new VerifyError('unsigned OTA offer without manifestUrl refused: sign the offer (kedge-ota rollout --key) or give the manifest URL, nothing is downloaded otherwise');
  }
  if (offer.signature === undefined || offer.keyId === undefined) throw new VerifyError('OTA offer has keyId or signature but not both');
  const entry = trusted.find((k) => k.id === offer.keyId);
  if (!entry) throw new VerifyError(`OTA offer is signed with key "${offer.keyId}", which is not trusted (trusted: ${trusted.map((k) => k.id).join(', ')})`);
  let ok = false;
  try {
    ok = verify(null, offerBytes(offer), parsePublicKey(entry.publicKey), Buffer.from(offer.signature, 'base64'));
  } catch {
    ok = false;
  }
  if (!ok) throw new VerifyError(`OTA offer signature does not verify with trusted key "${entry.id}": the offer was altered or signed by another key`);
  if (offer.target && self && fmt(offer.target) !== fmt(self)) {
    throw new VerifyError(`OTA offer is signed for gateway ${fmt(offer.target)}, this is ${fmt(self)}: refused`);
  }
  return { by: 'signature', keyId: entry.id };
}
