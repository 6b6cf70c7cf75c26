/**
 * Which test files `npm test` runs together in one process.
 *
 * On a 2-core box the suite is CPU-bound, and about half of a short file's CPU is node's
 * start-up and the imports every file of a folder shares (zod, fastify, the gateway's modules).
 * Short files of neighbouring folders therefore run several to a process, each file in a suite
 * of its own (test-group-entry.ts): its `before`/`after` hooks stay its own, its tests run after
 * the previous file's have ended, and a failure names the file.
 *
 * A file runs alone when it is long (it gains nothing and would hold up its group), or when it
 * changes what the process shares with other files: fake timers or a patched clock, environment
 * variables, process listeners, process.exit, garbage collection or heap figures, the process's
 * argv. A file this check misses that leaks state shows up as a failure in a later file of its
 * group: add its pattern here.
 */

/** A file whose last run took longer than this runs alone. */
export const SOLO_MS = 6_000;
/**
 * Of the files' last wall times, summed, per group: small enough that the groups still spread
 * evenly over the processes that run at a time, large enough to share start-up and imports.
 */
export const GROUP_BUDGET_MS = 16_000;

/** What in a test file's source makes it run alone. */
const SHARED_STATE = [
  /\bmock\.timers\b/, // fake timers
  /\bmock\.method\(/, // patched functions, shared modules' included
  /\bDate\.now\s*=[^=]/,
  /\bprocess\.env(\.\w+|\[[^\]]+\])\s*=[^=]/,
  /\bdelete\s+process\.env\b/,
  /\bprocess\.(on|once|prependListener|addListener|removeAllListeners|setMaxListeners)\(/,
  /\bprocess\.(exit|exitCode|chdir|umask|argv|title)\b/,
  /\bsetMaxListeners\(/,
  /expose-gc|\bglobal\.gc\b|\bgc\(\)|memoryUsage|heapUsed|setFlagsFromString/,
  /\bglobalThis\b/,
  /\bError\.(prepareStackTrace|stackTraceLimit)\b/,
  /\.prototype\.\w+\s*=[^=]/, // patched classes
  /node-red-node-test-helper|\bshould\b/, // `should` adds a getter to Object.prototype
  // A test registered after awaiting a promise made outside the file's suite (a shared module's)
  // would land in the suite that made it: a top-level await keeps the file alone.
  /^(?:await\b|(?:export\s+)?(?:const|let|var)\b[^\n]*=\s*\(?\s*await\b)/m,
];

/** Whether a file with this source may share its process with other files. */
export function sharesProcess(source: string): boolean {
  return !SHARED_STATE.some((pattern) => pattern.test(source));
}

/**
 * The budget for a run of `totalMs` estimated over `slots` processes at a time: at most
 * GROUP_BUDGET_MS, and small enough that each slot gets several processes, else a narrowed run
 * (`npm test -- ota`) would queue its files in two or three long processes.
 */
export function groupBudgetMs(totalMs: number, slots: number): number {
  return Math.min(GROUP_BUDGET_MS, totalMs / (slots * 3));
}

export interface GroupInput {
  /** Its path: files of a folder are neighbours in path order. */
  file: string;
  /** Expected wall time (last run, or a guess). */
  estimateMs: number;
  /** false: the file runs alone. */
  shareable: boolean;
}

/**
 * Groups of files, each run by one process; a group of one is the file itself. Shareable short
 * files are taken in path order and cut into groups of at most `budgetMs` of estimated time,
 * so a group holds one folder or a few neighbouring ones.
 */
export function planGroups(files: readonly GroupInput[], o: { soloMs?: number; budgetMs?: number } = {}): string[][] {
  const soloMs = o.soloMs ?? SOLO_MS;
  const budgetMs = o.budgetMs ?? GROUP_BUDGET_MS;
  if (files.length === 0) return [];
  const groups: string[][] = [];
  const shared = files
    .filter((f) => {
      const alone = !f.shareable || f.estimateMs > soloMs;
      if (alone) groups.push([f.file]);
      return !alone;
    })
    .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  let current: string[] = [];
  let sum = 0;
  for (const f of shared) {
    if (current.length > 0 && sum + f.estimateMs > budgetMs) {
      groups.push(current);
      current = [];
      sum = 0;
    }
    current.push(f.file);
    sum += f.estimateMs;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/**
 * The module a process of several files runs: test-group-entry.ts on the files. Its name must
 * not end in .test.ts, so that test-timing.ts leaves the per-file records to the group.
 */
export function groupModuleSource(root: string, files: readonly string[]): string {
  const entry = new URL('./test-group-entry.ts', import.meta.url).href;
  return `import { runGroup } from ${JSON.stringify(entry)};\nrunGroup(${JSON.stringify(root)}, ${JSON.stringify(files)});\n`;
}
