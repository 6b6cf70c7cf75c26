/**
 * The gateway's update pipeline for one offer: download, verify, extract, verify again,
 * then hand the staged tree to the slots. Everything up to installFromStaging() works in
 * <dataDir>/ota/incoming and <slotsDir>/.staging only, so any refusal or crash before that
 * leaves both slots and the `current` link exactly as they were.
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, rm, stat, statfs } from 'node:fs/promises';
import type { LookupFunction } from 'node:net';
import { basename, join } from 'node:path';
import { canonicalJson } from '@kedge/cloud-sync/canonical-json.ts';
import { timerDelay } from '@kedge/cloud-sync/clock.ts';
import { applyModes, extractPayload, MAX_MANIFEST_BYTES, maxBundleBytes, payloadBytes, readBundleManifest } from './bundle.ts';
import { download } from './download.ts';
import { getLimited } from './fetch-limited.ts';
import { checkOfferUrl, guardedLookup } from './url-guard.ts';
import { compareVersions, parseManifest, type Manifest } from './manifest.ts';
import { authenticateOffer, type Offer, type OfferAddress } from './offer.ts';
import { installFromStaging, reconcile, rolledBackVersions, stagingDir, type SlotState } from './slots.ts';
import { checkVersionPolicy, verifyFiles, verifyManifestSignature, VerifyError, type TrustedKey } from './verify.ts';

export { offerSchema, parseOffer, signOffer, type Offer } from './offer.ts';

/** Default cap of a bundle download (ota.maxBundleBytes): a release with node_modules is ~100 MiB. */
export const DEFAULT_MAX_BUNDLE_BYTES = 512 * 1024 * 1024;
/** Default space kept free for the reading log (ota.diskReserveBytes; startOta uses log.maxBytes). */
export const DEFAULT_RESERVE_BYTES = 256 * 1024 * 1024;
/** Default ota.minDownloadBytesPerSec: 16 kbit/s, a bad 2G/4G link; 100 MiB then gets about 14 h. */
export const DEFAULT_MIN_DOWNLOAD_BYTES_PER_SEC = 2048;
/** No download deadline is shorter: a small bundle on a link that needs a reconnect or two. */
export const DOWNLOAD_DEADLINE_FLOOR_MS = 10 * 60_000;

/** How long a download of `size` bytes may take at `minBytesPerSec` (never under the floor). */
export function downloadDeadlineMs(size: number, minBytesPerSec: number): number {
  return Math.max(DOWNLOAD_DEADLINE_FLOOR_MS, Math.ceil((size / minBytesPerSec) * 1000));
}

export type InstallPhase = 'checking' | 'downloading' | 'verifying' | 'extracting' | 'rebuilding' | 'switching' | 'installed';

export interface InstallOptions {
  offer: Offer;
  slotsDir: string;
  incomingDir: string;
  trustedKeys: readonly TrustedKey[];
  /** This gateway: a signed offer with another target is refused. */
  self?: OfferAddress;
  /** Offers larger than this are refused before anything is downloaded; default DEFAULT_MAX_BUNDLE_BYTES. */
  maxBundleBytes?: number;
  /** Free space that must remain on the disk after the download and after the extraction; default DEFAULT_RESERVE_BYTES. */
  reserveBytes?: number;
  downloadAttempts?: number;
  retryDelayMs?: number;
  headers?: Record<string, string>;
  ca?: string | Buffer;
  /** Deadline of the manifest fetch of an unsigned offer; default MANIFEST_FETCH_TIMEOUT_MS. */
  manifestTimeoutMs?: number;
  /** ota.minDownloadBytesPerSec: the bundle must arrive within downloadDeadlineMs(size, this); default DEFAULT_MIN_DOWNLOAD_BYTES_PER_SEC. */
  minDownloadBytesPerSec?: number;
  /** The download's deadline timer (tests inject one they fire); default AbortSignal.timeout. */
  downloadDeadline?: (ms: number) => AbortSignal;
  /** ota.allowLocalOfferUrls: an unsigned offer's URLs may point at loopback / link-local addresses. */
  allowLocalOfferUrls?: boolean;
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
  const running = state.versions[state.current] ?? null;
  // On the offer's version too, before the download: a replayed old signed offer must not cost
  // a whole bundle of 4G volume just to be refused by the same rule afterwards.
  if (running !== null && compareVersions(version, running) < 0) {
    throw new VerifyError(`version downgrade refused: bundle is ${version}, the gateway runs ${running} (roll back with the slots, not with an older bundle)`);
  }
  if (manifest) checkVersionPolicy(manifest, running);
}

/**
 * A manifest not complete by then is refused: the URL of an unsigned offer is anyone's choice,
 * and a server that answers slowly (or never) must not hold the one install in progress.
 */
export const MANIFEST_FETCH_TIMEOUT_MS = 60_000;

/** Fetches a manifest, reading at most MAX_MANIFEST_BYTES of it within the deadline. */
async function fetchManifest(url: string, o: InstallOptions, lookup: LookupFunction | undefined): Promise<Manifest> {
  const limitMs = o.manifestTimeoutMs ?? MANIFEST_FETCH_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(limitMs);
  try {
    return await fetchManifestWithin(url, o, o.signal ? AbortSignal.any([o.signal, deadline]) : deadline, lookup);
  } catch (err) {
    if (deadline.aborted && !o.signal?.aborted) throw new VerifyError(`manifest ${url} did not arrive within ${limitMs} ms: offer refused, nothing downloaded`);
    throw err;
  }
}

