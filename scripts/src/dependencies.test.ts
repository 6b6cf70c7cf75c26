/**
 * The workspaces' package.json files say what the code imports, and the arrows between kedge
 * packages follow the data flow (south -> pipeline -> log -> north -> center), never back up:
 *
 * - every package a file imports is declared by its workspace; a production file's imports are
 *   `dependencies`, not `devDependencies` (an install with --omit=dev must run the daemon);
 * - a declared dependency is imported somewhere (else it is dead weight on every box), and one
 *   imported only by tests is a devDependency;
 * - @kedge/testkit depends on no kedge package; no product package depends on @kedge/scripts
 *   (the tooling depends on the products, not the other way round); cloud-sync (north, center)
 *   does not depend on the gateway; device-profiles depends on no product package.
 *
 * Imports are read from the sources (static, dynamic and require), so this fails on the line
 * that adds an undeclared import, not on a fresh clone's first run.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  workspaces?: string[];
}

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Manifest;
const root = readJson(join(ROOT, 'package.json'));
const workspaces = (root.workspaces ?? []).map((dir) => ({ dir, pkg: readJson(join(ROOT, dir, 'package.json')) }));

/** Kedge packages that are the product (what ships to a box or a center); the rest is tooling. */
const PRODUCT = ['@kedge/gateway', '@kedge/cloud-sync', '@kedge/device-profiles', '@kedge/firmware-ts', 'node-red-contrib-kedge'];

/** Declared on purpose without an import of their own, each with the reason. */
const NOT_IMPORTED: Record<string, string> = {
  'node-red': "the host that loads node-red-contrib-kedge's nodes",
  // modbus-serial loads it for its RTU ports but declares it optional: the RTU driver and the
  // firmware's RTU slave need it installed, so they make it a dependency of their own.
  serialport: 'required at run time by modbus-serial (an optional dependency there)',
};
const isTypesOnly = (name: string) => name.startsWith('@types/');

/** A meta package that brings its family: node-opcua installs every node-opcua-* the drivers import. */
const FAMILIES: Array<[string, RegExp]> = [['node-opcua', /^node-opcua-/]];
const familyOf = (name: string) => FAMILIES.find(([, re]) => re.test(name))?.[0];

/**
 * Production files importing a devDependency on purpose. gateway/bin falls back to the
 * TypeScript sources through tsx (root devDependency) only when no `npm run build` bundle exists.
 */
const DEV_IMPORT_ALLOWED = new Set(['@kedge/gateway tsx']);

/** The root's devDependencies (TypeScript, tsx, esbuild) are the monorepo's tools, there for every workspace. */
const ROOT_TOOLS = new Set(Object.keys(root.devDependencies ?? {}));

/** The tooling workspace is never installed without its devDependencies: it has no production/dev line to keep. */
const NO_DEV_LINE = new Set(['@kedge/scripts', '@kedge/testkit']);

/** Test code: test files, their fixtures and helpers, and the whole test kit. */
function isTestFile(dir: string, rel: string): boolean {
  if (dir === 'testkit') return true;
  return (
    /\.(test|e2e\.test|chaos\.test|daemon\.test|fuzz\.test)\.[cm]?[jt]s$/.test(rel) ||
    /(^|\/)(test|fixtures|testcases)\//.test(rel) ||
    /(^|\/)(testing|test-fixture|test-support|launcher-fixture|test-host|test-timing|arbitrary|harness)\.ts$/.test(rel) ||
    /(^|\/)chaos\//.test(rel) ||
    /-contract\.ts$/.test(rel)
  );
}

function sourceFiles(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(path, base));
    else if (/\.([cm]?js|[cm]?ts)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const BUILTINS = new Set(builtinModules);

/** The package a bare specifier names ('@scope/name/deep' -> '@scope/name'), or null for relative, node: and builtins. */
export function packageOf(spec: string): string | null {
  if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:') || spec.startsWith('#')) return null;
  const parts = spec.split('/');
  const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  return BUILTINS.has(name) ? null : name;
}

/** Specifiers of every import, export-from, dynamic import and require in `text` (comments stripped). */
export function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const specs: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\s[^'"`;]*?\sfrom\s*['"]([^'"]+)['"]/gm,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire(?:\.resolve)?\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) specs.push(m[1]!);
  return specs;
}

interface Use {
  file: string;
  test: boolean;
}

/** Per workspace: imported package -> the files importing it. */
function usesOf(dir: string): Map<string, Use[]> {
  const uses = new Map<string, Use[]>();
  for (const file of sourceFiles(dir)) {
    const rel = relative(dir, file);
    for (const spec of importsOf(readFileSync(join(ROOT, file), 'utf8'))) {
      const name = packageOf(spec);
      if (!name) continue;
      const list = uses.get(name) ?? [];
      list.push({ file, test: isTestFile(dir, rel) });
      uses.set(name, list);
    }
  }
  return uses;
}

