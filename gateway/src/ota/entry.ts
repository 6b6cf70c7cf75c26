import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * How a release starts its daemon (the manifest's and kedge-release.json's `entry`: node
 * arguments, relative to the release directory). A release with the production bundle
 * (`npm run build`, scripts/src/build.ts) runs compiled JavaScript; one without runs the
 * TypeScript through tsx, which costs ~70 MB more RSS.
 */
export const DIST_MAIN = 'dist/gateway.mjs';
export const TSX_ENTRY = ['--import', 'tsx', 'gateway/src/main.ts'];
/**
 * A young generation of 4 MB semi-spaces instead of 16-32 MB: the daemon's garbage is small and
 * short-lived, and the big default semi-spaces are resident memory a small box cannot give. 4, not
 * 2: at 40,000 readings/s a 2 MB semi-space scavenges every ~70-100 ms and pushes batches still
 * waiting for the center's ack into old space; 4 MB cut CPU per reading from ~11.1 to ~7.4 us in
 * the same bench run at no measurable RSS cost (scripts/src/build/README.md, "Young generation").
 * `--heap-growing-percent=25`: after each full collection V8 lets the old generation grow to
 * 1.25 x what survived before collecting again, instead of up to 4 x on a machine with much RAM
 * (readings held until the center confirms them outlive the young generation, so their garbage
 * piles up in old space: 250-340 MB at 10,000 points before the first full collection). Not a
 * cap: a bigger config grows the heap as it needs, there is no out-of-memory crash loop.
 * Measured in scripts/src/build/README.md (RSS and CPU with 1 and 100 devices).
 */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=4', '--heap-growing-percent=25'];
export const DIST_ENTRY = [...DAEMON_NODE_FLAGS, DIST_MAIN];
/**
 * The environment the production units give the launcher and so the daemon
 * (deploy/kedge-gateway.service `Environment=`, Dockerfile.arm64 `ENV`; the bench starts the
 * daemon with it too). glibc opens up to 8 malloc arenas per core for the threads that allocate
 * (libuv's pool, V8's GC and compiler threads) and each keeps what was freed in it; the daemon's
 * work is on one thread, two arenas are plenty: 5-7 MB less native RSS at 100 devices.
 */
export const DAEMON_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

export function releaseEntry(releaseDir: string): string[] {
  return existsSync(join(releaseDir, DIST_MAIN)) ? DIST_ENTRY : TSX_ENTRY;
}
