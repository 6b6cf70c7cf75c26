import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
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
  const workspaces = workspacePackages(root);
  const modules = join(dir, 'node_modules');
  mkdirSync(modules, { recursive: true });
  for (const entry of readdirSync(join(root, 'node_modules'))) {
    if (!entry.startsWith('@')) {
      if (!workspaces.has(entry)) symlinkSync(join(root, 'node_modules', entry), join(modules, entry));
      continue;
    }
    // A scope folder (@kedge, @types, ...): entry by entry, so a workspace in it can be swapped.
    mkdirSync(join(modules, entry));
    for (const name of readdirSync(join(root, 'node_modules', entry))) {
      if (!workspaces.has(`${entry}/${name}`)) symlinkSync(join(root, 'node_modules', entry, name), join(modules, entry, name));
    }
  }
  for (const [name, folder] of workspaces) {
    mkdirSync(dirname(join(modules, name)), { recursive: true });
    symlinkSync(join(dir, folder), join(modules, name));
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Package name -> folder of every workspace of the root package.json (`workspaces`, each
 * folder's package.json `name`; a `folder/*` entry stands for each folder in it that has a
 * package.json), so a workspace added to the tree is linked into the copy without a list here
 * to keep in step.
 */
export function workspacePackages(root: string): Map<string, string> {
  const { workspaces = [] } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces?: string[] };
  const folders = workspaces.flatMap((w) => {
    if (!w.endsWith('/*')) return [w];
    const parent = w.slice(0, -2);
    return readdirSync(join(root, parent), { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(join(root, parent, e.name, 'package.json')))
      .map((e) => join(parent, e.name));
  });
  return new Map(
    folders.map((folder) => {
      const { name } = JSON.parse(readFileSync(join(root, folder, 'package.json'), 'utf8')) as { name?: string };
      if (!name) throw new Error(`workspace ${folder}: its package.json has no name`);
      return [name, folder] as const;
    }),
  );
}
