/**
 * The gateway's update pipeline for one offer: download, verify, extract, verify again,
 * then hand the staged tree to the slots. Everything up to installFromStaging() works in
 * <dataDir>/ota/incoming and <slotsDir>/.staging only, so any refusal or crash before that
 * leaves both slots and the `current` link exactly as they were.
 */
import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { applyModes, extractPayload, readBundleManifest } from './bundle.ts';
import { download } from './download.ts';
import { parseManifest, semverSchema, type Manifest } from './manifest.ts';
import { installFromStaging, reconcile, rolledBackVersions, stagingDir, type SlotState } from './slots.ts';
import { checkVersionPolicy, verifyFiles, verifyManifestSignature, VerifyError, type TrustedKey } from './verify.ts';

export const offerSchema = z.strictObject({
  version: semverSchema,
  url: z.string().url(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, { error: 'must be 64 lowercase hex digits' }),
  size: z.number().int().positive(),
  /** Lets the gateway refuse a wrong key or a downgrade before spending 4G bytes on the bundle. */
  manifestUrl: z.string().url().optional(),
});
export type Offer = z.output<typeof offerSchema>;

export function parseOffer(raw: unknown): Offer {
  const r = offerSchema.safeParse(raw);
  if (!r.success) {
    throw new VerifyError(`invalid OTA offer: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  return r.data;
}

export type InstallPhase = 'checking' | 'downloading' | 'verifying' | 'extracting' | 'rebuilding' | 'switching' | 'installed';

export interface InstallOptions {
  offer: Offer;
  slotsDir: string;
  incomingDir: string;
  trustedKeys: readonly TrustedKey[];
  downloadAttempts?: number;
  retryDelayMs?: number;
  headers?: Record<string, string>;
  ca?: string | Buffer;
  onPhase?: (phase: InstallPhase) => void;
  onProgress?: (received: number, total: number) => void;
  /** Between the steps of the slot switch; tests kill the process here to prove power-loss safety. */
  onStep?: (step: string) => void;
  signal?: AbortSignal;
}

/** Policy checks that need only the offer or manifest and the slot state. */
function checkAgainstState(version: string, state: SlotState, manifest?: Manifest): void {
  const rolledBack = rolledBackVersions(state).get(version);
  if (rolledBack !== undefined) throw new VerifyError(`version ${version} was rolled back on this gateway before (${rolledBack}); publish a newer version`);
  if (state.pending) throw new VerifyError(`version ${state.pending.version} is still on trial; try again once it is marked good or rolled back`);
  if (manifest) checkVersionPolicy(manifest, state.versions[state.current] ?? null);
}

async function fetchManifest(url: string, o: InstallOptions): Promise<Manifest> {
  const res = await fetch(url, { headers: o.headers, signal: o.signal ?? null });
  if (!res.ok) throw new VerifyError(`manifest ${url}: HTTP ${res.status}`);
  return parseManifest(await res.text());
}

function run(cmd: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0]!, cmd.slice(1), { cwd, stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd.join(' ')} exited with ${code}`))));
  });
}

export async function installOffer(o: InstallOptions): Promise<SlotState> {
  const { offer } = o;
  o.onPhase?.('checking');
  const state = reconcile(o.slotsDir);
  checkAgainstState(offer.version, state);
  if (offer.manifestUrl) {
    const early = await fetchManifest(offer.manifestUrl, o);
    verifyManifestSignature(early, o.trustedKeys);
    checkAgainstState(early.version, state, early);
  }

  o.onPhase?.('downloading');
  await mkdir(o.incomingDir, { recursive: true });
  const bundle = join(o.incomingDir, `${offer.sha256}.tar.gz`);
  await download({
    url: offer.url,
    dest: bundle,
    size: offer.size,
    sha256: offer.sha256,
    attempts: o.downloadAttempts,
    retryDelayMs: o.retryDelayMs,
    headers: o.headers,
    ca: o.ca,
    onProgress: o.onProgress,
    signal: o.signal,
  });

  try {
    o.onPhase?.('verifying');
    const manifest = await readBundleManifest(bundle);
    verifyManifestSignature(manifest, o.trustedKeys);
    if (manifest.version !== offer.version) {
      throw new VerifyError(`offer announced version ${offer.version} but the signed manifest says ${manifest.version}`);
    }
    checkAgainstState(manifest.version, reconcile(o.slotsDir), manifest);

    o.onPhase?.('extracting');
    const staging = stagingDir(o.slotsDir);
    await extractPayload(bundle, staging, manifest.links.map((l) => l.path));
    await verifyFiles(staging, manifest);
    await applyModes(staging, manifest);
    if (manifest.rebuild) {
      o.onPhase?.('rebuilding');
      await run(manifest.rebuild.command, staging);
    }

    o.onPhase?.('switching');
    o.onStep?.('staged');
    const next = installFromStaging(o.slotsDir, staging, { version: manifest.version, entry: manifest.entry }, o.onStep);
    o.onPhase?.('installed');
    return next;
  } finally {
    // A verified bundle is not needed once it sits in a slot; a refused one must not be retried.
    await rm(bundle, { force: true });
    await rm(stagingDir(o.slotsDir), { recursive: true, force: true });
  }
}
