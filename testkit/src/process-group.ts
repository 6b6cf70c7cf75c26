/**
 * Who of a process group still runs. proc.ts asks this of a group whose leader exited, to tell
 * a group that ended from one whose members outlived the leader, and to name those members.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** A member of a group that runs (not a zombie), with the name the kernel gives it. */
export interface GroupMember {
  pid: number;
  /** /proc/<pid>/stat's comm: the executable's name, at most 15 characters. */
  comm: string;
}

interface Stat {
  comm: string;
  state: string;
  pgrp: number;
}

/** Name, state and process group of a /proc/<pid>/stat line; the name may hold spaces and parentheses. */
function statOf(pid: string): Stat | undefined {
  let line: string;
  try {
    line = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone since the listing
  }
  const close = line.lastIndexOf(')');
  const [state, , pgrp] = line.slice(close + 2).split(' ');
  if (state === undefined || pgrp === undefined) return undefined;
  return { comm: line.slice(line.indexOf('(') + 1, close), state, pgrp: Number(pgrp) };
}

/** Exited but not reaped (Z), or being torn down (X): runs nothing. */
const ended = (state: string) => state === 'Z' || state === 'X';

/**
 * One scan of /proc for the group: its running members and whether any process of it (a zombie
 * too) was seen at all. Undefined without /proc.
 */
function scan(pgid: number): { running: GroupMember[]; seen: boolean } | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  const running: GroupMember[] = [];
  let seen = false;
  for (const pid of pids) {
    const stat = statOf(pid);
    if (stat === undefined || stat.pgrp !== pgid) continue;
    seen = true;
    if (!ended(stat.state)) running.push({ pid: Number(pid), comm: stat.comm });
  }
  return { running, seen };
}

/** Whether kill() finds the group: only ESRCH says it is gone (EPERM: a member we may not signal). */
function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * One look at whether a group still has a member that runs. A member that exited but was not
 * reaped yet (a zombie: an orphan waits for init, and a container's init may never reap) still
 * makes the group exist for kill(); it runs nothing, so on Linux the members are looked up in
 * /proc and zombies do not count. The listing of /proc is not a snapshot (a member that forks
 * and exits while it is read may be missed both times): a group kill() finds but the scan sees
 * nothing of counts as running, and a caller calls a group ended only after two looks apart
 * said so. Without /proc any member counts.
 */
export function groupRunning(pgid: number): boolean {
  if (!groupExists(pgid)) return false;
  const found = scan(pgid);
  if (found === undefined) return true;
  return found.running.length > 0 || !found.seen;
}

/** The group's members that run, by /proc; empty once kill() no longer finds the group or without /proc. */
export function runningMembers(pgid: number): GroupMember[] {
  if (!groupExists(pgid)) return [];
  return scan(pgid)?.running ?? [];
}
