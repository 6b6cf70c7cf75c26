import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface FreshCopy {
  dir: string;
  remove(): void;
}

/**
 * What a fresh clone of the repository would hold, without a commit: the files git tracks or
 * would track (`git ls-files --cached --others --exclude-standard`), copied, so a command that
 * relies on an ignored or generated file (a local config, a data directory) fails here as it
 * would for a new user. node_modules is the tree's, linked entry by entry, except the
 * workspaces' own links, which point into the copy (else `@kedge/...` imports would run the
 * original tree's files).
 */
export function freshCopy(root: string): FreshCopy {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-fresh-'));
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
  for (const f of files) {
    const to = join(dir, f);
    mkdirSync(dirname(to), { recursive: true });
    try {
      copyFileSync(join(root, f), to);
    } catch (err) {
      // Listed by git but deleted in the work tree (not yet committed as deleted): a clone of
      // the next commit would not have it either.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  const workspaces = new Map<string, string>([
    ['@kedge/cloud-sync', 'cloud-sync'],
    ['@kedge/device-profiles', 'device-profiles'],
    ['@kedge/firmware-ts', 'firmware-ts'],
    ['@kedge/gateway', 'gateway'],
    ['@kedge/scripts', 'scripts'],
    ['node-red-contrib-kedge', 'node-red-contrib-kedge'],
  ]);
  const modules = join(dir, 'node_modules');
  mkdirSync(join(modules, '@kedge'), { recursive: true });
  for (const entry of readdirSync(join(root, 'node_modules'))) {
    if (entry === '@kedge' || workspaces.has(entry)) continue;
    symlinkSync(join(root, 'node_modules', entry), join(modules, entry));
  }
  for (const entry of readdirSync(join(root, 'node_modules', '@kedge'))) {
    const target = workspaces.get(`@kedge/${entry}`);
    symlinkSync(target ? join(dir, target) : join(root, 'node_modules', '@kedge', entry), join(modules, '@kedge', entry));
  }
  symlinkSync(join(dir, 'node-red-contrib-kedge'), join(modules, 'node-red-contrib-kedge'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
