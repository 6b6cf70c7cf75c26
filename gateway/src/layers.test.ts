/**
 * The arrows between the gateway's folders follow the data flow (issue 16): the south (drivers,
 * scheduler) does not reach into the north's sinks for a helper, and the config and the
 * center's commands do not depend on the web layer that is one of their callers. Read from
 * the source, so a new import that points the wrong way fails here, naming the file.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'node:test';

const SRC = fileURLToPath(new URL('./', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'ui' ? [] : sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

/** Every import of a file (static, type-only, re-export, dynamic); relative ones resolved to paths under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g)].map((m) => m[1] ?? m[2]!);
  return specs.map((s) => (s.startsWith('.') ? relative(SRC, resolve(dirname(file), s)) : s));
}

const GRAPH = new Map(sources(SRC).map((f) => [relative(SRC, f), importsOf(f)]));

function offenders(from: (file: string) => boolean, to: (spec: string) => boolean): string[] {
  return [...GRAPH].flatMap(([f, deps]) => (from(f) ? deps.filter(to).map((d) => `${f} -> ${d}`) : []));
}

test('the import reader sees what these checks rely on', () => {
  assert.ok(GRAPH.get('commands/index.ts')?.includes('config/config-store.ts'), 'a relative import, resolved');
  assert.ok(GRAPH.get('scheduler/scheduler.ts')?.includes('@kedge/cloud-sync/backoff.ts'), 'a package import, kept as written');
});

test('the south (drivers/, scheduler/) takes nothing from the north: no import of cloud-sync north/', () => {
  const south = (f: string) => f.startsWith('drivers/') || f.startsWith('scheduler/');
  assert.deepEqual(offenders(south, (d) => d.startsWith('@kedge/cloud-sync/north/')), []);
});

test('config/ and commands/ do not depend on the web layer (web/ calls them, not the other way)', () => {
  const below = (f: string) => f.startsWith('config/') || f.startsWith('commands/');
  assert.deepEqual(offenders(below, (d) => d.startsWith('web/')), []);
});
