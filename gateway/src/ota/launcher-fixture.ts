/** Shared set-up of the launcher and power-loss tests: a signed release served over HTTP, a launcher on trial. */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveFile } from '@kedge/testkit/file-server.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { startLauncher, type Launcher } from './launcher.ts';
import { readState, type SlotState } from './slots.ts';
import { fakeBundle, newKey, seededSlots, signedOffer, trusted, type Behaviour } from './testing.ts';
import type test from 'node:test';

export const KEY = newKey();
export const BOOT = fileURLToPath(new URL('./boot.ts', import.meta.url));
export const INSTALL_AND_DIE = fileURLToPath(new URL('./fixtures/install-and-die.ts', import.meta.url));
export const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
export const markerLines = (m: string) => (existsSync(m) ? readFileSync(m, 'utf8').trim().split('\n') : []);

export async function installed(t: test.TestContext, work: string, behaviour: Behaviour, version = '1.1.0') {
  const slots = seededSlots(work, '1.0.0');
  const { path } = await fakeBundle(work, KEY, version, behaviour);
  const server = await serveFile(path, 'b.tar.gz');
  t.after(() => server.close());
  const offer = signedOffer(KEY, path, server.url, version);
  return { slots, offer, opts: { offer, slotsDir: slots, incomingDir: join(work, 'incoming'), trustedKeys: trusted(KEY) } };
}

export function launch(t: test.TestContext, slots: string, marker: string, o: { deadline?: number; maxCrashes?: number } = {}): Launcher {
  const l = startLauncher({
    slotsDir: slots,
    healthDeadlineMs: o.deadline ?? 3000,
    maxCrashes: o.maxCrashes ?? 3,
    daemonArgs: [],
    restartDelayMs: 20,
    log: () => {},
    env: { ...process.env, KEDGE_TEST_MARKER: marker },
  });
  t.after(async () => {
    l.stop();
    await l.done;
  });
  return l;
}

export const settled = (slots: string) => waitFor(() => { const s = readState(slots); return s && !s.pending ? s : null; }, { what: 'no release on trial', timeoutMs: 20_000 });
export const last = (s: SlotState) => s.history[s.history.length - 1]!;