async function fetchManifestWithin(url: string, o: InstallOptions, signal: AbortSignal, lookup: LookupFunction | undefined): Promise<Manifest> {
  // Same-origin redirects only, at most MAX_MANIFEST_BYTES, local addresses refused by `lookup`.
  const body = await getLimited('manifest', url, { maxBytes: MAX_MANIFEST_BYTES, signal, headers: o.headers, ca: o.ca, lookup });
  const text = body.toString('utf8');
  try {
    JSON.parse(text);
  } catch {
    // Not echoing the parser's message: it quotes the text, and the URL may name any host the
    // box can reach, the status goes upstream.
    throw new VerifyError(`manifest ${url} is not JSON`);
  }
  return parseManifest(text);
}

async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

const MiB = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

/** Refuses to write `need` more bytes under `dir` unless `reserve` stays free for the reading log. */
async function checkSpace(dir: string, need: number, reserve: number, what: string): Promise<void> {
  const free = await freeBytes(dir);
  if (need + reserve > free) {
    throw new VerifyError(`not enough disk space for ${what}: it needs ${MiB(need)}, ${MiB(free)} are free and ${MiB(reserve)} stay reserved for the reading log`);
  }
}

/** At most one partial download: anything else in the incoming folder goes before a new one starts. */
async function clearIncoming(dir: string, keep: string): Promise<void> {
  for (const name of await readdir(dir)) if (name !== keep) await rm(join(dir, name), { recursive: true, force: true });
}

async function sizeOf(path: string): Promise<number> {
  return (await stat(path).catch(() => null))?.size ?? 0;
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
  // Before any byte is fetched: who vouches for the offer, and is it within bounds.
  const trust = authenticateOffer(offer, o.trustedKeys, o.self);
  const cap = o.maxBundleBytes ?? DEFAULT_MAX_BUNDLE_BYTES;
  if (offer.size > cap) throw new VerifyError(`OTA offer of ${offer.size} bytes refused: more than ota.maxBundleBytes (${cap})`);
  const reserve = o.reserveBytes ?? DEFAULT_RESERVE_BYTES;
  const state = reconcile(o.slotsDir);
  checkAgainstState(offer.version, state);
  // An unsigned offer's URLs are anyone's choice: never into this box or a metadata service.
  const guarded = trust.by !== 'signature' && !o.allowLocalOfferUrls;
  if (guarded) {
    if (offer.manifestUrl) await checkOfferUrl('manifest', offer.manifestUrl);
    await checkOfferUrl('bundle', offer.url);
  }
  let early: Manifest | null = null;
  if (offer.manifestUrl) {
    early = await fetchManifest(offer.manifestUrl, o, guarded ? guardedLookup('manifest', offer.manifestUrl) : undefined);
    verifyManifestSignature(early, o.trustedKeys);
    if (early.version !== offer.version) throw new VerifyError(`offer announced version ${offer.version} but the signed manifest at ${offer.manifestUrl} says ${early.version}`);
    checkAgainstState(early.version, state, early);
    const bound = maxBundleBytes(early);
    if (offer.size > bound) throw new VerifyError(`OTA offer of ${offer.size} bytes refused: a bundle of what the signed manifest lists is at most ${bound} bytes`);
  } else if (trust.by !== 'signature') {
    throw new VerifyError('unsigned OTA offer without manifestUrl refused');
  }

  o.onPhase?.('downloading');
  await mkdir(o.incomingDir, { recursive: true });
  const bundle = join(o.incomingDir, `${offer.sha256}.tar.gz`);
  await clearIncoming(o.incomingDir, `${basename(bundle)}.part`);
  await checkSpace(o.incomingDir, offer.size - Math.min(offer.size, await sizeOf(`${bundle}.part`)), reserve, `the ${offer.size}-byte download`);
  // One deadline for the whole download, from its size: a server that drips a byte just
  // inside the per-chunk stall guard must not hold the one install slot for ever.
  const rate = o.minDownloadBytesPerSec ?? DEFAULT_MIN_DOWNLOAD_BYTES_PER_SEC;
  const limitMs = downloadDeadlineMs(offer.size, rate);
  const deadline = (o.downloadDeadline ?? ((ms: number) => AbortSignal.timeout(timerDelay(ms))))(limitMs);
  try {
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
      signal: o.signal ? AbortSignal.any([o.signal, deadline]) : deadline,
      ...(guarded ? { lookup: guardedLookup('bundle', offer.url) } : {}),
    });
  } catch (err) {
    if (deadline.aborted && !o.signal?.aborted) {
      throw new VerifyError(
        `download of ${offer.size} bytes from ${offer.url} did not finish within ${limitMs} ms (ota.minDownloadBytesPerSec ${rate}): given up, the next offer can start`,
      );
    }
    throw err;
  }

  try {
    o.onPhase?.('verifying');
    const manifest = await readBundleManifest(bundle);
    verifyManifestSignature(manifest, o.trustedKeys);
    if (manifest.version !== offer.version) {
      throw new VerifyError(`offer announced version ${offer.version} but the signed manifest says ${manifest.version}`);
    }
    if (early && canonicalJson(early) !== canonicalJson(manifest)) {
      throw new VerifyError(`the bundle's manifest differs from the one at ${offer.manifestUrl} that was checked before the download`);
    }
    checkAgainstState(manifest.version, reconcile(o.slotsDir), manifest);

    o.onPhase?.('extracting');
    const staging = stagingDir(o.slotsDir);
    await checkSpace(o.slotsDir, payloadBytes(manifest), reserve, `the ${payloadBytes(manifest)}-byte release`);
    await extractPayload(bundle, staging, manifest);
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
