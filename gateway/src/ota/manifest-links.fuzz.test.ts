/**
 * The manifest's link check against the kernel: random sets of relative links (chains through
 * each other, `..`, `.`, loops) are made on a real file system, and the kernel's own
 * resolution (realpath) says whether each one stays inside the release. resolveInRelease()
 * must call a link inside exactly when the kernel does, so that no chain escapes and no honest
 * link is refused.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { resolveInRelease } from './manifest.ts';

const NAMES = ['a', 'b', 'c'];
/** Every plain path of up to this many components exists as a directory (where no link is). */
const DEPTH = 3;

type Verdict = 'inside' | 'outside' | 'unresolvable';

function kernelVerdict(root: string, path: string): Verdict | null {
  try {
    // .native: the C library's realpath(3), as the kernel walks. Node's JS realpathSync joins a
    // link's target to the path lexically (a/b/.. -> a), the very mistake this check is about.
    const real = realpathSync.native(join(root, ...path.split('/')));
    const rel = relative(realpathSync.native(root), real);
    return rel === '..' || rel.startsWith(`..${sep}`) ? 'outside' : 'inside';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') return 'unresolvable';
    return null; // ENOENT: a name the tree does not have; the case says nothing
  }
}

function ourVerdict(path: string, links: Map<string, string>): Verdict {
  try {
    resolveInRelease(path, links);
    return 'inside';
  } catch (err) {
    return /more than \d+ links/.test((err as Error).message) ? 'unresolvable' : 'outside';
  }
}

const component = fc.constantFrom(...NAMES);
const linkPath = fc.array(component, { minLength: 1, maxLength: 2 }).map((c) => c.join('/'));
const target = fc.array(fc.constantFrom(...NAMES, '..', '.'), { minLength: 1, maxLength: 4 }).map((c) => c.join('/'));
const linkSet = fc
  .uniqueArray(fc.tuple(linkPath, target), { minLength: 1, maxLength: 4, selector: ([p]) => p })
  // The manifest refuses anything below a link on its own; those sets are not about resolution.
  .filter((ls) => !ls.some(([p]) => ls.some(([q]) => p !== q && p.startsWith(`${q}/`))));

test('resolveInRelease agrees with the kernel on whether a link stays inside the release', () => {
  const base = mkdtempSync(join(tmpdir(), 'kedge-links-'));
  let run = 0;
  try {
    fc.assert(
      fc.property(linkSet, (ls) => {
        // The release sits one level down, with the same names around it, so an escape resolves too.
        const top = join(base, String(run++));
        const root = join(top, 'release');
        const isLink = (p: string) => ls.some(([l]) => l === p || p.startsWith(`${l}/`));
        const dirs = (prefix: string[]): void => {
          if (prefix.length === DEPTH) return;
          for (const n of NAMES) {
            const p = [...prefix, n];
            if (isLink(p.join('/'))) continue;
            mkdirSync(join(root, ...p), { recursive: true });
            mkdirSync(join(top, ...p), { recursive: true });
            dirs(p);
          }
        };
        mkdirSync(root, { recursive: true });
        dirs([]);
        for (const [p, t] of ls) symlinkSync(t, join(root, ...p.split('/')));
        const links = new Map(ls);
        for (const [p, t] of ls) {
          const kernel = kernelVerdict(root, p);
          if (kernel === null) continue;
          const ours = ourVerdict(p, links);
          if (kernel === 'inside') assert.equal(ours, 'inside', `${p} -> ${t} in ${JSON.stringify(ls)}: the kernel stays inside`);
          else assert.notEqual(ours, 'inside', `${p} -> ${t} in ${JSON.stringify(ls)}: the kernel says ${kernel}`);
        }
        rmSync(top, { recursive: true, force: true });
      }),
      { numRuns: 150 },
    );
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('the chains from the review: a/b -> .. is the root, c -> a/b/.. leaves it (kernel and check agree)', () => {
  const base = mkdtempSync(join(tmpdir(), 'kedge-links-'));
  try {
    const root = join(base, 'release');
    mkdirSync(join(root, 'a'), { recursive: true });
    symlinkSync('..', join(root, 'a', 'b'));
    symlinkSync('a/b/..', join(root, 'c'));
    const links = new Map([['a/b', '..'], ['c', 'a/b/..']]);
    assert.equal(kernelVerdict(root, 'a/b'), 'inside');
    assert.equal(ourVerdict('a/b', links), 'inside');
    assert.equal(kernelVerdict(root, 'c'), 'outside');
    assert.equal(ourVerdict('c', links), 'outside');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
