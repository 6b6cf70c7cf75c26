import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshCopy, workspacePackages } from './fresh-copy.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

test('every workspace of the root package.json is found, by its own package name', () => {
  const found = workspacePackages(ROOT);
  const { workspaces } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
  assert.deepEqual([...found.values()].sort(), [...workspaces].sort());
  assert.equal(found.get('@kedge/testkit'), 'testkit', 'the test kit is a workspace like the others');
});

test('in a fresh copy every workspace package resolves into the copy, the other modules into the tree', (t) => {
  const copy = freshCopy(ROOT);
  t.after(() => copy.remove());
  const inCopy = realpathSync(copy.dir);
  for (const [name, folder] of workspacePackages(ROOT)) {
    assert.equal(realpathSync(join(copy.dir, 'node_modules', name)), join(inCopy, folder), `${name} must run the copy's files, not the original tree's`);
  }
  assert.equal(realpathSync(join(copy.dir, 'node_modules', 'zod')), realpathSync(join(ROOT, 'node_modules', 'zod')));
  assert.equal(realpathSync(join(copy.dir, 'node_modules', '@types', 'node')), realpathSync(join(ROOT, 'node_modules', '@types', 'node')));
});
