import { spawn, type ChildProcess } from 'node:child_process';
import { canConnect, sleep } from './wait.ts';
import { groupRunning, runningMembers, type GroupMember } from './process-group.ts';

export interface StartProcessOptions {
  cwd?: string;
  /** The complete environment (not merged with process.env); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Shown in errors and handy in logs; not passed to the process. */
  name: string;
  /** Ready once a TCP connect to 127.0.0.1:readyPort succeeds. */
  readyPort?: number;
  readyHost?: string;
  /** Ready once the captured output matches. With readyPort both must hold. */
  readyLine?: RegExp;
  /** Budget for reaching ready; default 15 s. */
  timeoutMs?: number;
  /**
   * Its own process group (a launcher, a shell, anything that starts children of its own):
   * what is left of the group GROUP_GRACE_MS after the child exits is SIGKILLed (see
   * leftGroupRunning), and all of it by the exit net, so a grandchild is not left behind when
   * only the child was killed. Off by default: a terminal's Ctrl-C then still reaches the child.
   */
  group?: boolean;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  pid: number;
  name: string;
  /** Captured stdout+stderr interleaved in arrival order, last 200 KB only. */
  output(): string;
  kill(signal?: NodeJS.Signals): void;
  /**
   * SIGTERM, then SIGKILL (of the whole group with `group`) after 10 s; resolves once the
   * process has exited and, with `group`, its group has ended too.
   */
  stop(): Promise<void>;
  exited: Promise<ProcessExit>;
  /**
   * `exited`, bounded: a process still running after `ms` is SIGKILLed and this throws, naming
   * `what` and carrying the process's output, instead of hanging the test until the runner's limit.
   */
  exitedWithin(ms: number, what: string): Promise<ProcessExit>;
  /**
   * With `group`: resolves once the group has ended after its leader exited, with whether
   * members were still running GROUP_GRACE_MS after that (they were SIGKILLed then). A
   * launcher that stops what it started before it exits leaves none; one whose last member
   * (a helper that quits when its parent's pipe closes) ends a moment after it is not counted.
   * False without `group`.
   */
  leftGroupRunning(): Promise<boolean>;
  /**
   * With `group`, once `exited` resolved: the members of the group that ran (zombies not
   * counted) the moment the leader's exit was seen. Unlike leftGroupRunning it catches a
   * launcher that exits before what it started, even when those end within the grace. Empty
   * without `group`.
   */
  membersAtLeaderExit(): Promise<GroupMember[]>;
}

const OUTPUT_CAP = 200 * 1024;
// Above the gateway's own 5 s drain on a clean stop.
const STOP_GRACE_MS = 10_000;
/**
 * How long the members of a group may outlive its leader before they count as left running and
 * are SIGKILLed. A member that ends on its own right after the leader (tsx's esbuild service
 * quits when its parent's pipe closes; an orphan's zombie waits for init to reap it) takes a
 * moment longer on a loaded box; one that is still there after 10 s was not going to end.
 */
export const GROUP_GRACE_MS = 10_000;
/**
 * Between looks at a group in its grace: the kernel sends no event when a process group
 * empties (the members are not our children), so it is polled; a few looks a second cost nothing.
 */
const GROUP_POLL_MS = 100;

// Children still running, and the process groups of those started with `group` that have not
// ended (leader running, or members in their grace after it). Killed synchronously on exit so
// a test that ends or throws before its clean-up (or a runner that kills us) does not leave
// servers holding ports, files or the file's run.
const live = new Set<ChildProcess>();
const groups = new Set<number>();
let hooksInstalled = false;

/**
 * SIGKILLs what is left of a group and forgets it: once the group is gone its id may be reused
 * by an unrelated process group, which a later kill by that id would hit.
 */
function endGroup(pgid: number): void {
  groups.delete(pgid);
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // the whole group is gone
  }
}

interface GroupEnd {
  /** The members running at the first look, when the leader's exit was seen. */
  atLeaderExit: GroupMember[];
  /** Whether members were still running when the grace ran out (and were SIGKILLed). */
  leftRunning: Promise<boolean>;
  /** Keeps the process alive for the grace: somebody waits for its outcome. */
  ref(): void;
}