const USES = new Map(workspaces.map((w) => [w.dir, usesOf(w.dir)]));
const declared = (pkg: Manifest) => ({ ...pkg.peerDependencies, ...pkg.dependencies, ...pkg.devDependencies });
const firstFiles = (uses: Use[]) => [...new Set(uses.map((u) => u.file))].slice(0, 3).join(', ');

test('the import reader finds static, dynamic and require imports and ignores comments and relative paths', () => {
  const text = [
    "import test from 'node:test';",
    "import { a } from '@kedge/testkit/wait.ts';",
    "import type { B } from 'zod';",
    "export { c } from 'mqtt';",
    "import 'pino';",
    "const { d } = await import('@kedge/scripts/sim/x.ts');",
    `const e = ${'req'}uire('sparkplug-payload/lib/x');`,
    "// import { f } from 'left-pad';",
    "/* import { g } from 'right-pad'; */",
    "import { h } from './local.ts';",
    "import { i } from 'fs';",
  ].join('\n');
  assert.deepEqual(importsOf(text).map(packageOf).filter(Boolean).sort(), ['@kedge/scripts', '@kedge/testkit', 'mqtt', 'pino', 'sparkplug-payload', 'zod']);
});

for (const { dir, pkg } of workspaces) {
  test(`${pkg.name}: every package it imports is declared, production imports as dependencies`, () => {
    const all = declared(pkg);
    const problems: string[] = [];
    for (const [imported, uses] of USES.get(dir)!) {
      if (imported === pkg.name) continue;
      const family = familyOf(imported);
      const name = family && family in all ? family : imported;
      const tool = ROOT_TOOLS.has(name) && !(name in all);
      if (!(name in all) && !tool) problems.push(`${name} is imported (${firstFiles(uses)}) but not declared in ${dir}/package.json`);
      else if (NO_DEV_LINE.has(pkg.name) || DEV_IMPORT_ALLOWED.has(`${pkg.name} ${name}`)) continue;
      else if (!(name in (pkg.dependencies ?? {})) && !(name in (pkg.peerDependencies ?? {})) && uses.some((u) => !u.test)) {
        problems.push(`${name} is a devDependency but production code imports it (${firstFiles(uses.filter((u) => !u.test))}): an install with --omit=dev breaks`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test(`${pkg.name}: every declared dependency is imported, and one only tests import is a devDependency`, () => {
    const uses = USES.get(dir)!;
    const problems: string[] = [];
    for (const name of Object.keys(declared(pkg))) {
      if (isTypesOnly(name) || name in NOT_IMPORTED) continue;
      const members = FAMILIES.find(([f]) => f === name)?.[1];
      const u = [...uses].filter(([n]) => n === name || (members?.test(n) ?? false)).flatMap(([, list]) => list);
      if (u.length === 0) problems.push(`${name} is declared in ${dir}/package.json but nothing in ${dir}/ imports it`);
      else if (name in (pkg.dependencies ?? {}) && u.every((x) => x.test) && !NO_DEV_LINE.has(pkg.name)) {
        problems.push(`${name} is a production dependency but only tests import it (${firstFiles(u)}): move it to devDependencies`);
      }
    }
    assert.deepEqual(problems, []);
  });
}

test('the arrows between kedge packages follow the data flow: no product depends on scripts, testkit on nothing of kedge, north never on the gateway', () => {
  const problems: string[] = [];
  const kedgeDeps = (pkg: Manifest) => Object.keys(declared(pkg)).filter((n) => n.startsWith('@kedge/') || n === 'node-red-contrib-kedge');
  for (const { dir, pkg } of workspaces) {
    const deps = kedgeDeps(pkg);
    const imported = [...USES.get(dir)!.keys()].filter((n) => n.startsWith('@kedge/') && n !== pkg.name);
    const both = [...new Set([...deps, ...imported])];
    const forbid = (names: string[], why: string) => {
      for (const n of both.filter((b) => names.includes(b))) problems.push(`${pkg.name} -> ${n}: ${why}`);
    };
    if (pkg.name === '@kedge/testkit') forbid(both, 'the test kit depends on no kedge package');
    if (PRODUCT.includes(pkg.name)) forbid(['@kedge/scripts'], 'a product package never depends on the tooling, not even for tests');
    if (pkg.name === '@kedge/cloud-sync') forbid(['@kedge/gateway', '@kedge/firmware-ts', 'node-red-contrib-kedge'], 'north and the center never point back up to the gateway');
    if (pkg.name === '@kedge/device-profiles') forbid(PRODUCT, 'profiles are data every package reads; they depend on no product package');
  }
  assert.deepEqual(problems, []);
});
