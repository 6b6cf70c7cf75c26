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
 * A young generation of 2 MB instead of 16-32 MB: the daemon's garbage is small and short-lived,
 * and the big default semi-spaces are resident memory a box with 80 MB to spare cannot give.
 * Measured in scripts/src/build/README.md (RSS and CPU with 1 and 100 devices).
 */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=2'];
export const DIST_ENTRY = [...DAEMON_NODE_FLAGS, DIST_MAIN];

export function releaseEntry(releaseDir: string): string[] {
  return existsSync(join(releaseDir, DIST_MAIN)) ? DIST_ENTRY : TSX_ENTRY;
}
