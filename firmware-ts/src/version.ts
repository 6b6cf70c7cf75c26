import { readFileSync } from 'node:fs';

/** The firmware version is the package version: one number to bump, served at input 20..22. */
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

function parse(version: string): { major: number; minor: number; patch: number } {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) throw new Error(`firmware-ts/package.json version "${version}" is not major.minor.patch`);
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

export const FIRMWARE_VERSION = parse(pkg.version);
