/**
 * Two release slots and a `current` symlink:
 *
 *   <slotsDir>/a, <slotsDir>/b      release trees
 *   <slotsDir>/current -> a | b     what the launcher starts
 *   <slotsDir>/state.json           which slot is known good, which one is on trial
 *
 * Every change is one atomic rename (state.json via temp+fsync+rename, the symlink via a temp
 * link + rename), and the order of the two renames is chosen so a power cut between them
 * leaves a state the launcher's reconcile() can finish: state.json records a trial BEFORE
 * the link moves to it, and a rollback is recorded BEFORE the link moves back. Only builtins
 * here (write-file-atomic.ts uses nothing else): the launcher that must survive a broken
 * release imports this file.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncDir, writeFileAtomic } from '../write-file-atomic.ts';

/** Written into every installed slot so the launcher knows the version and how to start it. */
export const RELEASE_INFO_NAME = 'kedge-release.json';

export interface ReleaseInfo {
  version: string;
  /** Arguments to `node`, relative to the slot directory. */
  entry: string[];
}

export type SlotName = 'a' | 'b';
export const SLOTS: readonly SlotName[] = ['a', 'b'];

export interface PendingSlot {
  slot: SlotName;
  version: string;
  /** Boots started so far; counted BEFORE each start so a crash or power cut counts too. */
  attempts: number;
  /** Epoch ms by which the current boot attempt must report healthy. */
  deadline: number | null;
  installedAt: number;
  /** Why the release reported itself unhealthy, if it did. */
  failure?: string;
}

export interface HistoryEntry {
  ts: number;
  event: 'seeded' | 'installed' | 'good' | 'rollback' | 'interrupted';
  slot: SlotName;
  version: string;
  reason?: string;
}

export interface SlotState {
  /** The known-good slot. During a trial `current` still names the old slot. */
  current: SlotName;
  previous: SlotName | null;
  versions: Partial<Record<SlotName, string>>;
  pending: PendingSlot | null;
  history: HistoryEntry[];
}

const HISTORY_MAX = 50;

export const other = (s: SlotName): SlotName => (s === 'a' ? 'b' : 'a');
export const statePath = (dir: string) => join(dir, 'state.json');
export const currentLink = (dir: string) => join(dir, 'current');
export const stagingDir = (dir: string) => join(dir, '.staging');

export function readState(dir: string): SlotState | null {
  let text: string;
  try {
    text = readFileSync(statePath(dir), 'utf8');
  } catch {
    return null;
  }
  try {
    const s = JSON.parse(text) as SlotState;
    return SLOTS.includes(s.current) ? { ...s, history: s.history ?? [], versions: s.versions ?? {} } : null;
  } catch {
    return null;
  }
}

export function writeState(dir: string, state: SlotState): void {
  const trimmed = { ...state, history: state.history.slice(-HISTORY_MAX) };
  writeFileAtomic(statePath(dir), `${JSON.stringify(trimmed, null, 2)}\n`, 0o644);
}

export function readCurrentLink(dir: string): SlotName | null {
  try {
    const target = readlinkSync(currentLink(dir));
    return SLOTS.includes(target as SlotName) ? (target as SlotName) : null;
  } catch {
    return null;
  }
}

/** Points `current` at a slot with one rename, so there is never a moment without a link. */
export function switchCurrent(dir: string, slot: SlotName): void {
  const tmp = join(dir, `.current.tmp-${process.pid}`);
  rmSync(tmp, { force: true });
  symlinkSync(slot, tmp);
  renameSync(tmp, currentLink(dir));
  fsyncDir(dir);
}

export function readReleaseInfo(slotPath: string): ReleaseInfo | null {
  try {
    const info = JSON.parse(readFileSync(join(slotPath, RELEASE_INFO_NAME), 'utf8')) as ReleaseInfo;
    return typeof info.version === 'string' && Array.isArray(info.entry) ? info : null;
  } catch {
    return null;
  }
}

export const slotUsable = (dir: string, slot: SlotName): boolean => readReleaseInfo(join(dir, slot)) !== null;

function event(e: Omit<HistoryEntry, 'ts'>): HistoryEntry {
  return { ts: Date.now(), ...e };
}

/**
 * Brings state.json and the link into agreement after whatever interrupted the last writer.
 * With a trial recorded, the link decides whether the switch happened; without one,
 * state.json decides where the link must point.
 */