/**
 * Called when a group's leader exited: members still running are orphans nobody stops. Waits
 * up to GROUP_GRACE_MS for the group to empty, then SIGKILLs what is left. Until somebody asks
 * for the outcome the timer does not hold the test process open (the exit net kills the rest).
 */
function awaitGroupEnd(pgid: number): GroupEnd {
  let timer: NodeJS.Timeout | undefined;
  let referenced = false;
  const deadline = performance.now() + GROUP_GRACE_MS;
  const atLeaderExit = runningMembers(pgid);
  // Looks in a row that found the group ended: one is not enough (process-group.ts).
  let emptyLooks = 0;
  const leftRunning = new Promise<boolean>((resolve) => {
    const look = () => {
      timer = undefined;
      // Ended by the exit net meanwhile (killChildrenSync).
      if (!groups.has(pgid)) return resolve(false);
      emptyLooks = groupRunning(pgid) ? 0 : emptyLooks + 1;
      if (emptyLooks >= 2) {
        groups.delete(pgid);
        return resolve(false);
      }
      if (performance.now() >= deadline) {
        endGroup(pgid);
        return resolve(true);
      }
      timer = setTimeout(look, Math.min(GROUP_POLL_MS, Math.max(0, deadline - performance.now())));
      if (!referenced) timer.unref();
    };
    look();
  });
  return {
    atLeaderExit,
    leftRunning,
    ref() {
      referenced = true;
      timer?.ref();
    },
  };
}

/**
 * SIGKILLs every child still running, and every member of their process groups. Exported for
 * clean-ups that must run after the children are gone (temp-dirs.ts).
 */
export function killChildrenSync(): void {
  for (const pgid of [...groups]) endGroup(pgid);
  for (const child of live) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  live.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killChildrenSync);
  // A signal ends Node without emitting 'exit', so children would survive a Ctrl-C or a
  // runner's SIGTERM. When nobody else claimed the signal: kill them, then re-raise so the
  // default behaviour still applies. When somebody did (npm start stops the gateway first,
  // gracefully), leave it to them: the 'exit' hook still kills whatever they leave behind.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      if (process.listenerCount(sig) > 0) return;
      killChildrenSync();
      process.kill(process.pid, sig);
    };
    process.once(sig, onSignal);
  }
}

type Refable = { ref?: () => void; unref?: () => void };

