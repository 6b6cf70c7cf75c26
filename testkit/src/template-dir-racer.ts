/**
 * One racer of template-dir.test.ts: gets the template `argv[2]` (filling it, if it must, with
 * FILES files written one by one, so a reader of half a fill would see it), then copies it
 * COPIES times, checking every copy is whole and, once every racer (KEDGE_RACERS) is done, that
 * its template is still the same folder. Prints `TEMPLATE <path>` and `COPIES OK`.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyTemplate, templateDir } from './template-dir.ts';

const FILES = 40;
const COPIES = 30;
const names = Array.from({ length: FILES }, (_, i) => `f${i}.txt`);

const racers = Number(process.env.KEDGE_RACERS ?? 1);
/** Generous bound on the barrier: every racer's start on a loaded 2-core box. */
const BARRIER_TIMEOUT_MS = 60_000;

/** How often a racer looks at the barrier without being woken: what a missed watch event, or no watch, costs. */
const BARRIER_RECHECK_MS = 250;

/**
 * Waits until every racer has reached the barrier `what`. Woken by the arrivals themselves (a
 * watch of the folder), not by polling every 2 ms: on a loaded box the last racer starts seconds
 * after the first, and the spinning cost a quarter of a racer's CPU; every racer still leaves the
 * moment the last arrives.
 */
async function barrier(what: string): Promise<void> {
  const dir = join(tmpdir(), `barrier-${what}`);
  mkdirSync(dir, { recursive: true });
  let woken = false;
  let wake = () => {
    woken = true;
  };
  // Watching before arriving: no arrival after this racer's own can go unseen.
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, () => wake());
    // A watch that breaks later leaves the rechecks, as one never had.
    watcher.on('error', () => watcher?.close());
  } catch {
    // no watch to be had (the box's inotify limits): rechecked every BARRIER_RECHECK_MS only
  }
  try {
    writeFileSync(join(dir, String(process.pid)), '');
    const deadline = Date.now() + BARRIER_TIMEOUT_MS;
    while (readdirSync(dir).length < racers) {
      if (Date.now() > deadline) throw new Error(`barrier ${what}: ${readdirSync(dir).length} of ${racers} racers after ${BARRIER_TIMEOUT_MS} ms`);
      // An arrival between the count and here has set `woken`: counted again at once.
      if (!woken)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, BARRIER_RECHECK_MS);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      woken = false;
      wake = () => {
        woken = true;
      };
    }
  } finally {
    watcher?.close();
  }
}

// Every racer looks for the template at once: all find none usable, all fill, all publish.
await barrier('started');
const template = await templateDir(process.argv[2]!, names, async (scratch) => {
  for (const n of names) writeFileSync(join(scratch, n), `${n} by ${process.pid}\n`.repeat(200));
});
console.log(`TEMPLATE ${template}`);
const inode = statSync(template).ino; // the folder this racer was given: it must stay that folder
for (let i = 0; i < COPIES; i++) {
  const dest = mkdtempSync(join(tmpdir(), 'kedge-racer-copy-'));
  try {
    copyTemplate(template, join(dest, 'c'));
    const got = readdirSync(join(dest, 'c')).sort();
    if (got.length !== FILES) throw new Error(`copy ${i} of ${template} holds ${got.length} of ${FILES} files`);
    for (const n of names) if (!readFileSync(join(dest, 'c', n), 'utf8').startsWith(`${n} by `)) throw new Error(`copy ${i}: ${n} is not whole`);
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
}
// Until every racer has its template (and so is past any replacing): still the same folder.
await barrier('copied');
if (statSync(template).ino !== inode) throw new Error(`${template} was replaced while this racer used it`);
console.log('COPIES OK');
