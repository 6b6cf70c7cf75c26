/**
 * Expands `profile: <name>` on the devices of drivers that take profiles (Modbus) into points
 * (and line defaults) before the config is validated, so profile points get exactly the checks
 * and defaults of hand-written ones. Config points override the profile point with the same id
 * (as the driver's `profilePoints.override` lays them over), or add new points; they keep their
 * position first in the list so problems point at their own lines. What a profile point becomes
 * is the driver's (DriverDefinition.profilePoints): this file names no driver field.
 */
import { loadProfile, PROFILES_DIR, ProfileError } from '@kedge/device-profiles/load.ts';
import type { Profile } from '@kedge/device-profiles/schema.ts';
import { driverDefinition } from '../drivers/registry.ts';

type Obj = Record<string, unknown>;

export interface ProfileIssue {
  path: Array<string | number>;
  message: string;
}

/** Per device index: which profile it used and how many points came from the config file. */
export interface ProfileOrigin {
  profile: string;
  configPoints: number;
  /** Point ids taken from the profile only, in their position after the config points. */
  profileOnly: string[];
}

export interface ResolvedProfiles {
  data: unknown;
  issues: ProfileIssue[];
  origins: Map<number, ProfileOrigin>;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function describeProfileError(name: string, err: unknown): string {
  if (err instanceof ProfileError) {
    if (err.issues.length === 1 && err.issues[0]!.line === undefined) return err.issues[0]!.message;
    const first = err.issues.slice(0, 3).map((i) => `${err.source}:${i.line ?? '?'}:${i.column ?? 1} ${i.path}: ${i.message}`);
    const more = err.issues.length > 3 ? ` (and ${err.issues.length - 3} more)` : '';
    return `profile "${name}" is invalid: ${first.join('; ')}${more}`;
  }
  return `cannot load profile "${name}": ${(err as Error).message}`;
}

export function resolveProfiles(data: unknown, dir: string = PROFILES_DIR): ResolvedProfiles {
  const issues: ProfileIssue[] = [];
  const origins = new Map<number, ProfileOrigin>();
  if (!isObj(data) || !Array.isArray(data['devices'])) return { data, issues, origins };
  const devices = (data['devices'] as unknown[]).map((raw, i) => {
    // Only drivers that take register maps (their definition says which defaults a profile gives).
    const driver = isObj(raw) ? driverDefinition(String(raw['driver'])) : undefined;
    if (!isObj(raw) || raw['profile'] === undefined || !driver?.profileDefaults || !driver.profilePoints) return raw;
    const expand = driver.profilePoints;
    const name = raw['profile'];
    if (typeof name !== 'string') {
      issues.push({ path: ['devices', i, 'profile'], message: 'must be the name of a profile in device-profiles/profiles/' });
      return raw;
    }
    let profile: Profile;
    try {
      profile = loadProfile(name, dir);
    } catch (err) {
      issues.push({ path: ['devices', i, 'profile'], message: describeProfileError(name, err) });
      return raw;
    }
    const device: Obj = { ...raw };
    const proto = profile.protocol;
    const defaults: Obj = driver.profileDefaults(proto);
    for (const [k, v] of Object.entries(defaults)) if (v !== undefined && device[k] === undefined) device[k] = v;
    const fromProfile = new Map(profile.points.map((p) => [p.id, expand.point(p, profile, device)]));
    const configPoints = Array.isArray(raw['points']) ? (raw['points'] as unknown[]) : [];
    const merged = configPoints.map((p) => {
      if (!isObj(p) || typeof p['id'] !== 'string') return p;
      const base = fromProfile.get(p['id']);
      if (!base) return p;
      fromProfile.delete(p['id']);
      return expand.override(base, p);
    });
    const profileOnly = [...fromProfile.values()];
    device['points'] = [...merged, ...profileOnly];
    origins.set(i, { profile: name, configPoints: merged.length, profileOnly: profileOnly.map((p) => p['id'] as string) });
    return device;
  });
  return { data: { ...data, devices }, issues, origins };
}