export async function startProcess(cmd: string, args: string[], opts: StartProcessOptions): Promise<ManagedProcess> {
  installHooks();
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.group === true,
  });
  // At once (the pid is known when the spawn did not fail): the leader's 'exit' below ends it.
  const pgid = opts.group ? child.pid : undefined;
  if (pgid !== undefined) groups.add(pgid);
  let groupEnd: GroupEnd | undefined;

  let out = '';
  const append = (chunk: string) => {
    out += chunk;
    if (out.length > OUTPUT_CAP) out = out.slice(out.length - OUTPUT_CAP);
  };
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);

  // Unreferenced so a forgotten server cannot keep the test process alive forever; the
  // 'exit' hook then kills it. Anything that waits for the exit re-references it.
  const refAll = (ref: boolean) => {
    for (const h of [child, child.stdout, child.stderr] as Refable[]) {
      if (h) (ref ? h.ref : h.unref)?.call(h);
    }
  };

  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  const exitedInternal = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      // However the leader ended (its own exit, stop(), exitedWithin's or a failed start's
      // SIGKILL): what it started goes with it, or soon after.
      if (pgid !== undefined) groupEnd = awaitGroupEnd(pgid);
      resolve({ code, signal });
    });
  });
  // 'close' fires after stdio drained; used only to get complete output for error messages.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  // Avoid an unhandled rejection if spawn fails and nobody awaits `spawned` afterwards.
  spawned.catch(() => {});

  try {
    await spawned;
  } catch (err) {
    throw new Error(`${opts.name}: failed to start ${cmd}: ${(err as Error).message}`, { cause: err });
  }
  // A later 'error' (e.g. a failed kill) must not crash the test process as unhandled.
  child.on('error', () => {});
  live.add(child);
  const pid = child.pid as number;
  refAll(false);

  const hasExited = () => child.exitCode !== null || child.signalCode !== null;
  /** Resolves after `exitedInternal`, once the group (if any) has ended too. */
  const groupEnded = async (): Promise<boolean> => {
    await exitedInternal;
    if (!groupEnd) return false;
    groupEnd.ref();
    return groupEnd.leftRunning;
  };

  /** With `group`: SIGKILLs its members too, whose grandchildren would otherwise hold ports through the grace. */
  const killGroup = () => {
    // Not once the group has ended: its id may belong to another group by then.
    if (!opts.group || !groups.has(pid)) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // the group is gone
    }
  };

  const kill = (signal: NodeJS.Signals = 'SIGTERM') => {
    if (hasExited()) return;
    refAll(true);
    try {
      process.kill(pid, signal);
    } catch {
      // raced with exit
    }
  };

  const stop = async () => {
    if (hasExited()) {
      await groupEnded();
      return;
    }
    kill('SIGTERM');
    // A group's members too: what the child started would outlive a SIGKILL of the child alone.
    const timer = setTimeout(() => {
      killGroup();
      kill('SIGKILL');
    }, STOP_GRACE_MS);
    try {
      await exitedInternal;
    } finally {
      clearTimeout(timer);
    }
    await groupEnded();
  };

  const managed: ManagedProcess = {
    pid,
    name: opts.name,
    output: () => out,
    kill,
    stop,
    get exited() {
      refAll(true);
      return exitedInternal;
    },
    async exitedWithin(ms, what) {
      refAll(true);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
      try {
        const e = await Promise.race([exitedInternal, late]);
        if (e !== 'late') return e;
      } finally {
        clearTimeout(timer);
      }
      killGroup();
      kill('SIGKILL');
      await exitedInternal;
      throw new Error(`${opts.name}: still running ${ms} ms into ${what}, killed (SIGKILL); output:\n${out.length > 8000 ? `...${out.slice(-8000)}` : out}`);
    },
    leftGroupRunning: () => {
      refAll(true);
      return groupEnded();
    },
    membersAtLeaderExit: async () => {
      refAll(true);
      await exitedInternal;
      return groupEnd?.atLeaderExit ?? [];
    },
  };

  if (opts.readyPort === undefined && opts.readyLine === undefined) return managed;

  const timeoutMs = opts.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  let exitInfo: ProcessExit | undefined;
  void exitedInternal.then((e) => (exitInfo = e));

  const fail = async (why: string): Promise<never> => {
    // A failed start's grandchildren go at once, not after the grace: they may hold its ports.
    killGroup();
    if (!hasExited()) {
      kill('SIGKILL');
      await exitedInternal;
    }
    await Promise.race([closed, sleep(500)]);
    const tail = out.length > 8000 ? `...${out.slice(-8000)}` : out;
    throw new Error(`${opts.name} (${cmd} ${args.join(' ')}): ${why}\n--- output ---\n${tail}`);
  };

  // A /g or /y regex carries lastIndex between test() calls and would skip matches.
  const readyLine = opts.readyLine && new RegExp(opts.readyLine.source, opts.readyLine.flags.replace(/[gy]/g, ''));
  let lineSeen = readyLine === undefined;
  let portOpen = opts.readyPort === undefined;
  while (!(lineSeen && portOpen)) {
    if (exitInfo || hasExited()) {
      const e = exitInfo ?? (await exitedInternal);
      return fail(`exited before ready (code ${e.code}, signal ${e.signal})`);
    }
    if (Date.now() >= deadline) return fail(`not ready after ${timeoutMs}ms`);
    if (!lineSeen && readyLine) lineSeen = readyLine.test(out);
    if (!portOpen && opts.readyPort !== undefined) portOpen = await canConnect(opts.readyPort, opts.readyHost ?? '127.0.0.1', 500);
    if (!(lineSeen && portOpen)) await sleep(50);
  }
  return managed;
}