export function reconcile(dir: string): SlotState {
  let state = readState(dir);
  const link = readCurrentLink(dir);
  if (!state) {
    const usable = SLOTS.filter((s) => slotUsable(dir, s));
    const current = link && usable.includes(link) ? link : usable[0];
    if (!current) throw new Error(`no installed release in ${dir}: seed it first (kedge-boot --seed <dir>)`);
    state = { current, previous: null, versions: {}, pending: null, history: [] };
    for (const s of usable) state.versions[s] = readReleaseInfo(join(dir, s))!.version;
    writeState(dir, state);
  }
  if (state.pending && link !== state.pending.slot) {
    state.history.push(event({ event: 'interrupted', slot: state.pending.slot, version: state.pending.version, reason: 'power loss or crash before the switch to the new slot' }));
    state.pending = null;
    writeState(dir, state);
  }
  if (!state.pending && link !== state.current) switchCurrent(dir, state.current);
  return state;
}

/** First start: copies a release tree into slot a and points `current` at it. */
export function seed(dir: string, from: string, info: ReleaseInfo): SlotState {
  mkdirSync(dir, { recursive: true });
  const existing = readState(dir);
  if (existing || readCurrentLink(dir)) return reconcile(dir);
  const tmp = stagingDir(dir);
  rmSync(tmp, { recursive: true, force: true });
  cpSync(from, tmp, { recursive: true, verbatimSymlinks: true, filter: (src) => !src.startsWith(dir) });
  writeFileAtomic(join(tmp, RELEASE_INFO_NAME), `${JSON.stringify(info)}\n`, 0o644);
  rmSync(join(dir, 'a'), { recursive: true, force: true });
  renameSync(tmp, join(dir, 'a'));
  fsyncDir(dir);
  const state: SlotState = {
    current: 'a',
    previous: null,
    versions: { a: info.version },
    pending: null,
    history: [event({ event: 'seeded', slot: 'a', version: info.version })],
  };
  writeState(dir, state);
  switchCurrent(dir, 'a');
  return state;
}

/**
 * Moves a verified staging tree into the slot that is not current, records the trial, then
 * switches the link. The known-good slot is never written.
 */
export function installFromStaging(dir: string, staging: string, info: ReleaseInfo, onStep?: (step: string) => void): SlotState {
  const state = reconcile(dir);
  if (state.pending) throw new Error(`an update to ${state.pending.version} is already on trial in slot ${state.pending.slot}`);
  const target = other(state.current);
  writeFileAtomic(join(staging, RELEASE_INFO_NAME), `${JSON.stringify(info)}\n`, 0o644);
  rmSync(join(dir, target), { recursive: true, force: true });
  renameSync(staging, join(dir, target));
  fsyncDir(dir);
  onStep?.('slot-written');
  state.versions[target] = info.version;
  state.pending = { slot: target, version: info.version, attempts: 0, deadline: null, installedAt: Date.now() };
  state.history.push(event({ event: 'installed', slot: target, version: info.version }));
  writeState(dir, state);
  onStep?.('trial-recorded');
  switchCurrent(dir, target);
  onStep?.('switched');
  return state;
}

/** The launcher's bookkeeping of a trial boot (attempt counter, deadline, reported failure). */
export function updatePending(dir: string, change: (p: PendingSlot) => void): SlotState {
  const state = reconcile(dir);
  if (state.pending) {
    change(state.pending);
    writeState(dir, state);
  }
  return state;
}

export function markGood(dir: string): SlotState {
  const state = reconcile(dir);
  const p = state.pending;
  if (!p) return state;
  state.previous = state.current;
  state.current = p.slot;
  state.pending = null;
  state.history.push(event({ event: 'good', slot: p.slot, version: p.version }));
  writeState(dir, state);
  return state;
}

export function rollback(dir: string, reason: string): SlotState {
  const state = readState(dir) ?? reconcile(dir);
  const p = state.pending;
  if (!p) return reconcile(dir);
  state.pending = null;
  state.history.push(event({ event: 'rollback', slot: p.slot, version: p.version, reason }));
  writeState(dir, state);
  switchCurrent(dir, state.current);
  return state;
}

/** Versions that were rolled back here: a retained offer of one must not loop forever. */
export function rolledBackVersions(state: SlotState): Map<string, string> {
  const out = new Map<string, string>();
  for (const h of state.history) if (h.event === 'rollback') out.set(h.version, h.reason ?? 'rolled back');
  return out;
}

export function currentVersion(dir: string): string | null {
  const s = readState(dir);
  return s ? (s.versions[s.current] ?? null) : null;
}

export function slotsExist(dir: string): boolean {
  return existsSync(statePath(dir)) || readCurrentLink(dir) !== null;
}
