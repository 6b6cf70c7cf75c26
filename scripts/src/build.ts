/**
 * `npm run build`: the production build. Bundles the gateway daemon, the OTA launcher and the
 * ingest CLI into dist/ as ESM for Node 20, so a box runs compiled JavaScript instead of
 * TypeScript through tsx (~70 MB of RSS). What stays external and why: build/README.md.
 */
import { cpSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { ASSETS_DIR, assetUrls } from './build/asset-urls.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** dist/<name>.mjs -> source entry, relative to the repo root. */
export const ENTRIES = {
  gateway: 'gateway/src/main.ts',
  'kedge-boot': 'gateway/src/ota/boot.ts',
  ingest: 'cloud-sync/src/ingest/main.ts',
} as const;

/**
 * Resolved from node_modules at runtime. Native addons cannot be bundled; the others read
 * their own files relative to __dirname (node-opcua's nodesets, swagger-ui's static assets),
 * which would point into dist/ once inlined. pg is only loaded by the ingest's --pg store.
 */
export const EXTERNAL = [
  'better-sqlite3',
  'serialport',
  '@serialport/*',
  'node-opcua',
  'node-opcua-*',
  '@fastify/swagger-ui',
  'pg',
  'pg-native',
];

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

export async function buildDist(o: { root?: string; outDir?: string; minify?: boolean } = {}): Promise<BuildResult> {
  const root = resolve(o.root ?? ROOT);
  const outDir = resolve(o.outDir ?? join(root, 'dist'));
  rmSync(outDir, { recursive: true, force: true });
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
    external: EXTERNAL,
    banner: { js: REQUIRE_SHIM },
    // The source text of every loaded module stays in the heap: minified, it takes half the RSS.
    minify: o.minify ?? process.env.KEDGE_BUILD_MINIFY !== '0',
    keepNames: true,
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
    plugins: [assetUrls(root, assets)],
  });
  for (const rel of assets) {
    const dest = join(outDir, ASSETS_DIR, rel);
    mkdirSync(join(dest, '..'), { recursive: true });
    cpSync(join(root, rel), dest, { recursive: statSync(join(root, rel)).isDirectory(), filter: notTestFile });
  }
  // What went where (esbuild's analyzer format): the first thing to read when RSS grows.
  writeFileSync(join(outDir, 'meta.json'), JSON.stringify(result.metafile));
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
