import { join, resolve } from 'node:path';
import type { GatewayConfig } from '../config/schema.ts';
import type { TrustedKey } from './verify.ts';

export interface OtaSettings {
  slotsDir: string;
  /** Downloads and their .part files: <dataDir>/ota/incoming. */
  incomingDir: string;
  trustedKeys: TrustedKey[];
  healthDeadlineMs: number;
  maxCrashes: number;
  maxBundleBytes: number;
  /** Kept free by every update: ota.diskReserveBytes, or the reading log's size cap. */
  reserveBytes: number;
  minDownloadBytesPerSec: number;
  allowLocalOfferUrls: boolean;
}

/** The `ota` section with paths resolved; null when OTA is not configured. */
export function otaSettings(config: GatewayConfig): OtaSettings | null {
  const o = config.ota;
  if (!o) return null;
  const dataDir = resolve(config.dataDir);
  // Relative to dataDir: the daemon runs with its slot as working directory.
  const slotsDir = o.slotsDir ? resolve(dataDir, o.slotsDir) : join(dataDir, 'slots');
  return {
    slotsDir,
    incomingDir: join(dataDir, 'ota', 'incoming'),
    trustedKeys: o.trustedKeys.map((k) => ({ id: k.id, publicKey: k.publicKey })),
    healthDeadlineMs: o.healthDeadlineMs,
    maxCrashes: o.maxCrashes,
    maxBundleBytes: o.maxBundleBytes,
    reserveBytes: o.diskReserveBytes ?? config.log.maxBytes,
    minDownloadBytesPerSec: o.minDownloadBytesPerSec,
    allowLocalOfferUrls: o.allowLocalOfferUrls,
  };
}
