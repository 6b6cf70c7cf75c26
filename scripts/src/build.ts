/**
 * `npm run build`: the production build. Bundles the gateway daemon, the OTA launcher and the
 * ingest CLI into dist/ as ESM for Node 20, so a box runs compiled JavaScript instead of
 * TypeScript through tsx (~70 MB of RSS). What stays external and why: build/README.md.
 */
import { cpSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import type { DriverDefinition } from '@kedge/gateway/drivers/registry.ts';
import type { SinkDefinition } from '@kedge/cloud-sync/north/registry.ts';
import { ASSETS_DIR, assetUrls } from './build/asset-urls.ts';
import { assertOneByteSources } from './build/one-byte-source.ts';
import { lazyRequires } from './build/lazy-requires.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** dist/<name>.mjs -> source entry, relative to the repo root. */
export const ENTRIES = {
  gateway: 'gateway/src/main.ts',
  'kedge-boot': 'gateway/src/ota/boot.ts',
  ingest: 'cloud-sync/src/ingest/main.ts',
} as const;

/**
 * Resolved from node_modules at runtime. Native addons cannot be bundled; the others read
 * their own files relative to __dirname (swagger-ui's static assets), which would point into
 * dist/ once inlined. These are the gateway's and the ingest's own (the reading log, the API
 * docs; pg is only loaded by the ingest's --pg store); a driver's or a sink's library is named
 * by its definition (`externals`: serialport for Modbus, node-opcua for OPC UA), so a new
 * driver with a native library needs no change here.
 */
export const BASE_EXTERNAL = ['better-sqlite3', '@fastify/swagger-ui', 'pg', 'pg-native'] as const;

/** The build's externals: the base ones and those of every driver and sink given, each once, in that order. */
export function externals(drivers: ReadonlyArray<Pick<DriverDefinition, 'externals'>>, sinks: ReadonlyArray<Pick<SinkDefinition, 'externals'>>): string[] {
  return [...new Set([...BASE_EXTERNAL, ...drivers.flatMap((d) => d.externals ?? []), ...sinks.flatMap((s) => s.externals ?? [])])];
}

/**
 * The externals of the registered drivers and sinks (drivers/registry.ts, north/registry.ts).
 * The registries are imported only when a build runs: the test runner imports this file for
 * its bundles, and loading every driver definition there would cost each run a second.
 */
export async function registeredExternals(): Promise<string[]> {
  const [{ DRIVERS }, { SINKS }] = await Promise.all([import('@kedge/gateway/drivers/registry.ts'), import('@kedge/cloud-sync/north/registry.ts')]);
  return externals(DRIVERS, SINKS);
}

/** CommonJS libraries inside an ESM bundle still call require() for node's builtins. */
const REQUIRE_SHIM = "import { createRequire as __kedgeCreateRequire } from 'node:module';\nconst require = __kedgeCreateRequire(import.meta.url);";

export interface BuildResult {
  outDir: string;
  /** Output files (relative to outDir) with their size in bytes. */
  outputs: Record<string, number>;
  /** Runtime files copied under outDir/assets, relative to the repo root. */
  assets: string[];
}

const notTestFile = (src: string) => !/\.test\.ts$/.test(src) && !src.split(/[\\/]/).includes('testcases');

/**
 * Merges the UI's catalogs as the web server does at its start (gateway/src/web/i18n.ts): a
 * driver's or sink's text that clashes with another's or with the base files fails the build,
 * not a box's web UI.
 */
export async function checkUiCatalogs(): Promise<void> {
  (await import('@kedge/gateway/web/i18n.ts')).uiCatalogs();
}

export async function buildDist(o: { root?: string; outDir?: string; minify?: boolean; checkCatalogs?: () => unknown } = {}): Promise<BuildResult> {
  const root = resolve(o.root ?? ROOT);
  const outDir = resolve(o.outDir ?? join(root, 'dist'));
  // Before anything is removed or written: a failed check leaves the previous dist/ as it was.
  await (o.checkCatalogs ?? checkUiCatalogs)();
  rmSync(outDir, { recursive: true, force: true });
  const minify = o.minify ?? process.env.KEDGE_BUILD_MINIFY !== '0';
  const assets = new Set<string>();
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, src]) => [name, join(root, src)])),
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Dynamic imports (the OPC UA driver) become chunks loaded only when a device needs them.
    splitting: true,
    // Chunks must sit directly in outDir: the asset URLs are rewritten relative to it.
    chunkNames: '[name]-[hash]',
    external: await registeredExternals(),
    banner: { js: REQUIRE_SHIM },
    // The source text of every loaded module stays in the heap: minified, it takes half the RSS.
    minify,
    keepNames: true,
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
    // serialport, mqtt's WebSocket and SOCKS parts run only when used (build/lazy-requires.ts).
    plugins: [assetUrls(root, assets), lazyRequires()],
  });
  for (const rel of assets) {
    const dest = join(outDir, ASSETS_DIR, rel);
    mkdirSync(join(dest, '..'), { recursive: true });
    cpSync(join(root, rel), dest, { recursive: statSync(join(root, rel)).isDirectory(), filter: notTestFile });
  }
  // What went where (esbuild's analyzer format): the first thing to read when RSS grows.
  writeFileSync(join(outDir, 'meta.json'), JSON.stringify(result.metafile));
  // A chunk with one character above U+00FF costs twice its size in every box's heap. Only the
  // minified (production) build: unminified, the comments (Russian, dashes) stay in the chunks.
  if (minify) assertOneByteSources(Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.mjs')).map((f) => [f, readFileSync(resolve(root, f), 'utf8')]));
  const outputs: Record<string, number> = {};
  for (const [file, meta] of Object.entries(result.metafile.outputs)) outputs[file.slice(file.lastIndexOf('/') + 1)] = meta.bytes;
  return { outDir, outputs, assets: [...assets].sort() };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await buildDist();
  const js = Object.entries(r.outputs).filter(([f]) => f.endsWith('.mjs'));
  const kb = (n: number) => `${Math.round(n / 1024)} KB`;
  for (const name of Object.keys(ENTRIES)) process.stdout.write(`dist/${name}.mjs  ${kb(r.outputs[`${name}.mjs`] ?? 0)}\n`);
  process.stdout.write(`${js.length - Object.keys(ENTRIES).length} shared/lazy chunks, ${kb(js.reduce((s, [, b]) => s + b, 0))} of JavaScript in ${r.outDir}\n`);
  process.stdout.write(`assets: ${r.assets.join(', ')}\n`);
}
